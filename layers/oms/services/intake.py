"""Receiving an order from any channel: one order per (channel, external id), ever."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from oms.domain.events import DomainEvent
from oms.domain.order import Hold, Order
from oms.domain.validation import find_problems
from oms.observability import logs

from .canonical import CanonicalOrder, build_order
from .context import Context
from .ports import DuplicateReference, OrderCommit


class ExternalIdConflict(Exception):
    """The channel reused an external id for a different order body."""


@dataclass(frozen=True)
class Received:
    order_id: str
    order_number: str
    created: bool


def body_fingerprint(body: dict) -> str:
    # default=str: SFCC's money arrives as Decimal
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _existing(ctx: Context, channel: str, external_id: str, fingerprint: str) -> Received | None:
    ref = ctx.store.find_external(channel, external_id)
    if ref is None:
        return None
    if ref.body_hash != fingerprint:
        raise ExternalIdConflict(external_id)
    return Received(ref.order_id, ref.order_number, created=False)


def analytics_customer_id(customer: dict) -> str | None:
    """Who ordered, as analytics counts customers: the channel's customer id, else a keyed digest
    of the e-mail address (HMAC: the address cannot be recovered by hashing guesses)."""
    if customer.get("customer_id"):
        return str(customer["customer_id"])
    email = (customer.get("email") or "").strip().lower()
    if not email:
        return None
    from oms.adapters.secrets import analytics_customer_key

    digest = hmac.new(analytics_customer_key().encode(), email.encode(), hashlib.sha256).hexdigest()
    return "email:" + digest[:32]


def new_order(ctx: Context, canonical: CanonicalOrder, channel: str) -> Order:
    return build_order(canonical, order_id=ctx.new_order_id(), order_number=ctx.new_order_number(),
                       channel=channel, received_at=ctx.clock.now())


def preview_problems(ctx: Context, canonical: CanonicalOrder, channel: str) -> list[Hold]:
    """What validation would hold the order for; a call centre agent can fix it while the
    customer is on the line."""
    order = new_order(ctx, canonical, channel)
    return find_problems(order, ctx.inventory.known_skus({line.sku for line in order.lines}))


def receive_order(ctx: Context, canonical: CanonicalOrder, *, channel: str, fingerprint: str,
                  shape: Callable[[Order], None] | None = None) -> Received:
    """`shape` adjusts the new order before it is stored (an exchange's link and hold)."""
    if found := _existing(ctx, channel, canonical.external_id, fingerprint):
        return found
    for _ in range(5):
        order = new_order(ctx, canonical, channel)
        order.correlation_id = logs.correlation_id() or logs.new_correlation_id()
        logs.bind_order(order.order_id, order.correlation_id)
        if shape:
            shape(order)
        event = DomainEvent("OrderReceived", {
            "order_number": order.order_number, "channel": channel, "external_id": order.external_id,
            "channel_order_number": order.channel_order_number, "currency": order.currency,
            "total": order.total, "line_count": len(order.lines), "placed_at": order.placed_at,
            "customer_id": analytics_customer_id(order.customer),
            "lines": [{"line_id": line.line_id, "sku": line.sku, "quantity": line.ordered,
                       "unit_price": line.unit_price} for line in order.lines],
            "shipping_methods": sorted({group.shipping_method for group in order.delivery_groups})})
        try:
            ctx.store.commit(OrderCommit(order, [event], is_new=True, body_hash=fingerprint))
            return Received(order.order_id, order.order_number, created=True)
        except DuplicateReference:
            # Either the same order raced us in (answer as a duplicate) or, rarely, the
            # random order number was taken (draw another).
            if found := _existing(ctx, channel, canonical.external_id, fingerprint):
                return found
    raise DuplicateReference("could not draw a free order number")
