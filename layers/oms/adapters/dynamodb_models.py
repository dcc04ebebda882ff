"""The table's item shapes (PynamoDB models), shared by the order, stock and return stores."""
from __future__ import annotations

import os

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from oms.domain.events import DomainEvent

TABLE = os.environ.get("OMS_TABLE", "oms-local")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class _Item(Model):
    class Meta:
        table_name = TABLE
        region = REGION

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class _Expiring(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi5"
        projection = KeysOnlyProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class OrderItem(_Item):
    doc = JSONAttribute()
    status = UnicodeAttribute()
    history_length = NumberAttribute()
    version = VersionAttribute()
    # Listed while it holds stock waiting for a payment, by when that stock goes back (sparse).
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    expiring = _Expiring()


class HistoryItem(_Item):
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    aggregate_id = UnicodeAttribute()
    sequence = NumberAttribute()
    data = JSONAttribute()
    # The order the event is part of, and the correlation id of the work that committed it.
    order_id = UnicodeAttribute(null=True)
    correlation_id = UnicodeAttribute(null=True)


class RefItem(_Item):
    order_id = UnicodeAttribute()
    order_number = UnicodeAttribute(null=True)
    body_hash = UnicodeAttribute(null=True)
    shipment_id = UnicodeAttribute(null=True)


class UnmatchedTrackingItem(_Item):
    update = JSONAttribute()
    received_at = UnicodeAttribute()


class _ByLocation(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class StockItem(_Item):
    on_hand = NumberAttribute(default=0)
    reserved = NumberAttribute(default=0)
    safety_stock = NumberAttribute(default=0)
    available = NumberAttribute(default=0)  # on_hand - reserved - safety_stock, kept so a condition can test it
    inbound = NumberAttribute(default=0)  # on its way here (open purchase orders, transfers)
    moved_at = UnicodeAttribute(null=True)  # when on_hand last changed (a count need only look at moves after it)
    version = NumberAttribute(default=0)
    # Every stock item of a location, by SKU (a count finds what the OMS holds there).
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    by_location = _ByLocation()


class HoldingItem(_Item):
    """ALLOC#<location> / <sku>#<order_id>: units of the SKU the order holds there (reserved, not
    shipped), kept in the transaction that moves its reservation: who to source again when a
    count finds less, and what `reserved` must add up to."""
    quantity = NumberAttribute()
    order_id = UnicodeAttribute()


class DemandItem(_Item):
    """DEMAND#<sku>@<location> / <YYYY-MM-DD>: units ordered that day (by the orders' placed_at)."""
    units = NumberAttribute(default=0)


class MovementItem(_Item):
    """SKU#<sku> / MV#<location>#<when>#<reference>: on hand moved by `delta` (a shipment, a
    receipt, a count...), so a warehouse count taken at some moment can be brought up to now."""
    delta = NumberAttribute()
    reason = UnicodeAttribute()
    expires_at = NumberAttribute()  # TTL: counts older than this are not reconciled


class LocationItem(_Item):
    name = UnicodeAttribute()
    type = UnicodeAttribute()
    priority = NumberAttribute()
    address = JSONAttribute()
    latitude = NumberAttribute(null=True)
    longitude = NumberAttribute(null=True)
    ships = BooleanAttribute(default=True)
    daily_capacity = NumberAttribute(null=True)


class PickQueueItem(_Item):
    """PICKQ#<location> / <order received_at>#<fulfillment_order_id>: waiting to be picked, oldest
    first; written with the fulfilment order, taken off when it goes on a pick list."""
    order_id = UnicodeAttribute()


class BinItem(_Item):
    """SKU#<sku> / BIN#<location>: where the SKU is kept there (pick lists go in bin order)."""
    bin = UnicodeAttribute()


class LoadItem(_Item):
    """LOAD#<location> / <YYYY-MM-DD>: orders first sourced to the location that day (its capacity)."""
    orders = NumberAttribute(default=0)


class BackorderItem(_Item):
    order_id = UnicodeAttribute()
    skus = JSONAttribute()


def history_record(aggregate_id: str, sequence: int, occurred_at: str, event: DomainEvent, *,
                   order_id: str | None = None, correlation_id: str | None = None) -> dict:
    """An event as its history item stores it: the order it is part of (given, or named in its
    data) and the correlation of the work in hand (oms.observability.logs.bind) unless given."""
    from oms.observability import logs

    record = {"event_id": f"{aggregate_id}:{sequence}", "event_type": event.event_type, "occurred_at": occurred_at,
              "aggregate_id": aggregate_id, "sequence": sequence, "data": event.data}
    order_id = order_id or event.data.get("order_id")
    correlation_id = correlation_id or logs.correlation_id()
    if order_id:
        record["order_id"] = str(order_id)
    if correlation_id:
        record["correlation_id"] = correlation_id
    return record


class Transaction(TransactWrite):
    """PynamoDB sends a transaction's operations grouped by kind (condition checks, deletes,
    puts, updates), not in the order they were added, and DynamoDB gives a cancellation's reasons
    in the order sent: each operation's kind is kept to tell which reason is whose."""
    SENT = ("ConditionCheck", "Delete", "Put", "Update")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kinds: list[str] = []

    def condition_check(self, *args, **kwargs):
        self.kinds.append("ConditionCheck")
        return super().condition_check(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self.kinds.append("Delete")
        return super().delete(*args, **kwargs)

    def save(self, *args, **kwargs):
        self.kinds.append("Put")
        return super().save(*args, **kwargs)

    def update(self, *args, **kwargs):
        self.kinds.append("Update")
        return super().update(*args, **kwargs)


def failed_conditions(error, tags: list[str], tx: Transaction) -> set[str]:
    """The tags of a cancelled transaction's operations whose condition failed (tags name what
    each operation guarded, one per operation in the order they were added)."""
    if len(tags) != len(tx.kinds):
        raise ValueError(f"{len(tags)} tags for {len(tx.kinds)} operations")
    sent = sorted(range(len(tags)), key=lambda n: Transaction.SENT.index(tx.kinds[n]))  # stable: order within a kind
    reasons = [r.code if r else None for r in (error.cancellation_reasons or [])]
    return {tags[n] for n, code in zip(sent, reasons, strict=False) if code == "ConditionalCheckFailed"}
