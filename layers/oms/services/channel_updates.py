"""Telling the sales channel what happened to its order: shipped, delivered, cancelled.
Each call reads the order as it is now, so a late or repeated message never tells the
channel something older than what it already knows."""
from __future__ import annotations

import uuid

from oms.domain.order import Order, Shipment

from .context import Context
from .orders import update_order
from .ports import (
    ChannelItem,
    ChannelOrder,
    ChannelRefund,
    ChannelReturnItem,
    ChannelShipment,
    ChannelUnavailable,
    OrderCommit,
)

REFUND_LEASE_SECONDS = 180  # longer than the channel-updates Lambda may run (120 s); returns use it too
TOLD_ABOUT = ("ShipmentCreated", "ShipmentDelivered", "OrderLinesCancelled", "RefundRequested", "ReturnApproved",
              "DeliveryGroupChanged")


class UnknownOrderForChannel(LookupError):
    """The event names an order the store does not have."""


def tell_channel(ctx: Context, detail: dict) -> str:
    """Returns what happened: "told", "no_channel_api" (e.g. the generic channel) or
    "not_for_channel" (a cancellation the channel made itself)."""
    event_type, data = detail["event_type"], detail["data"]
    if event_type not in TOLD_ABOUT:
        return "not_for_channel"
    if event_type == "OrderLinesCancelled" and data["source"] == "channel":
        return "not_for_channel"  # the channel cancelled it: it knows
    order_id = data["order_id"] if event_type == "ReturnApproved" else detail["aggregate_id"]
    order = ctx.store.load(order_id)
    if order is None:
        raise UnknownOrderForChannel(order_id)
    notifier = ctx.channels(order.channel)
    if notifier is None:
        return "no_channel_api"
    key = f"oms:{detail['event_id']}"  # stable across redeliveries of this event
    if event_type == "RefundRequested":
        return _refund_at_channel(ctx, order, notifier, data["refund_id"])
    if event_type == "ReturnApproved":
        return _return_at_channel(ctx, order, notifier, data["return_id"])
    if event_type == "DeliveryGroupChanged":
        tell = getattr(notifier, "shipping_address_changed", None)  # Shopify's API takes it; SFCC's has no call
        # The channel keeps one shipping address per order: a split order's groups are ours alone.
        if tell is None or "shipping_address" not in data["changed"] or len(order.delivery_groups) != 1:
            return "not_for_channel"
        group = next(g for g in order.delivery_groups if g.group_id == data["group_id"])
        tell(channel_order(order), group.shipping_address, idempotency_key=key)  # the address as it is now
        return "told"
    if event_type == "OrderLinesCancelled":
        items = [ChannelItem(line["channel_line_id"], line["sku"], line["quantity"]) for line in data["lines"]]
        notifier.order_cancelled(channel_order(order), items, whole_order=not order.open_lines(),
                                 reason=data["reason"], idempotency_key=key)
        return "told"
    shipment = _shipment(order, data["shipment_id"])
    if event_type == "ShipmentDelivered" and shipment.status != "delivered":
        return "not_for_channel"  # a late checkpoint showed it went back to the sender
    if event_type == "ShipmentCreated":
        notifier.shipment_shipped(channel_order(order), channel_shipment(order, shipment), key)
    else:
        notifier.shipment_delivered(channel_order(order), channel_shipment(order, shipment), key)
    return "told"


def _refund_at_channel(ctx: Context, order: Order, notifier, refund_id: str) -> str:
    """The channel was paid, so the channel refunds: tell it (once: its adapter reads first),
    then record its answer on the refund's part."""
    from oms.domain.money import to_decimal_string

    from .refunds import record_refund_answer

    refund = order.refund(refund_id)
    if refund["processor"] != "channel" or not order.refund_parts_to_send(refund_id):
        return "not_for_channel"
    # Two deliveries of one message at once would both find no refund at the channel and both
    # make one: the first to commit its claim sends it, the other comes back after the lease.
    claimant, claimed = uuid.uuid4().hex, {}

    def claim(current: Order) -> OrderCommit:
        claimed["ok"] = current.claim_refund(refund_id, claimant, ctx.clock.now(), REFUND_LEASE_SECONDS)
        return OrderCommit(current, [], state_only=claimed["ok"])
    update_order(ctx, order.order_id, claim)
    if not claimed["ok"]:
        raise ChannelUnavailable(f"refund {refund_id} is being sent by another delivery",
                                 retry_after=REFUND_LEASE_SECONDS)
    order = ctx.store.load(order.order_id)
    parts = order.refund_parts_to_send(refund_id)
    if not parts:
        return "not_for_channel"
    left = order.payment.refundable()  # already without this refund, booked as pending
    result = notifier.refund(channel_order(order), ChannelRefund(
        refund_id, to_decimal_string(refund["amount"], order.currency), order.currency, refund["reason"],
        fully_refunded=left <= 0), idempotency_key=refund_id)
    for part in parts:
        record_refund_answer(ctx, order.order_id, part["transaction_id"], result.status, result.reference)
    return "told"


def _return_at_channel(ctx: Context, order: Order, notifier, return_id: str) -> str:
    """Tell the channel about an accepted return once: one delivery at a time (a lease on the
    return), reading the channel first, and marking the return told."""
    from .ports import ReturnCommit
    from .returns import change_return

    claimant, claimed = uuid.uuid4().hex, {"ok": False}

    def claim(ret) -> ReturnCommit | None:
        if ret.channel_told:
            return None
        claimed["ok"] = ret.claim_channel(claimant, ctx.clock.now(), REFUND_LEASE_SECONDS)
        return ReturnCommit(ret, [], state_only=claimed["ok"])
    ret = change_return(ctx, return_id, claim)
    if ret.channel_told:
        return "not_for_channel"
    if not claimed["ok"]:
        raise ChannelUnavailable(f"return {ret.rma_number} is being told by another delivery",
                                 retry_after=REFUND_LEASE_SECONDS)
    items = [ChannelReturnItem(order.line(line.line_id).channel_line_id, line.sku, line.quantity, line.reason)
             for line in ret.lines]
    notifier.return_accepted(channel_order(order), ret.rma_number, items, idempotency_key=ret.rma_number)

    def told(current) -> ReturnCommit:
        current.channel_told = True
        return ReturnCommit(current, [], state_only=True)
    change_return(ctx, return_id, told)
    return "told"


def _shipment(order: Order, shipment_id: str) -> Shipment:
    return next(s for _, s in order.shipments() if s.shipment_id == shipment_id)


def shipping_status(order: Order) -> str:
    goods = [line for line in order.open_lines() if line.requires_shipping]
    if goods and all(line.shipped == line.open_quantity for line in goods):
        return "shipped"
    return "part_shipped" if any(line.shipped for line in goods) else "not_shipped"


def channel_order(order: Order) -> ChannelOrder:
    return ChannelOrder(order.channel, order.external_id, order.channel_order_number, dict(order.channel_context),
                        order.status, shipping_status(order))


def channel_shipment(order: Order, shipment: Shipment) -> ChannelShipment:
    items = [ChannelItem(order.line(item["line_id"]).channel_line_id, item["sku"], item["quantity"])
             for item in shipment.lines]
    return ChannelShipment(shipment.shipment_id, shipment.carrier, shipment.tracking_number, shipment.tracking_url,
                           shipment.service, items)
