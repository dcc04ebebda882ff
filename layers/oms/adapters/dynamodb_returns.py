"""Returns in the table (beside the orders in dynamodb.py):

  RETURN#<id> / RETURN         the return aggregate (JSON doc, version); gsi1 (every return by
                               time) and gsi2 (by status by time) keys, for the operators' lists
  RETURN#<id> / H#<seq:08d>    its history, published by the stream like an order's
  RMANO#<rma> / REF            guard: one return per RMA number
  SKU#<sku> / H#<loc>#<ver>    InventoryAdjusted (reason return_restock) for units put back on sale
"""
from __future__ import annotations

import base64
import json

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from oms.domain.inventory import StockChange
from oms.domain.returns import Return
from oms.services.ports import ConcurrentModification, DuplicateReference, ReturnCommit

from .dynamodb_models import HistoryItem, RefItem, Transaction, _Item, failed_conditions, history_record


class _ByTime(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _ByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class ReturnItem(_Item):
    doc = JSONAttribute()
    status = UnicodeAttribute()
    history_length = NumberAttribute()
    version = VersionAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    by_time = _ByTime()
    by_status = _ByStatus()


def _key(return_id: str) -> str:
    return f"RETURN#{return_id}"


def write_return(tx, change: ReturnCommit, now: str, tags: list[str]) -> None:
    """Put the return, its new history and (when new) its RMA guard into the transaction."""
    ret = change.ret
    order_key = f"{ret.created_at}#{ret.return_id}"
    item = ReturnItem(_key(ret.return_id), "RETURN", doc=ret.to_dict(), status=ret.status,
                      history_length=ret.history_length + len(change.events), gsi1pk="RETURNS", gsi1sk=order_key,
                      gsi2pk=f"RETURNS#{ret.status}", gsi2sk=order_key)
    if not change.is_new:
        item.version = ret.version
    tx.save(item)
    tags.append("return")
    for n, event in enumerate(change.events, start=ret.history_length + 1):
        tx.save(HistoryItem(_key(ret.return_id), f"H#{n:08d}", **history_record(ret.return_id, n, now, event)),
                condition=HistoryItem.pk.does_not_exist())
        tags.append("return")
    if change.is_new:
        tx.save(RefItem(f"RMANO#{ret.rma_number}", "REF", order_id=ret.order_id, shipment_id=ret.return_id),
                condition=RefItem.pk.does_not_exist())
        tags.append("duplicate")
    for number in change.tracking_numbers:
        tx.save(RefItem(f"TRACK#{number}", "REF", order_id=ret.order_id, shipment_id=f"return:{ret.return_id}"),
                condition=RefItem.pk.does_not_exist() | (RefItem.shipment_id == f"return:{ret.return_id}"))
        tags.append("tracking")


def restock(tx, moves, now: str, tags: list[str], reference: str) -> None:
    """Sellable units back on hand at a location: each stock item conditional on what was read,
    with its InventoryAdjusted (reason return_restock), so waiting backorders are served."""
    from .dynamodb_inventory import read_level, write_stock

    for move in moves:
        before = read_level(move.sku, move.location_id)
        write_stock(tx, StockChange.by(before, "return_restock", reference, on_hand=move.release), now, tags)


class ReturnsTable:
    """The ReturnStore half of DynamoStore."""

    def commit_return(self, change: ReturnCommit) -> None:
        """The return, its history, and the stock its sellable units go back into, at once."""
        tags: list[str] = []
        now = self._clock.now()
        try:
            with Transaction(connection=self._connection) as tx:
                write_return(tx, change, now, tags)
                restock(tx, change.restock, now, tags, change.ret.return_id)
        except TransactWriteError as error:
            failed = failed_conditions(error, tags, tx)
            if failed & {"duplicate", "tracking"}:
                raise DuplicateReference(change.ret.return_id) from error
            raise ConcurrentModification(change.ret.return_id) from error
        change.ret.version = (change.ret.version or 0) + 1
        change.ret.history_length += len(change.events)

    def load_return(self, return_id: str) -> Return | None:
        try:
            item = ReturnItem.get(_key(return_id), "RETURN", consistent_read=True)
        except DoesNotExist:
            return None
        ret = Return.from_dict(item.doc)
        ret.version, ret.history_length = item.version, int(item.history_length)
        return ret

    def find_return_by_tracking(self, tracking_number: str) -> str | None:
        """The return whose parcel coming back carries this tracking number, if any."""
        try:
            ref = RefItem.get(f"TRACK#{tracking_number}", "REF")
        except DoesNotExist:
            return None
        return ref.shipment_id.removeprefix("return:") if (ref.shipment_id or "").startswith("return:") else None

    def return_history(self, return_id: str) -> list[dict]:
        items = HistoryItem.query(_key(return_id), HistoryItem.sk.startswith("H#"), consistent_read=True)
        return [{"sequence": i.sequence, "event_type": i.event_type, "occurred_at": i.occurred_at, "data": i.data}
                for i in items]

    def list_returns(self, status: str | None, cursor: str | None, limit: int) -> tuple[list[Return], str | None]:
        """Newest first, from gsi1 (all) or gsi2 (one status); never a Scan."""
        start = json.loads(base64.urlsafe_b64decode(cursor.encode())) if cursor else None
        index_keys = {"pk", "sk", "gsi2pk", "gsi2sk"} if status else {"pk", "sk", "gsi1pk", "gsi1sk"}
        if start is not None and (not isinstance(start, dict) or set(start) != index_keys):
            raise ValueError("not a cursor of this list")
        if status:
            pages = ReturnItem.by_status.query(f"RETURNS#{status}", scan_index_forward=False, limit=limit,
                                               last_evaluated_key=start)
        else:
            pages = ReturnItem.by_time.query("RETURNS", scan_index_forward=False, limit=limit,
                                             last_evaluated_key=start)
        found = [Return.from_dict(item.doc) for item in pages]
        last = pages.last_evaluated_key
        following = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return found, following
