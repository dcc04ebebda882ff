"""DynamoDB persistence through PynamoDB: one table, items keyed by pk/sk.

  ORDER#<id>    / ORDER            the order aggregate (JSON doc, version); on gsi5 while it holds stock
                                   waiting for a payment (RESERVATIONS#UNPAID, by since when)
  ORDER#<id>    / H#<seq:08d>      its history: one item per domain event; the stream
                                   publishes these (transactional outbox)
  EXT#<channel>#<external_id> / REF  guard: one order per channel order, with its body hash
  ORDERNO#<number> / REF           guard and lookup for the OMS order number
  CHANNELNO#<number> / ORDER#<id>  lookup by the channel's order number, without `#`, upper case
                                   (may repeat across channels)
  CUSTOMER#<sha256 of e-mail> / <placed_at>#<id>  a customer's orders, newest first by a Query
  TRACK#<number> / REF             tracking number -> order; TRACK#<number> / UNMATCHED#<digest> unmatched updates
  PAY#<processor id> / REF         an authorisation or charge id (pi_..., ch_...) -> order, for processor webhooks
  GUARD#<key> / REF                written once with the change it guards (a processor event id applied)
  PAYEVENT#<event id> / UNMATCHED  a processor event for a payment the OMS does not know
  SKU#<sku> ..., LOCATIONS ...     stock and locations: see dynamodb_inventory.py
  ALLOC#<location> / <sku>#<id>    units the order holds there (written with every reservation move)
  DEMAND#<sku>@<location> / <day>  units ordered that day (placed_at), for replenishment
  BACKORDERS / <received_at>#<id>  orders waiting for stock, first come first served
  RETURN#<id> ...                  returns: see dynamodb_returns.py
  CASE#<id> ...                    cases: see dynamodb_cases.py
  NOTIFY#<key> ...                 customer e-mails: see dynamodb_notifications.py
"""
from __future__ import annotations

import base64
import hashlib
import json

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError

from oms.domain.order import Order
from oms.domain.references import channel_number_key
from oms.services.ports import (
    ConcurrentModification,
    DuplicateReference,
    ExternalRef,
    InsufficientStock,
    OrderCommit,
    OrderTooLarge,
    StockMove,
)

from .dynamodb_cases import CasesTable
from .dynamodb_channel_stock import ChannelStockTable
from .dynamodb_inventory import InventoryTable, movement
from .dynamodb_models import (
    REGION,
    BackorderItem,
    DemandItem,
    HistoryItem,
    HoldingItem,
    LoadItem,
    OrderItem,
    PickQueueItem,
    RefItem,
    StockItem,
    Transaction,
    UnmatchedTrackingItem,
    failed_conditions,
    history_record,
)
from .dynamodb_notifications import NotificationsTable
from .dynamodb_returns import ReturnsTable, write_return


def _merge_moves(moves: list[StockMove]) -> list[StockMove]:
    """DynamoDB allows one operation per item in a transaction: sum moves per stock item
    (a step only ever moves stock one way per item)."""
    merged: dict[tuple[str, str], StockMove] = {}
    for move in moves:
        seen = merged.get((move.sku, move.location_id), StockMove(move.sku, move.location_id))
        merged[(move.sku, move.location_id)] = StockMove(
            move.sku, move.location_id, seen.reserve + move.reserve, seen.ship + move.ship, seen.release + move.release,
            move.reason)
    return list(merged.values())


def _order_key(order_id: str) -> str:
    return f"ORDER#{order_id}"


class DynamoStore(ReturnsTable, CasesTable, NotificationsTable, InventoryTable, ChannelStockTable):
    """Implements OrderStore, InventoryStore, ReturnStore, CaseStore, NotificationLog and
    ChannelStockLog on one table."""

    def __init__(self, clock):
        self._clock = clock
        self._connection = Connection(region=REGION)

    # ---- orders -------------------------------------------------------------------------
    def load(self, order_id: str) -> Order | None:
        try:
            item = OrderItem.get(_order_key(order_id), "ORDER", consistent_read=True)
        except DoesNotExist:
            return None
        order = Order.from_dict(item.doc)
        order.version = item.version
        order.history_length = int(item.history_length)
        return order

    def commit(self, change: OrderCommit) -> None:
        """Write the order, its new history items and every side item in one transaction.
        Each operation is tagged so a cancellation reason can be told back as a domain error."""
        order = change.order
        pk = _order_key(order.order_id)
        now = self._clock.now()
        waiting = order.holding_stock_unpaid_since()  # listed for the expiry sweep
        item = OrderItem(pk, "ORDER", doc=order.to_dict(), status=order.status,
                         history_length=order.history_length + len(change.events),
                         gsi5pk="RESERVATIONS#UNPAID" if waiting else None,
                         gsi5sk=f"{waiting}#{order.order_id}" if waiting else None)
        if not change.is_new:
            item.version = order.version
        tags: list[str] = []
        try:
            with Transaction(connection=self._connection) as tx:
                tx.save(item)
                tags.append("order")
                for n, event in enumerate(change.events, start=order.history_length + 1):
                    record = history_record(order.order_id, n, now, event, order_id=order.order_id,
                                            correlation_id=order.correlation_id)
                    tx.save(HistoryItem(pk, f"H#{n:08d}", **record), condition=HistoryItem.pk.does_not_exist())
                    tags.append("order")
                if change.is_new:
                    tags += self._add_refs(tx, change)
                moves = _merge_moves(change.stock_moves)
                for move in moves:
                    tags += self._stock_move(tx, move, now, order.order_id)
                held = order.reserved_stock() if moves else {}
                for move in moves:  # who holds what where, in the same transaction as `reserved`
                    item = HoldingItem(f"ALLOC#{move.location_id}", f"{move.sku}#{order.order_id}",
                                       quantity=held.get((move.sku, move.location_id), 0), order_id=order.order_id)
                    if item.quantity:
                        tx.save(item)
                    else:
                        tx.delete(item)
                    tags.append("stock")
                demand: dict[tuple[str, str], int] = {}
                for sku, location_id, units in change.demand:  # one operation per item: a SKU on two lines adds once
                    demand[(sku, location_id)] = demand.get((sku, location_id), 0) + units
                for (sku, location_id), units in demand.items():
                    tx.update(DemandItem(f"DEMAND#{sku}@{location_id}", order.placed_at[:10]),
                              actions=[DemandItem.units.add(units)])
                    tags.append("stock")
                for event in change.events:  # a new fulfilment order waits to be picked
                    if event.event_type == "FulfillmentOrderCreated":
                        tx.save(PickQueueItem(f"PICKQ#{event.data['location_id']}",
                                              f"{order.received_at}#{event.data['fulfillment_order_id']}",
                                              order_id=order.order_id))
                        tags.append("queue")
                for fo_id in change.picked_up:
                    location = order.fulfillment_order(fo_id).location_id
                    tx.delete(PickQueueItem(f"PICKQ#{location}", f"{order.received_at}#{fo_id}"))
                    tags.append("queue")
                for location_id in dict.fromkeys(change.load):
                    tx.update(LoadItem(f"LOAD#{location_id}", now[:10]),
                              actions=[LoadItem.orders.add(change.load.count(location_id))])
                    tags.append("stock")
                for number in change.tracking_numbers:
                    tx.save(RefItem(f"TRACK#{number}", "REF", order_id=order.order_id),
                            condition=RefItem.pk.does_not_exist() | (RefItem.order_id == order.order_id))
                    tags.append("tracking")
                for opened in change.returns:  # a return and its claim on this order agree, or neither is written
                    write_return(tx, opened, now, tags)
                for guard in change.guards:
                    tx.save(RefItem(f"GUARD#{guard}", "REF", order_id=order.order_id),
                            condition=RefItem.pk.does_not_exist())
                    tags.append("guard")
                for reference in dict.fromkeys(change.payment_refs):
                    tx.save(RefItem(f"PAY#{reference}", "REF", order_id=order.order_id),
                            condition=RefItem.pk.does_not_exist() | (RefItem.order_id == order.order_id))
                    tags.append("payment")
                backorder_key = f"{order.received_at}#{order.order_id}"
                if change.backorder == "wait":
                    skus = sorted({line.sku for line in order.lines if line.unallocated})
                    tx.save(BackorderItem("BACKORDERS", backorder_key, order_id=order.order_id, skus=skus))
                elif change.backorder == "done":
                    tx.delete(BackorderItem("BACKORDERS", backorder_key, order_id=order.order_id, skus=[]))
        except TransactWriteError as error:
            message = error.cause_response_message or ""
            if error.cause_response_code == "ValidationException" and ("size" in message or "100" in message):
                raise OrderTooLarge(order.order_id) from error  # past an item's 400 KB, or 100 items a transaction
            failed = failed_conditions(error, tags, tx)
            if "duplicate" in failed:
                raise DuplicateReference(order.external_id) from error
            if "stock" in failed:
                raise InsufficientStock(order.order_id) from error
            if "tracking" in failed:
                raise DuplicateReference("tracking number belongs to another order") from error
            if "guard" in failed:
                raise DuplicateReference("already applied") from error
            if "payment" in failed:
                raise DuplicateReference("the payment belongs to another order") from error
            raise ConcurrentModification(order.order_id) from error
        order.version = (order.version or 0) + 1
        order.history_length += len(change.events)

    def _add_refs(self, tx: Transaction, change: OrderCommit) -> list[str]:
        """The new order's guards and lookups; returns their tags, in the order written."""
        order = change.order
        tx.save(RefItem(f"EXT#{order.channel}#{order.external_id}", "REF", order_id=order.order_id,
                        order_number=order.order_number, body_hash=change.body_hash),
                condition=RefItem.pk.does_not_exist())
        tx.save(RefItem(f"ORDERNO#{order.order_number}", "REF", order_id=order.order_id),
                condition=RefItem.pk.does_not_exist())
        tx.save(RefItem(f"CHANNELNO#{channel_number_key(order.channel_order_number)}", _order_key(order.order_id),
                        order_id=order.order_id))
        tags = ["duplicate", "duplicate", "order"]
        if email := (order.customer.get("email") or "").strip().lower():
            tx.save(RefItem(_customer_key(email), f"{order.placed_at}#{order.order_id}", order_id=order.order_id))
            tags.append("order")
        return tags

    @staticmethod
    def _stock_move(tx: Transaction, move: StockMove, now: str, order_id: str) -> list[str]:
        item = StockItem(f"SKU#{move.sku}", f"LOC#{move.location_id}")
        if move.reserve:
            tx.update(item, actions=[StockItem.reserved.add(move.reserve), StockItem.available.add(-move.reserve)],
                      condition=StockItem.available >= move.reserve)
            return ["stock"]
        if move.release:
            tx.update(item, actions=[StockItem.reserved.add(-move.release), StockItem.available.add(move.release)],
                      condition=StockItem.reserved >= move.release)
            return ["stock"]
        tx.update(item, actions=[StockItem.on_hand.add(-move.ship), StockItem.reserved.add(-move.ship),
                                 StockItem.moved_at.set(now)],
                  condition=StockItem.reserved >= move.ship)
        tx.save(movement(move.sku, move.location_id, -move.ship, move.reason, order_id, now))
        return ["stock", "stock"]

    def expiring_reservations(self, moment: str, limit: int) -> list[str]:
        """Orders that have held stock waiting for a payment since `moment` or before."""
        return [item.pk.removeprefix("ORDER#") for item in OrderItem.expiring.query(
            "RESERVATIONS#UNPAID", OrderItem.gsi5sk <= f"{moment}#~", limit=limit)]

    def history(self, order_id: str) -> list[dict]:
        items = HistoryItem.query(_order_key(order_id), HistoryItem.sk.startswith("H#"), consistent_read=True)
        return [{"sequence": i.sequence, "event_id": i.event_id, "event_type": i.event_type,
                 "occurred_at": i.occurred_at, "data": i.data} for i in items]

    def find_external(self, channel: str, external_id: str) -> ExternalRef | None:
        try:
            ref = RefItem.get(f"EXT#{channel}#{external_id}", "REF", consistent_read=True)
        except DoesNotExist:
            return None
        return ExternalRef(ref.order_id, ref.order_number, ref.body_hash)

    def find_by_order_number(self, order_number: str) -> str | None:
        try:
            return RefItem.get(f"ORDERNO#{order_number}", "REF").order_id
        except DoesNotExist:
            return None

    def find_by_channel_number(self, channel_order_number: str) -> list[str]:
        """By the normalised number; orders stored before numbers were normalised (kept as the
        channel sent them, e.g. `#1001`) are found by the number as given, with or without `#`."""
        key = channel_number_key(channel_order_number)
        if not key:
            return []
        found = [ref.order_id for ref in RefItem.query(f"CHANNELNO#{key}", limit=20)]
        if found:
            return found
        given = channel_order_number.strip()
        legacy = dict.fromkeys(k for k in (given, given.lstrip("#"), "#" + given.lstrip("#")) if k != key)
        return [ref.order_id for k in legacy for ref in RefItem.query(f"CHANNELNO#{k}", limit=20)]

    def orders_of_customer(self, email: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        """The cursor is the last sort key read, in the customer's own partition: a forged
        one can only skip within it."""
        start = None
        if cursor:
            if len(cursor) > 400:
                raise ValueError("not a cursor of this list")
            try:
                sk = base64.urlsafe_b64decode(cursor.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise ValueError("not a cursor of this list") from None
            if not 20 <= len(sk) <= 200 or "#o" not in sk:
                raise ValueError("not a cursor of this list")
            start = {"pk": {"S": _customer_key(email)}, "sk": {"S": sk}}
        page = RefItem.query(_customer_key(email), scan_index_forward=False, limit=limit, last_evaluated_key=start)
        ids = [ref.order_id for ref in page]
        last = page.last_evaluated_key
        return ids, base64.urlsafe_b64encode(last["sk"]["S"].encode()).decode() if last else None

    def load_many(self, order_ids: list[str]) -> list[Order]:
        """In the order asked, one BatchGetItem per 100."""
        found = {}
        for item in OrderItem.batch_get([(_order_key(order_id), "ORDER") for order_id in order_ids]):
            order = Order.from_dict(item.doc)
            order.version, order.history_length = item.version, int(item.history_length)
            found[order.order_id] = order
        return [found[order_id] for order_id in order_ids if order_id in found]

    def find_by_tracking_number(self, tracking_number: str) -> str | None:
        try:
            return RefItem.get(f"TRACK#{tracking_number}", "REF").order_id
        except DoesNotExist:
            return None

    def find_by_payment_reference(self, reference: str) -> str | None:
        try:
            return RefItem.get(f"PAY#{reference}", "REF", consistent_read=True).order_id
        except DoesNotExist:
            return None

    def seen(self, guard: str) -> bool:
        try:
            RefItem.get(f"GUARD#{guard}", "REF", consistent_read=True)
            return True
        except DoesNotExist:
            return False

    def record_unmatched_payment_event(self, event_id: str, event: dict, received_at: str) -> None:
        UnmatchedTrackingItem(f"PAYEVENT#{event_id}", "UNMATCHED", update=event, received_at=received_at).save()

    def record_unmatched_tracking(self, tracking_number: str, update: dict, received_at: str) -> None:
        # Keyed by the update's content: the carrier's retries of one update are one item.
        digest = hashlib.sha256(json.dumps(update, sort_keys=True, default=str).encode()).hexdigest()[:16]
        UnmatchedTrackingItem(f"TRACK#{tracking_number}", f"UNMATCHED#{digest}",
                              update=update, received_at=received_at).save()

    def backordered_orders(self) -> list[tuple[str, list[str]]]:
        return [(item.order_id, item.skus) for item in BackorderItem.query("BACKORDERS", consistent_read=True)]


def _customer_key(email: str) -> str:
    """A customer's partition, named by a digest: no e-mail address in any key."""
    return "CUSTOMER#" + hashlib.sha256(email.strip().lower().encode()).hexdigest()
