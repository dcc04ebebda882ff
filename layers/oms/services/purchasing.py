"""Purchase orders and transfers: each is written in one transaction with the stock it moves, read
again and retried when a reservation or another change got there first. Units that land serve
waiting backorders first (their InventoryAdjusted reaches the allocation queue)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from oms.domain.holds import OrderRuleViolation
from oms.domain.inventory import StockChange
from oms.domain.purchasing import PurchaseOrder, Transfer

from .context import Context
from .orders import MAX_ATTEMPTS
from .ports import ConcurrentModification, Document, DuplicateReference, StockCommit

PO, TRANSFER = "PO", "TRANSFER"


class UnknownDocument(LookupError):
    """No purchase order or transfer has that id."""


def _retrying(ctx: Context, attempt_once: Callable[[], object]):
    for attempt in range(MAX_ATTEMPTS):
        try:
            return attempt_once()
        except ConcurrentModification:
            ctx.backoff(attempt)
    raise ConcurrentModification("stock")


def _known_location(ctx: Context, location_id: str) -> None:
    from .inventory import UnknownLocation

    if location_id not in {loc.location_id for loc in ctx.inventory.locations()}:
        raise UnknownLocation(location_id)


# ---- purchase orders ---------------------------------------------------------------------------------

def open_purchase_order(ctx: Context, supplier: str, location_id: str, expected_at: str, lines: list[dict],
                        request_key: str | None = None, request_hash: str | None = None) -> tuple[PurchaseOrder, bool]:
    """Open, with its units counted inbound at the location; (the order, whether it is new). The
    same Idempotency-Key again answers the order it opened."""
    _known_location(ctx, location_id)
    purchase_order_id = "po" + _id_part(ctx, request_key)
    earlier = _earlier(ctx, PO, purchase_order_id, request_key, request_hash)
    if earlier:
        return PurchaseOrder.from_dict(earlier), False
    po, events = PurchaseOrder.open(purchase_order_id, supplier, location_id, expected_at, ctx.clock.now(), lines)
    po.request_hash = request_hash

    def once() -> tuple[PurchaseOrder, bool]:
        changes = [StockChange.by(ctx.inventory.stock_level(sku, location_id), "purchase_order",
                                  po.purchase_order_id, inbound=quantity) for sku, quantity in po.inbound().items()]
        try:
            ctx.inventory.commit_stock(StockCommit(changes, [Document(PO, po.purchase_order_id, po.to_dict(), events,
                                                                      index=_due(po))]))
        except DuplicateReference:  # the same key, sent twice at once: the other one opened it
            return PurchaseOrder.from_dict(_earlier(ctx, PO, purchase_order_id, request_key, request_hash)), False
        return po, True
    return _retrying(ctx, once)


def close_purchase_order(ctx: Context, purchase_order_id: str, reason: str) -> PurchaseOrder:
    """The supplier sends no more: what is still expected leaves inbound (closing twice closes once)."""
    def once() -> PurchaseOrder:
        found = ctx.inventory.load_document(PO, purchase_order_id)
        if found is None:
            raise UnknownDocument(purchase_order_id)
        po, version = PurchaseOrder.from_dict(found[0]), found[1]
        short, events = po.close(reason)
        if not events:
            return po
        changes = [StockChange.by(ctx.inventory.stock_level(sku, po.location_id), "purchase_order_closed",
                                  purchase_order_id, inbound=-units) for sku, units in short.items()]
        ctx.inventory.commit_stock(StockCommit(changes, [Document(PO, purchase_order_id, po.to_dict(), events,
                                                                  version, _due(po))]))
        return po
    return _retrying(ctx, once)


def _id_part(ctx: Context, request_key: str | None) -> str:
    """A document's id: from its Idempotency-Key (so the same key finds it), else a new one."""
    if request_key:
        return hashlib.sha256(request_key.encode()).hexdigest()[:28]
    return ctx.new_order_id()[1:]


def _earlier(ctx: Context, kind: str, doc_id: str, request_key: str | None, request_hash: str | None) -> dict | None:
    """The document an earlier request with this key made, if the request was the same."""
    if not request_key:
        return None
    found = ctx.inventory.load_document(kind, doc_id)
    if found is None:
        return None
    if found[0].get("request_hash") != request_hash:
        raise OrderRuleViolation("idempotency_key_reused", "this Idempotency-Key was used for another request")
    return found[0]


def _due(po: PurchaseOrder) -> tuple[str, str] | None:
    """An open order is listed as inbound at its location by the day it is due (availability to order)."""
    return (f"INBOUND#{po.location_id}", f"{po.expected_at}#{po.purchase_order_id}") if po.status == "open" else None


def load_purchase_order(ctx: Context, purchase_order_id: str) -> PurchaseOrder:
    found = ctx.inventory.load_document(PO, purchase_order_id)
    if found is None:
        raise UnknownDocument(purchase_order_id)
    return PurchaseOrder.from_dict(found[0])


def receive_purchase_order(ctx: Context, purchase_order_id: str, receipt_id: str, lines: list[dict]) -> PurchaseOrder:
    """Units arrive: on hand at the location, no longer inbound; the same receipt id twice adds once."""
    def once() -> PurchaseOrder:
        found = ctx.inventory.load_document(PO, purchase_order_id)
        if found is None:
            raise UnknownDocument(purchase_order_id)
        po, version = PurchaseOrder.from_dict(found[0]), found[1]
        moves, events = po.receive(receipt_id, lines)
        if not events:
            return po  # this receipt was applied already
        changes = []
        for sku, (on_hand, landed) in moves.items():
            before = ctx.inventory.stock_level(sku, po.location_id)
            changes.append(StockChange(before, before.on_hand + on_hand, max(0, before.inbound - landed),
                                       before.safety_stock, "purchase_receipt", purchase_order_id))
        try:
            ctx.inventory.commit_stock(StockCommit(changes, [Document(PO, purchase_order_id, po.to_dict(), events,
                                                                      version, _due(po))],
                                                   guards=[f"po-receipt:{purchase_order_id}:{receipt_id}"]))
        except DuplicateReference:
            return load_purchase_order(ctx, purchase_order_id)  # the same receipt, applied by another delivery
        return po
    return _retrying(ctx, once)


# ---- transfers -----------------------------------------------------------------------------------------

def send_transfer(ctx: Context, sku: str, from_location_id: str, to_location_id: str, quantity: int,
                  request_key: str | None = None, request_hash: str | None = None) -> tuple[Transfer, bool]:
    """Available units leave the source now and are inbound at the destination; (the transfer,
    whether it is new). The same Idempotency-Key again answers the transfer it sent."""
    for location_id in (from_location_id, to_location_id):
        _known_location(ctx, location_id)
    transfer_id = "tr" + _id_part(ctx, request_key)
    earlier = _earlier(ctx, TRANSFER, transfer_id, request_key, request_hash)
    if earlier:
        return Transfer.from_dict(earlier), False

    def once() -> tuple[Transfer, bool]:
        source = ctx.inventory.stock_level(sku, from_location_id)
        transfer, events = Transfer.send(transfer_id, sku, from_location_id, to_location_id, quantity,
                                         source.available, ctx.clock.now())
        transfer.request_hash = request_hash
        destination = ctx.inventory.stock_level(sku, to_location_id)
        try:
            ctx.inventory.commit_stock(StockCommit(
                [StockChange.by(source, "transfer_out", transfer_id, on_hand=-quantity),
                 StockChange.by(destination, "transfer_in_transit", transfer_id, inbound=quantity)],
                [Document(TRANSFER, transfer_id, transfer.to_dict(), events,
                          index=(f"INBOUND#{to_location_id}", f"{transfer.created_at}#{transfer_id}"))]))
        except DuplicateReference:
            return Transfer.from_dict(_earlier(ctx, TRANSFER, transfer_id, request_key, request_hash)), False
        return transfer, True
    return _retrying(ctx, once)


def load_transfer(ctx: Context, transfer_id: str) -> Transfer:
    found = ctx.inventory.load_document(TRANSFER, transfer_id)
    if found is None:
        raise UnknownDocument(transfer_id)
    return Transfer.from_dict(found[0])


def receive_transfer(ctx: Context, transfer_id: str) -> Transfer:
    """The units land at the destination: on hand, no longer inbound (once)."""
    def once() -> Transfer:
        found = ctx.inventory.load_document(TRANSFER, transfer_id)
        if found is None:
            raise UnknownDocument(transfer_id)
        transfer, version = Transfer.from_dict(found[0]), found[1]
        events = transfer.receive(ctx.clock.now())
        if not events:
            return transfer
        destination = ctx.inventory.stock_level(transfer.sku, transfer.to_location_id)
        ctx.inventory.commit_stock(StockCommit(
            [StockChange(destination, destination.on_hand + transfer.quantity,
                         max(0, destination.inbound - transfer.quantity), destination.safety_stock, "transfer_in",
                         transfer_id)],
            [Document(TRANSFER, transfer_id, transfer.to_dict(), events, version)]))
        return transfer
    return _retrying(ctx, once)
