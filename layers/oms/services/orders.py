"""The order pipeline's steps. Each loads the order, asks the domain what happens, and
commits the new state with its events atomically. A step with nothing to do (a duplicate or
late event) commits nothing, so every step is safe to run again."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from oms.domain.events import DomainEvent
from oms.domain.order import Order, OrderRuleViolation
from oms.domain.sourcing import Destination, Site, plan_sourcing
from oms.domain.validation import find_problems
from oms.observability import logs, metrics

from .context import Context
from .ports import ConcurrentModification, InsufficientStock, OrderCommit, StockMove

MAX_ATTEMPTS = 12


class UnknownOrder(LookupError):
    """An event or request names an order the store does not have."""


def update_order(ctx: Context, order_id: str, step: Callable[[Order], OrderCommit | None]) -> list[DomainEvent]:
    """Load, apply, commit; on a lost race (version or stock condition) reload and try again."""
    for attempt in range(MAX_ATTEMPTS):
        order = ctx.store.load(order_id)
        if order is None:
            raise UnknownOrder(order_id)
        logs.bind_order(order_id, order.correlation_id)
        change = step(order)
        if change is None or not (change.events or change.state_only):
            return []
        try:
            ctx.store.commit(change)
            return change.events
        except InsufficientStock:  # another order took the last units first: plan again with what is left
            metrics.count("OversellConflictsRetried")
            ctx.backoff(attempt)
        except ConcurrentModification:
            ctx.backoff(attempt)
    raise ConcurrentModification(order_id)


def validate_order(ctx: Context, order_id: str) -> list[DomainEvent]:
    """Validate, and source a valid order in the same commit (one write instead of two; the
    OrderValidated consumer then finds nothing left to allocate)."""
    def step(order: Order) -> OrderCommit:
        problems = find_problems(order, ctx.inventory.known_skus({line.sku for line in order.lines}))
        events = order.record_validation(problems)
        allocation = _allocation(ctx, order)
        if allocation is None:
            return OrderCommit(order, events)
        allocation.events[:0] = events
        return allocation
    return update_order(ctx, order_id, step)


def allocate_order(ctx: Context, order_id: str) -> list[DomainEvent]:
    return update_order(ctx, order_id, lambda order: _allocation(ctx, order))


def _allocation(ctx: Context, order: Order) -> OrderCommit | None:
    """Source what is unallocated. (The authorisation is not decided here: an order may be
    cancelled or changed before the payments queue gets to it.)"""
    if not order.needs_allocation():
        return None
    stock = [level for level in ctx.inventory.stock_levels({line.sku for line in order.lines if line.unallocated})
             if f"{level.sku}@{level.location_id}#{level.version}" not in order.excluded_stock]
    sites = {loc: site for loc, site in _sites(ctx).items() if loc not in order.excluded_locations}
    plan, decisions = plan_sourcing(order.lines, stock, sites, _destinations(order))
    was_waiting = "backorder" in order.hold_types()
    already = {(a.location_id, order.line(a.line_id).delivery_group) for a in order.allocations}
    events = order.record_allocation(plan)
    if plan or events:  # a decision that changed something (not every sweep of a waiting backorder)
        order.sourcing = (order.sourcing + [{**d, "at": ctx.clock.now()} for d in decisions])[-20:]
    events += order.create_fulfillment_orders()  # a paid order sourced again: its new units ship too
    backorder = None
    if order.fully_allocated and was_waiting:
        backorder = "done"
    elif not order.fully_allocated and not was_waiting:
        backorder = "wait"
    return OrderCommit(order, events, backorder=backorder,
                       stock_moves=[StockMove(a.sku, a.location_id, reserve=a.quantity) for a in plan],
                       demand=[(a.sku, a.location_id, a.quantity) for a in plan],
                       # one fulfilment order per new (location, delivery group): its capacity
                       load=[loc for loc, _ in sorted({(a.location_id, order.line(a.line_id).delivery_group)
                                                       for a in plan} - already)])


def _sites(ctx: Context) -> dict[str, Site]:
    """Every location as sourcing sees it, with today's load against its capacity."""
    locations = ctx.inventory.locations()
    limited = [loc.location_id for loc in locations if loc.daily_capacity is not None]
    taken = ctx.inventory.orders_taken(limited, ctx.clock.now()[:10]) if limited else {}
    def site(loc) -> Site:
        located = loc.latitude is not None and loc.longitude is not None
        full = loc.daily_capacity is not None and taken.get(loc.location_id, 0) >= loc.daily_capacity
        return Site(loc.location_id, loc.priority, (loc.latitude, loc.longitude) if located else None, loc.ships, full)
    return {loc.location_id: site(loc) for loc in locations}


def _destinations(order: Order) -> dict[str, Destination]:
    """Each delivery group's shipping address as coordinates: the channel's, else its postal code's
    centroid, else none (sourced by priority)."""
    from oms.adapters.postal_centroids import centroid

    found = {}
    for group in order.delivery_groups:
        address = group.shipping_address or {}
        if address.get("latitude") is not None and address.get("longitude") is not None:
            found[group.group_id] = Destination(group.group_id, (float(address["latitude"]),
                                                                 float(address["longitude"])), "address")
            continue
        point = centroid(address.get("country") or "", address.get("postal_code") or "")
        found[group.group_id] = Destination(group.group_id, point, "postal_code" if point else "none")
    return found


def source_again(ctx: Context, sku: str, location_id: str, lacking: int, reason: str) -> list[dict]:
    """A location has fewer units than its orders hold: the newest orders give theirs back and
    are sourced again elsewhere, or backordered. Returns [{"order_id", "quantity"}]."""
    moved = []
    for order_id, units in ctx.inventory.holders(location_id, sku):
        if lacking <= 0:
            break
        events = update_order(ctx, order_id, _give_back(sku, location_id, min(units, lacking), reason))
        given = sum(e.data["quantity"] for e in events if e.event_type == "ReservationWithdrawn")
        if given:
            lacking -= given
            moved.append({"order_id": order_id, "quantity": given})
            allocate_order(ctx, order_id)
    return moved


def _give_back(sku: str, location_id: str, units: int, reason: str) -> Callable[[Order], OrderCommit]:
    def step(order: Order) -> OrderCommit:
        events, released = order.withdraw_reservation(sku, location_id, units, reason)
        return OrderCommit(order, events, stock_moves=[StockMove(a.sku, a.location_id, release=a.quantity)
                                                       for a in released],
                           demand=[(a.sku, a.location_id, -a.quantity) for a in released])  # counted where it ships
    return step


def reservation_ttl_seconds() -> int:
    return int(os.environ.get("OMS_RESERVATION_TTL_SECONDS", "3600"))


def expire_reservations(ctx: Context) -> int:
    """Give back the stock of orders that held it longer than OMS_RESERVATION_TTL_SECONDS for a
    payment that did not come, read from their index; returns how many orders gave stock back."""
    ttl, now, expired = reservation_ttl_seconds(), ctx.clock.now(), 0

    def step(order: Order) -> OrderCommit | None:
        events, released = order.expire_reservations(now, ttl)
        if not events:
            return None
        return OrderCommit(order, events, stock_moves=[StockMove(a.sku, a.location_id, release=a.quantity)
                                                       for a in released],
                           demand=[(a.sku, a.location_id, -a.quantity) for a in released])  # counted again when paid
    from datetime import UTC, datetime, timedelta

    cutoff = (datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(seconds=ttl)).astimezone(UTC)
    for order_id in ctx.store.expiring_reservations(cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                                    100):
        expired += bool(update_order(ctx, order_id, step))
    return expired


def retry_backorders(ctx: Context, sku: str | None = None) -> int:
    """Offer stock to waiting orders first come, first served; returns how many moved."""
    moved = 0
    for order_id, skus in ctx.store.backordered_orders():
        if sku is None or sku in skus:
            if allocate_order(ctx, order_id):
                moved += 1
    return moved


def release_hold(ctx: Context, order_id: str, hold_type: str, reason: str) -> list[DomainEvent]:
    return update_order(ctx, order_id, lambda order: OrderCommit(
        order, order.release_hold(hold_type, reason, ctx.clock.now())))


def change_delivery_group(ctx: Context, order_id: str, group_id: str, *, shipping_address: dict | None,
                          shipping_method: str | None) -> list[DomainEvent]:
    """An agent corrects where (or how) a group ships before anything of it left. The
    reservations stay where they are: stock already held is not moved for a nearer location."""
    return update_order(ctx, order_id, lambda order: OrderCommit(order, order.change_delivery_group(
        group_id, shipping_address=shipping_address, shipping_method=shipping_method)))


def create_fulfillment_orders(ctx: Context, order_id: str) -> list[DomainEvent]:
    return update_order(ctx, order_id, lambda order: OrderCommit(order, order.create_fulfillment_orders()))


def decide_capture(ctx: Context, order: Order, shipment_id: str) -> None:
    """What shipped parcels are worth is decided in the shipment's own commit (the capture step
    then only makes it): one write fewer. Not when the authorisation has less than a day left:
    the capture step renews it first, and a planned capture would stop that."""
    if not order.authorization_expired(ctx.clock.now(), ctx.authorization_validity_days - 1):
        order.plan_capture(shipment_id, ctx.clock.now())


@dataclass
class ShipResult:
    order: Order
    shipment: dict
    created: bool


def ship_fulfillment_order(ctx: Context, fulfillment_order_id: str, *, carrier: str, tracking_number: str,
                           service: str, lines: list[dict] | None) -> ShipResult:
    order_id = fulfillment_order_id.rsplit("-F", 1)[0]
    result: dict = {}

    def step(order: Order) -> OrderCommit:
        shipment, events = order.ship(fulfillment_order_id, carrier=carrier, tracking_number=tracking_number,
                                      service=service, lines=lines, now=ctx.clock.now())
        location = order.fulfillment_order(fulfillment_order_id).location_id
        result["shipment"], result["order"] = shipment, order
        if events:
            decide_capture(ctx, order, shipment.shipment_id)
        return OrderCommit(order, events, tracking_numbers=[tracking_number] if events else [],
                           stock_moves=[StockMove(i["sku"], location, ship=i["quantity"])
                                        for i in (events[0].data["lines"] if events else [])])
    try:
        events = update_order(ctx, order_id, step)
    except UnknownOrder:
        raise OrderRuleViolation("not_found", f"no fulfillment order {fulfillment_order_id}") from None
    return ShipResult(result["order"], result["shipment"], bool(events))


def cancel_order(ctx: Context, order_id: str, requested: dict[str, int] | None, *, reason: str,
                 source: str) -> list[DomainEvent]:
    """Cancel what has not shipped (all of it, or so many units per line), giving the
    reservations back to stock in the same transaction."""
    def step(order: Order) -> OrderCommit:
        was_waiting = "backorder" in order.hold_types()
        events, released = order.cancel(requested, reason=reason, source=source)
        leaves_queue = was_waiting and (order.fully_allocated or not order.open_lines())
        return OrderCommit(order, events, backorder="done" if leaves_queue else None,
                           stock_moves=[StockMove(a.sku, a.location_id, release=a.quantity) for a in released])
    return update_order(ctx, order_id, step)


def apply_tracking_update(ctx: Context, update: dict) -> str:
    """Returns "applied", "duplicate" or "unmatched" (kept, so the carrier stops retrying). A
    parcel coming back to us (a return's) moves the return."""
    return_id = ctx.returns.find_return_by_tracking(update["tracking_number"]) if ctx.returns else None
    if return_id:
        from oms.domain.returns import Return

        from .ports import ReturnCommit
        from .returns import change_return

        changed: list[bool] = []

        def step(ret: Return) -> ReturnCommit:
            seen = len(ret.tracking["events"]) if ret.tracking else 0
            events = ret.apply_tracking(update.get("checkpoints", []))
            changed[:] = [bool(ret.tracking) and len(ret.tracking["events"]) != seen]
            return ReturnCommit(ret, events, state_only=changed[0])
        change_return(ctx, return_id, step)
        return "applied" if changed and changed[0] else "duplicate"
    order_id = ctx.store.find_by_tracking_number(update["tracking_number"])
    if order_id is None:
        ctx.store.record_unmatched_tracking(update["tracking_number"], update, ctx.clock.now())
        return "unmatched"
    kept: list[bool] = [False]

    def step(order: Order) -> OrderCommit:
        events = order.apply_tracking(update["tracking_number"], update)
        kept[0] = not events and order.keep_early_tracking(update["tracking_number"], update)
        return OrderCommit(order, events, state_only=kept[0])
    events = update_order(ctx, order_id, step)
    return "applied" if events or kept[0] else "duplicate"
