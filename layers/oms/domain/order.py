"""The order aggregate: lines with quantity buckets, delivery groups, allocations, holds and
cancellation. Fulfilment (fulfillment.py) and payment (order_payments.py, payment.py) are
its other parts, mixed in. Every change returns the domain events that describe it;
a method that has nothing to do (a duplicate or late delivery) returns no events."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from .events import DomainEvent
from .fulfillment import (  # noqa: F401  (the tracking names are part of the order's vocabulary)
    TRACKING_ALERTS,
    TRACKING_FINAL,
    TRACKING_RANK,
    TRACKING_STATUSES,
    FulfillmentOrder,
    OrderFulfillment,
    Shipment,
    _moment,
    tracking_status,
)
from .holds import (  # noqa: F401
    CAPTURE_HOLDS,
    CHANNEL_PAYMENT_HOLDS,
    DISPUTE_HOLDS,
    EXCHANGE_HOLDS,
    EXPIRY_HOLDS,
    PAYMENT_HOLDS,
    REFUND_HOLDS,
    SELF_CLEARING_HOLDS,
    SIZE_HOLDS,
    VALIDATION_HOLDS,
    Hold,
    OrderRuleViolation,
)
from .order_disputes import OrderDisputes
from .order_edits import OrderEdits
from .order_payments import OrderPayments
from .order_refunds import OrderRefunds
from .order_returns import OrderReturns
from .order_warehouse import OrderWarehouse
from .payment import SETTLED_PAYMENT, Payment

STATUSES = ("received", "on_hold", "processing", "partially_shipped", "shipped",
            "partially_delivered", "delivered", "cancelled")


@dataclass
class Line:
    line_id: str
    sku: str
    name: str
    unit_price: int
    delivery_group: str
    ordered: int
    cancelled: int = 0
    allocated: int = 0
    shipped: int = 0
    delivered: int = 0
    channel_line_id: str | None = None
    discount: int = 0
    tax: int = 0
    returned: int = 0  # delivered units that came back (in any condition but missing)
    returned_for_customer_reasons: int = 0  # of those, returned for the customer's reasons
    # False for gift cards and digital goods: the channel delivers them, so they are
    # allocated, shipped and delivered from the start and never reach a warehouse.
    requires_shipping: bool = True

    @property
    def open_quantity(self) -> int:
        return self.ordered - self.cancelled

    @property
    def unallocated(self) -> int:
        return self.open_quantity - self.allocated

    @property
    def status(self) -> str:
        open_qty = self.open_quantity
        if open_qty == 0:
            return "cancelled"
        if self.delivered == open_qty:
            return "delivered"
        if self.delivered:
            return "partially_delivered"
        if self.shipped == open_qty:
            return "shipped"
        if self.shipped:
            return "partially_shipped"
        if self.allocated == open_qty:
            return "allocated"
        if self.allocated:
            return "partially_allocated"
        return "open"


@dataclass
class DeliveryGroup:
    group_id: str
    shipping_address: dict
    shipping_method: str
    shipping_total: int


@dataclass
class Allocation:
    line_id: str
    sku: str
    location_id: str
    quantity: int


@dataclass
class Order(OrderPayments, OrderRefunds, OrderDisputes, OrderReturns, OrderFulfillment, OrderEdits,
            OrderWarehouse):
    order_id: str
    order_number: str
    channel: str
    external_id: str
    channel_order_number: str
    placed_at: str
    received_at: str
    currency: str
    customer: dict
    billing_address: dict
    delivery_groups: list[DeliveryGroup]
    lines: list[Line]
    tax_total: int
    discount_total: int
    total: int
    payment: Payment
    holds: list[Hold] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    fulfillment_orders: list[FulfillmentOrder] = field(default_factory=list)
    validated: bool = False
    taxes_included: bool = False
    channel_context: dict = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)
    # Its returns: {return_id: {"rma_number", "status", "lines": {line_id: units still claimed}}}
    returns: dict = field(default_factory=dict)
    shipping_returned: list[str] = field(default_factory=list)  # delivery groups whose shipping was refunded
    exchange_for_return_id: str | None = None  # an exchange order: the return it replaces units of
    # Why its units ship from where they do: each sourcing's decision per delivery group (the last 20).
    sourcing: list[dict] = field(default_factory=list)
    # Locations that rejected it: never sourced again for it. `<sku>@<location>#<version>` a picker
    # did not find: not sourced again for it until that stock item is written again (counted, received).
    excluded_locations: list[str] = field(default_factory=list)
    excluded_stock: list[str] = field(default_factory=list)
    # Ties the order's log lines and events together, from its webhook on (X-Correlation-Id).
    correlation_id: str | None = None
    # Persistence bookkeeping set by the store: optimistic-lock version and history length.
    version: int = 0
    history_length: int = 0

    # ---- derived -------------------------------------------------------------------------
    @property
    def shipping_total(self) -> int:
        return sum(g.shipping_total for g in self.delivery_groups)

    @property
    def merchandise_total(self) -> int:
        return sum(line.unit_price * line.ordered for line in self.lines)

    @property
    def fully_allocated(self) -> bool:
        return all(line.unallocated == 0 for line in self.lines)

    @property
    def status(self) -> str:
        open_lines = [line for line in self.lines if line.open_quantity]
        if not open_lines:
            return "cancelled"
        if all(line.delivered == line.open_quantity for line in open_lines):
            return "delivered"
        if self.holds:
            return "on_hold"
        # Lines the channel delivers itself (gift cards) say nothing about the parcels.
        open_lines = [line for line in open_lines if line.requires_shipping]
        if any(line.delivered for line in open_lines):
            return "partially_delivered"
        if all(line.shipped == line.open_quantity for line in open_lines):
            return "shipped"
        if any(line.shipped for line in open_lines):
            return "partially_shipped"
        if self.fulfillment_orders or self.payment.status in SETTLED_PAYMENT:
            return "processing"
        return "received"

    def open_lines(self) -> list[Line]:
        return [line for line in self.lines if line.open_quantity]

    def unit_values(self) -> dict[str, Fraction]:
        """What one unit of each line is worth: the line's own value after its discounts (with
        its tax), scaled so that the lines add up to the total less shipping; order-level
        discounts and taxes so fall with the units they belong to."""
        own = {line.line_id: max(0, line.unit_price * line.ordered - line.discount
                                 + (0 if self.taxes_included else line.tax)) for line in self.lines}
        if not sum(own.values()):  # nothing has a value of its own: share by quantity
            own = {line.line_id: line.ordered for line in self.lines}
        base, goods = sum(own.values()), max(0, self.total - self.shipping_total)
        return {line.line_id: Fraction(own[line.line_id] * goods, base * line.ordered) for line in self.lines}

    @property
    def amount_due(self) -> int:
        """What the order is worth after cancellations: each cancelled unit takes its value
        off (see unit_values); shipping stays unless everything is cancelled."""
        if not self.open_lines():
            return 0
        values = self.unit_values()
        return self.total - int(sum(values[line.line_id] * line.cancelled for line in self.lines))

    def line(self, line_id: str) -> Line:
        return next(line for line in self.lines if line.line_id == line_id)

    def hold_types(self) -> set[str]:
        return {hold.type for hold in self.holds}

    def fulfillment_order(self, fulfillment_order_id: str) -> FulfillmentOrder:
        for fo in self.fulfillment_orders:
            if fo.fulfillment_order_id == fulfillment_order_id:
                return fo
        raise OrderRuleViolation("not_found", f"no fulfillment order {fulfillment_order_id}")

    def shipments(self) -> list[tuple[FulfillmentOrder, Shipment]]:
        return [(fo, s) for fo in self.fulfillment_orders for s in fo.shipments]

    # ---- holds -----------------------------------------------------------------------------
    def _place_holds(self, holds: list[Hold]) -> list[DomainEvent]:
        new: list[Hold] = []
        for hold in holds:
            if hold.type not in self.hold_types() | {h.type for h in new}:
                new.append(hold)
        self.holds.extend(new)
        return [DomainEvent("OrderHeld", {"hold_type": h.type, "detail": h.detail}) for h in new]

    def _release_hold(self, hold_type: str, reason: str) -> list[DomainEvent]:
        if hold_type not in self.hold_types():
            return []
        self.holds = [h for h in self.holds if h.type != hold_type]
        return [DomainEvent("HoldReleased", {"hold_type": hold_type, "reason": reason})]

    def release_hold(self, hold_type: str, reason: str, now: str = "") -> list[DomainEvent]:
        """An operator clears a hold after dealing with its cause; the pipeline resumes at the
        step the hold stopped (validation holds count as validated, payment holds retry, an
        awaiting_payment hold records the channel's payment)."""
        if hold_type not in self.hold_types():
            raise OrderRuleViolation("not_found", f"the order has no {hold_type} hold")
        if hold_type in SELF_CLEARING_HOLDS:
            raise OrderRuleViolation("hold_not_releasable", f"a {hold_type} hold clears itself")
        if hold_type in SIZE_HOLDS:
            raise OrderRuleViolation("hold_not_releasable", "the order has more SKUs than one shipment can carry: "
                                     "cancel it and place it again in parts")
        if hold_type in CHANNEL_PAYMENT_HOLDS:
            if self.payment.method == "card":  # a refused exchange difference an operator collected
                self.payment.method, self.payment.channel_status, self.payment.status = "channel", "pending", "pending"
            return self.record_channel_paid(now, f"released by an operator: {reason}")
        events = self._release_hold(hold_type, f"released by an operator: {reason}")
        if hold_type in PAYMENT_HOLDS:
            self.payment.status = "pending"
        if hold_type in CAPTURE_HOLDS:
            # The authorisation can no longer be captured: authorise again what is still due.
            events += self._release_authorization(f"released by an operator: {reason}", now)
            self.payment.status = "pending" if self.amount_due > self.payment.captured else "authorized"
        if hold_type in VALIDATION_HOLDS and not self.hold_types() & set(VALIDATION_HOLDS):
            self.validated = True
            events.append(DomainEvent("OrderValidated", {}))
        return events

    # ---- pipeline steps --------------------------------------------------------------------
    def release_awaiting_return(self) -> list[DomainEvent]:
        """An exchange order's return arrived: the replacement may ship."""
        return self._release_hold("awaiting_return", "the units it replaces are back")

    def explain_hold(self, hold_type: str, detail: str) -> bool:
        """Say why a hold stays (an operator must now decide); False if nothing changed."""
        hold = next((h for h in self.holds if h.type == hold_type), None)
        if hold is None or hold.detail == detail:
            return False
        hold.detail = detail
        return True

    def record_validation(self, problems: list[Hold]) -> list[DomainEvent]:
        if self.validated or self.hold_types() & set(VALIDATION_HOLDS):
            return []
        if problems:
            return self._place_holds(problems)
        self.validated = True
        return [DomainEvent("OrderValidated", {})]

    def needs_allocation(self) -> bool:
        # An exchange waiting for its return still reserves its replacement units.
        blocked = self.hold_types() - {"backorder", "awaiting_return"}
        return self.validated and not blocked and not self.fully_allocated

    def record_allocation(self, reserved: list[Allocation]) -> list[DomainEvent]:
        """Keep what was reserved; hold the order as backordered for the rest."""
        events: list[DomainEvent] = []
        asked: dict[str, int] = {}
        for allocation in reserved:
            asked[allocation.line_id] = asked.get(allocation.line_id, 0) + allocation.quantity
        for line_id, quantity in asked.items():
            if quantity <= 0 or quantity > self.line(line_id).unallocated:
                raise OrderRuleViolation("over_allocation", f"line {line_id} cannot take {quantity} more units")
        for allocation in reserved:
            self.line(allocation.line_id).allocated += allocation.quantity
            self._merge_allocation(allocation)
        if reserved:
            events.append(DomainEvent("InventoryReserved", {
                "reservations": [asdict(a) for a in reserved]}))
        if self.fully_allocated:
            events += self._release_hold("backorder", "stock reserved for every line")
            events.append(DomainEvent("OrderAllocated", {"allocations": [asdict(a) for a in self.allocations]}))
        else:
            short: dict[str, int] = {}
            for line in self.lines:
                short[line.sku] = short.get(line.sku, 0) + line.unallocated
            short = {sku: qty for sku, qty in short.items() if qty}
            detail = ", ".join(f"{sku} x{qty}" for sku, qty in sorted(short.items()))
            events += self._place_holds([Hold("backorder", f"waiting for stock: {detail}")])
        return events

    def _merge_allocation(self, new: Allocation) -> None:
        for existing in self.allocations:
            if (existing.line_id, existing.location_id) == (new.line_id, new.location_id):
                existing.quantity += new.quantity
                return
        self.allocations.append(Allocation(new.line_id, new.sku, new.location_id, new.quantity))

    # ---- cancellation ----------------------------------------------------------------------
    def cancellable(self, line: Line) -> int:
        return line.open_quantity - line.shipped

    def cancel(self, requested: dict[str, int] | None, *, reason: str, source: str
               ) -> tuple[list[DomainEvent], list[Allocation]]:
        """Cancel units that have not shipped: every one (requested None) or so many per line.
        Returns the events and the reservations given back to stock."""
        wanted = {line.line_id: self.cancellable(line) for line in self.lines} if requested is None else requested
        for line_id, quantity in wanted.items():
            line = next((x for x in self.lines if x.line_id == line_id), None)
            if line is None:
                raise OrderRuleViolation("not_found", f"the order has no line {line_id}")
            if not isinstance(quantity, int) or quantity < 0 or quantity > self.cancellable(line):
                raise OrderRuleViolation("quantity_exceeds_cancellable",
                                         f"line {line_id}: {self.cancellable(line)} unit(s) can still be cancelled")
        wanted = {line_id: quantity for line_id, quantity in wanted.items() if quantity}
        if not wanted:
            return [], []
        was_backordered, was_delivered = "backorder" in self.hold_types(), self.status == "delivered"
        released: list[Allocation] = []
        for line_id, quantity in wanted.items():
            line = self.line(line_id)
            from_stock = max(0, quantity - line.unallocated)  # unreserved units go first: nothing to give back
            released += self._release_reservations(line, from_stock)
            line.allocated -= from_stock
            line.cancelled += quantity
        self.allocations = [a for a in self.allocations if a.quantity]
        self._settle_fulfillment_orders()
        events = [DomainEvent("OrderLinesCancelled", {
            "channel": self.channel,
            "lines": [{"line_id": line_id, "sku": self.line(line_id).sku, "quantity": quantity,
                       "channel_line_id": self.line(line_id).channel_line_id} for line_id, quantity in wanted.items()],
            "released": [asdict(a) for a in released], "reason": reason, "source": source,
            "amount_due": self.amount_due})]
        if not self.open_lines():
            for hold in list(self.holds):
                events += self._release_hold(hold.type, "the order was cancelled")
            events.append(DomainEvent("OrderCancelled", {"reason": reason, "source": source}))
        elif was_backordered and self.fully_allocated:
            events += self._release_hold("backorder", "the units still waiting were cancelled")
            events.append(DomainEvent("OrderAllocated", {"allocations": [asdict(a) for a in self.allocations]}))
        if self.status == "delivered" and not was_delivered:  # what is left had all been delivered
            last = max((s.delivered_at for _, s in self.shipments() if s.delivered_at), key=_moment, default=None)
            if last:  # None: only lines the channel delivers itself are left
                events.append(DomainEvent("OrderDelivered", {"delivered_at": last}))
        return events, released

    def holding_stock_unpaid_since(self) -> str | None:
        """Since when this order has held stock waiting for its payment (None: it holds none, or
        is not waiting)."""
        hold = next((h for h in self.holds if h.type == "awaiting_payment" and h.since), None)
        return hold.since if hold and self.reserved_stock() else None

    def expire_reservations(self, now: str, ttl_seconds: int) -> tuple[list[DomainEvent], list[Allocation]]:
        """Stock held longer than `ttl_seconds` for a payment that has not come goes back to be
        sold; the order is sourced again when the payment arrives."""
        since = self.holding_stock_unpaid_since()
        if since is None or (_moment(now) - _moment(since)).total_seconds() < ttl_seconds:
            return [], []
        released: list[Allocation] = []
        for line in self.lines:
            taken = self._release_reservations(line, line.allocated)
            line.allocated -= sum(a.quantity for a in taken)
            released += taken
        self.allocations = [a for a in self.allocations if a.quantity]
        self._settle_fulfillment_orders()
        events = [DomainEvent("InventoryReleased", {"released": [asdict(a) for a in released],
                                                    "reason": f"unpaid for {ttl_seconds} seconds"})]
        return events + self._place_holds([Hold("reservation_expired", f"its stock went back after {ttl_seconds} s "
                                                                       f"without payment; it is sourced again when "
                                                                       f"the payment arrives")]), released

    def withdraw_reservation(self, sku: str, location_id: str, units: int,
                             reason: str) -> tuple[list[DomainEvent], list[Allocation]]:
        """Units this order held at a location are not there after all (a count found less):
        give back up to `units` of them, to be sourced again elsewhere or backordered."""
        released: list[Allocation] = []
        for line in (x for x in self.lines if x.sku == sku):
            taken = self._release_reservations(line, units - sum(a.quantity for a in released), location_id)
            line.allocated -= sum(a.quantity for a in taken)
            released += taken
        self.allocations = [a for a in self.allocations if a.quantity]
        self._settle_fulfillment_orders()
        if not released:
            return [], []
        return [DomainEvent("ReservationWithdrawn", {"sku": sku, "location_id": location_id,
                                                     "quantity": sum(a.quantity for a in released),
                                                     "reason": reason})], released

    def _settle_fulfillment_orders(self) -> None:
        """A fulfilment order with nothing left to ship is shipped, delivered, or (never shipped) cancelled."""
        for fo in self.fulfillment_orders:
            if all(fl["shipped"] == fl["quantity"] for fl in fo.lines):
                fo.status = ("delivered" if fo.shipments and all(s.status == "delivered" for s in fo.shipments)
                             else "shipped" if fo.shipments else "cancelled")

    def _release_reservations(self, line: Line, quantity: int, location_id: str | None = None) -> list[Allocation]:
        """Give back reserved, unshipped units of a line (at one location, or any), taking them
        off its fulfilment orders."""
        released = []
        for allocation in (a for a in self.allocations if a.line_id == line.line_id
                           and location_id in (None, a.location_id)):
            fo_lines = [(fo, fl) for fo in self.fulfillment_orders if fo.location_id == allocation.location_id
                        for fl in fo.lines if fl["line_id"] == line.line_id]
            shipped_here = sum(fl["shipped"] for _, fl in fo_lines)
            take = min(quantity, allocation.quantity - shipped_here)
            if take <= 0:
                continue
            allocation.quantity -= take
            quantity -= take
            left = take
            for fo, fl in fo_lines:
                cut = min(left, fl["quantity"] - fl["shipped"])
                if cut:
                    fl["quantity"] -= cut
                    left -= cut
                    self.after_units_left(fo)  # what was picked or packed of it no longer matches
            released.append(Allocation(line.line_id, line.sku, allocation.location_id, take))
        return released

    # ---- persistence shape ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["version"], data["history_length"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        data = dict(data)
        data["delivery_groups"] = [DeliveryGroup(**g) for g in data["delivery_groups"]]
        data["lines"] = [Line(**line) for line in data["lines"]]
        data["payment"] = Payment(**data["payment"])
        data["holds"] = [Hold(**h) for h in data["holds"]]
        data["allocations"] = [Allocation(**a) for a in data["allocations"]]
        data["fulfillment_orders"] = [
            FulfillmentOrder(**{**fo, "shipments": [Shipment(**s) for s in fo["shipments"]]})
            for fo in data["fulfillment_orders"]]
        return cls(**data)
