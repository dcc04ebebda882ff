"""Stock in the table (beside the orders):

  SKU#<sku> / SKU                  the SKU exists
  SKU#<sku> / LOC#<location>       stock level: on_hand, reserved, safety_stock, available, inbound, version
  SKU#<sku> / H#<location>#<ver>   its history: InventoryAdjusted with the reason, published like an order's
  LOCATIONS / <location_id>        fulfilment locations, one partition so a Query lists them
  <KIND>#<id> / <KIND>             an inventory document (a purchase order, a transfer, a snapshot):
                                   JSON doc and version, written with the stock it moves

Reservations and shipments move `reserved` (and `available`) with update expressions that do not
read first; every other change reads the item and writes it conditional on its version and on
`reserved` being what was read, so neither kind ever overwrites the other.
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from oms.domain.events import DomainEvent
from oms.domain.inventory import Location, StockChange, StockLevel
from oms.services.ports import ConcurrentModification, Document, DuplicateReference, StockCommit

from .dynamodb_models import (
    BinItem,
    DemandItem,
    HistoryItem,
    HoldingItem,
    LoadItem,
    LocationItem,
    MovementItem,
    PickQueueItem,
    RefItem,
    StockItem,
    Transaction,
    _Item,
    failed_conditions,
    history_record,
)


class _Inbound(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class DocItem(_Item):
    doc = JSONAttribute()
    version = VersionAttribute()
    status = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)  # see Document.index
    gsi3sk = UnicodeAttribute(null=True)
    inbound = _Inbound()


def _level(sku: str, item: StockItem) -> StockLevel:
    return StockLevel(sku, item.sk.removeprefix("LOC#"), int(item.on_hand), int(item.reserved),
                      int(item.safety_stock), int(item.inbound or 0), int(item.version), item.moved_at)


def read_level(sku: str, location_id: str) -> StockLevel:
    """The item as it is now (zeros, version 0, when it was never stocked)."""
    try:
        return _level(sku, StockItem.get(f"SKU#{sku}", f"LOC#{location_id}", consistent_read=True))
    except DoesNotExist:
        return StockLevel(sku, location_id, 0, 0, 0)


MOVEMENT_DAYS = 180  # how far back a warehouse count can be brought up to date
RECOUNTS = ("count", "reconciliation")  # corrections of the count, not goods that came or went


def movement(sku: str, location_id: str, delta: int, reason: str, reference: str | None, now: str) -> MovementItem:
    from datetime import datetime

    expires = int(datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp()) + MOVEMENT_DAYS * 86400
    return MovementItem(f"SKU#{sku}", f"MV#{location_id}#{now}#{reference or '-'}", delta=delta, reason=reason,
                        expires_at=expires)


def write_stock(tx, change: StockChange, now: str, tags: list[str]) -> None:
    """The item with its new counts, conditional on what was read, its InventoryAdjusted, and
    the movement of on hand (if any)."""
    before, sku, location = change.before, change.before.sku, change.before.location_id
    version = before.version + 1
    moved = change.on_hand != before.on_hand
    tx.save(StockItem(f"SKU#{sku}", f"LOC#{location}", on_hand=change.on_hand, reserved=before.reserved,
                      safety_stock=change.safety_stock, inbound=change.inbound,
                      available=change.on_hand - before.reserved - change.safety_stock, version=version,
                      moved_at=now if moved else before.moved_at, gsi2pk=f"STOCK#{location}", gsi2sk=sku),
            # Shipments move on_hand and reserved without a version: all three must be as read.
            condition=((StockItem.version == before.version) & (StockItem.reserved == before.reserved)
                       & (StockItem.on_hand == before.on_hand))
            if before.version else StockItem.pk.does_not_exist())
    tags.append("stock")
    if moved:
        tx.save(movement(sku, location, change.on_hand - before.on_hand, change.reason, change.reference, now))
        tags.append("stock")
    event = DomainEvent("InventoryAdjusted", {
        "sku": sku, "location_id": location, "on_hand": change.on_hand, "safety_stock": change.safety_stock,
        "previous_on_hand": before.on_hand, "previous_safety_stock": before.safety_stock,
        "reserved": before.reserved, "available": max(0, change.on_hand - before.reserved - change.safety_stock),
        "inbound": change.inbound, "reason": change.reason, "reference": change.reference})
    tx.save(HistoryItem(f"SKU#{sku}", f"H#{location}#{version:08d}",
                        **history_record(f"{sku}@{location}", version, now, event)))
    tags.append("stock")
    if not before.version:
        tx.save(StockItem(f"SKU#{sku}", "SKU"))  # a SKU stocked for the first time now exists
        tags.append("stock")


class InventoryTable:
    """The InventoryStore half of DynamoStore."""

    def known_skus(self, skus: set[str]) -> set[str]:
        if not skus:
            return set()
        keys = [(f"SKU#{sku}", "SKU") for sku in skus]
        return {item.pk.removeprefix("SKU#") for item in StockItem.batch_get(keys, attributes_to_get=["pk", "sk"])}

    def stock_levels(self, skus: set[str]) -> list[StockLevel]:
        return [_level(sku, item) for sku in sorted(skus)
                for item in StockItem.query(f"SKU#{sku}", StockItem.sk.startswith("LOC#"), consistent_read=True)]

    def stock_level(self, sku: str, location_id: str) -> StockLevel:
        return read_level(sku, location_id)

    def stock_at(self, location_id: str) -> list[StockLevel]:
        """Every stock item of a location (the location's index, a page at a time)."""
        return [_level(item.gsi2sk, item) for item in StockItem.by_location.query(f"STOCK#{location_id}")]

    def expected_by(self, locations: list[str], skus: set[str], moment: str) -> dict[str, int]:
        """Units of these SKUs due at these locations by `moment`: what open purchase orders
        still expect, and transfers on their way."""
        expected: dict[str, int] = {}
        for location_id in locations:
            for item in DocItem.inbound.query(f"INBOUND#{location_id}", DocItem.gsi3sk <= f"{moment}#~"):
                doc = item.doc
                lines = ([(line["sku"], line["quantity"] - line["received"]) for line in doc["lines"]]
                         if item.sk == "PO" else [(doc["sku"], doc["quantity"])])
                for sku, units in lines:
                    if sku in skus and units > 0:
                        expected[sku] = expected.get(sku, 0) + units
        return expected

    def daily_demand(self, sku: str, location_id: str, first_day: str, last_day: str) -> dict[str, int]:
        """Units ordered per day (YYYY-MM-DD) between the two days, both included."""
        return {item.sk: int(item.units) for item in DemandItem.query(
            f"DEMAND#{sku}@{location_id}", DemandItem.sk.between(first_day, last_day))}

    def documents_listed(self, partition: str) -> list[tuple[dict, int]]:
        """The documents listed under a partition of the documents' index (see Document.index)."""
        return [(item.doc, int(item.version)) for item in DocItem.inbound.query(partition)]

    def holders(self, location_id: str, sku: str) -> list[tuple[str, int]]:
        """The orders holding the SKU at the location: [(order id, units)], newest order first."""
        found = [(item.order_id, int(item.quantity)) for item in HoldingItem.query(
            f"ALLOC#{location_id}", HoldingItem.sk.startswith(f"{sku}#"), consistent_read=True)]
        return sorted(found, key=lambda held: held[0], reverse=True)  # order ids are time-ordered

    def held_at(self, location_id: str) -> dict[str, int]:
        """What orders hold at the location, by SKU, read a page at a time."""
        held: dict[str, int] = {}
        for item in HoldingItem.query(f"ALLOC#{location_id}", consistent_read=True):
            sku = item.sk.rsplit("#", 1)[0]
            held[sku] = held.get(sku, 0) + int(item.quantity)
        return held

    def repair_reserved(self, before: StockLevel, reserved: int) -> None:
        """Set `reserved` to what orders hold, if nothing moved it since it was read, with
        InventoryDriftRepaired in the item's history."""
        version = before.version + 1
        event = DomainEvent("InventoryDriftRepaired", {
            "sku": before.sku, "location_id": before.location_id, "reserved_before": before.reserved,
            "reserved_after": reserved, "on_hand": before.on_hand})
        try:
            with Transaction(connection=self._connection) as tx:
                tx.update(StockItem(f"SKU#{before.sku}", f"LOC#{before.location_id}"),
                          actions=[StockItem.reserved.set(reserved), StockItem.version.set(version),
                                   StockItem.available.set(before.on_hand - reserved - before.safety_stock)],
                          condition=(StockItem.version == before.version) & (StockItem.reserved == before.reserved)
                          & (StockItem.on_hand == before.on_hand))
                tx.save(HistoryItem(f"SKU#{before.sku}", f"H#{before.location_id}#{version:08d}",
                                    **history_record(f"{before.sku}@{before.location_id}", version,
                                                     self._clock.now(), event)))
        except TransactWriteError as error:
            raise ConcurrentModification(f"stock {before.sku}@{before.location_id}") from error

    def moved_since(self, sku: str, location_id: str, moment: str, but: str | None = None) -> tuple[int, bool]:
        """What moved on hand at the location after `moment` (leaving out what `but` moved: a
        count being applied again): (the net of the goods that came and went, whether it was
        counted again since: a newer count is newer truth)."""
        moves = [item for item in MovementItem.query(f"SKU#{sku}", MovementItem.sk > f"MV#{location_id}#{moment}",
                                                     consistent_read=True)
                 if item.sk.startswith(f"MV#{location_id}#") and not (but and item.sk.endswith(f"#{but}"))]
        return (sum(int(m.delta) for m in moves if m.reason not in RECOUNTS),
                any(m.reason in RECOUNTS for m in moves))

    def set_stock(self, sku: str, location_id: str, on_hand: int, safety_stock: int, now: str) -> StockLevel:
        """Absolute count: read, then write conditional on reservations not having moved."""
        for _ in range(20):
            before = self.stock_level(sku, location_id)
            try:
                self.commit_stock(StockCommit([StockChange(before, on_hand, before.inbound, safety_stock, "count")]))
            except ConcurrentModification:
                continue
            return StockLevel(sku, location_id, on_hand, before.reserved, safety_stock, before.inbound)
        raise ConcurrentModification(f"stock {sku}@{location_id}")

    def commit_stock(self, change: StockCommit) -> None:
        """Stock changes, the documents that cause them and their guards, in one transaction."""
        tags: list[str] = []
        now = self._clock.now()
        try:
            with Transaction(connection=self._connection) as tx:
                for stock in change.changes:
                    write_stock(tx, stock, now, tags)
                for document in change.documents:
                    self._write_document(tx, document, now, tags)
                for guard in change.guards:
                    tx.save(RefItem(f"GUARD#{guard}", "REF", order_id=""), condition=RefItem.pk.does_not_exist())
                    tags.append("duplicate")
        except TransactWriteError as error:
            if error.cause_response_code == "ValidationException":
                raise ValueError(f"the change is too large to write at once: {error.cause_response_message}") from None
            if "duplicate" in failed_conditions(error, tags, tx):
                raise DuplicateReference(change.guards[0] if change.guards else "document") from error
            raise ConcurrentModification("stock") from error

    @staticmethod
    def _write_document(tx, document: Document, now: str, tags: list[str]) -> None:
        key = f"{document.kind}#{document.doc_id}"
        history = int(document.doc.get("history_length", 0))
        gsi3pk, gsi3sk = document.index or (None, None)
        item = DocItem(key, document.kind, doc={**document.doc, "history_length": history + len(document.events)},
                       status=document.doc.get("status"), gsi3pk=gsi3pk, gsi3sk=gsi3sk)
        if document.version is None:
            tx.save(item, condition=DocItem.pk.does_not_exist())
            tags.append("duplicate")
        else:
            item.version = document.version
            tx.save(item)
            tags.append("document")
        for n, event in enumerate(document.events, start=history + 1):
            tx.save(HistoryItem(key, f"H#{n:08d}", **history_record(document.doc_id, n, now, event)),
                    condition=HistoryItem.pk.does_not_exist())
            tags.append("document")

    def load_document(self, kind: str, doc_id: str) -> tuple[dict, int] | None:
        """(the JSON, its version), or None."""
        try:
            item = DocItem.get(f"{kind}#{doc_id}", kind, consistent_read=True)
        except DoesNotExist:
            return None
        return item.doc, int(item.version)

    def stock_history(self, sku: str, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
        """The SKU's InventoryAdjusted records, by location then time; the cursor is the last key read."""
        if cursor and (not cursor.startswith("H#") or len(cursor) > 300):
            raise ValueError("not a cursor of this list")
        start = {"pk": {"S": f"SKU#{sku}"}, "sk": {"S": cursor}} if cursor else None
        page = HistoryItem.query(f"SKU#{sku}", HistoryItem.sk.startswith("H#"), limit=limit,
                                 last_evaluated_key=start, consistent_read=True)
        records = [{"occurred_at": i.occurred_at, "event_type": i.event_type, **i.data} for i in page]
        last = page.last_evaluated_key
        return records, last["sk"]["S"] if last else None

    def locations(self) -> list[Location]:
        return [Location(i.sk, i.name, i.type, int(i.priority), i.address,
                         float(i.latitude) if i.latitude is not None else None,
                         float(i.longitude) if i.longitude is not None else None, bool(i.ships),
                         int(i.daily_capacity) if i.daily_capacity is not None else None)
                for i in LocationItem.query("LOCATIONS")]

    def put_location(self, location: Location, now: str) -> None:
        LocationItem("LOCATIONS", location.location_id, name=location.name, type=location.type,
                     priority=location.priority, address=location.address, latitude=location.latitude,
                     longitude=location.longitude, ships=location.ships,
                     daily_capacity=location.daily_capacity).save()

    def pick_queue(self, location_id: str, limit: int, after: str | None = None) -> list[tuple[str, str, str]]:
        """Fulfilment orders waiting to be picked there, oldest order first, after the entry `after`:
        (fulfillment order id, order id, entry)."""
        condition = PickQueueItem.sk > after if after else None
        return [(item.sk.split("#", 1)[1], item.order_id, item.sk) for item in PickQueueItem.query(
            f"PICKQ#{location_id}", condition, limit=limit, consistent_read=True)]

    def drop_from_pick_queue(self, location_id: str, received_at: str, fulfillment_order_id: str) -> None:
        PickQueueItem(f"PICKQ#{location_id}", f"{received_at}#{fulfillment_order_id}").delete()

    def bins(self, location_id: str, skus: set[str]) -> dict[str, str]:
        keys = [(f"SKU#{sku}", f"BIN#{location_id}") for sku in sorted(skus)]
        return {item.pk.removeprefix("SKU#"): item.bin for item in BinItem.batch_get(keys)} if keys else {}

    def put_bin(self, sku: str, location_id: str, bin_code: str) -> None:
        BinItem(f"SKU#{sku}", f"BIN#{location_id}", bin=bin_code).save()

    def orders_taken(self, location_ids: list[str], day: str) -> dict[str, int]:
        """How many orders were first sourced to each location on the day (YYYY-MM-DD)."""
        keys = [(f"LOAD#{location_id}", day) for location_id in location_ids]
        return {item.pk.removeprefix("LOAD#"): int(item.orders) for item in LoadItem.batch_get(keys)} if keys else {}
