"""Telling the sales channel what happened to its order: shipped, delivered, cancelled.
Each call reads the order as it is now, so a late or repeated message never tells the
channel something older than what it already knows."""
from __future__ import annotations

from oms.domain.order import Order, Shipment

from .context import Context
from .ports import ChannelItem, ChannelOrder, ChannelShipment

TOLD_ABOUT = ("ShipmentCreated", "ShipmentDelivered", "OrderLinesCancelled")


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
    order = ctx.store.load(detail["aggregate_id"])
    if order is None:
        raise UnknownOrderForChannel(detail["aggregate_id"])
    notifier = ctx.channels(order.channel)
    if notifier is None:
        return "no_channel_api"
    key = f"oms:{detail['event_id']}"  # stable across redeliveries of this event
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
