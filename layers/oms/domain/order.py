"""The order aggregate: lines with quantity buckets, delivery groups, fulfilment orders,
shipments, payment and holds. Every change returns the domain events that describe it;
a method that has nothing to do (a duplicate or late delivery) returns no events."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from .events import DomainEvent

SETTLED_PAYMENT = ("authorized", "paid", "channel_authorized")  # the order may ship
STATUSES = ("received", "on_hold", "processing", "partially_shipped", "shipped",
            "partially_delivered", "delivered", "cancelled")

VALIDATION_HOLDS = ("invalid_address", "invalid_customer", "unknown_sku", "totals_mismatch")
PAYMENT_HOLDS = ("payment_declined", "payment_error")
# The processor refused a capture (e.g. the authorisation expired): shipping stops until an
# operator has dealt with it; releasing the hold tries the capture again.
CAPTURE_HOLDS = ("capture_failed",)
# A hold that clears itself when stock arrives: not an operator's to release.
SELF_CLEARING_HOLDS = ("backorder",)
# The channel has not been paid: cleared when it reports payment (Shopify orders/paid), or by an
# operator who confirms the payment arrived another way (SFCC sends no such event).
CHANNEL_PAYMENT_HOLDS = ("awaiting_payment",)

# Carrier statuses in the order a parcel moves through them: a shipment never moves back down
# this list. Alerts sit beside it (an operator must look); a later progress checkpoint clears one.
TRACKING_RANK = {"label_created": 0, "info_received": 0, "in_transit": 1, "out_for_delivery": 2,
                 "available_for_pickup": 2, "delivered": 3, "returned_to_sender": 3}
TRACKING_ALERTS = ("exception", "attempt_failed", "expired")
TRACKING_FINAL = ("delivered", "returned_to_sender")
TRACKING_STATUSES = tuple(s for s in TRACKING_RANK if s != "label_created") + TRACKING_ALERTS
CHECKPOINT_FIELDS = ("status", "occurred_at", "description", "location", "carrier_status")


def tracking_status(checkpoints: list[dict]) -> str:
    """A shipment's status from its checkpoints in carrier time: a pure function of the set,
    so the same checkpoints in any arrival order, any number of times, give the same status."""
    status, rank = "label_created", 0
    for checkpoint in checkpoints:
        if status in TRACKING_FINAL:
            break
        new = checkpoint["status"]
        if new in TRACKING_ALERTS:
            status = new
        elif TRACKING_RANK[new] >= rank:
            status, rank = new, TRACKING_RANK[new]
    return status


def _moment(text: str) -> datetime:
    # Times compare as moments, not as text: "10:00:00.5Z" is after "10:00:00Z".
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _checkpoint_order(checkpoint: dict) -> tuple:
    # Checkpoints at the same moment go in the order a parcel moves (alerts beside in_transit).
    rank = TRACKING_RANK.get(checkpoint["status"], 1)
    rest = tuple(checkpoint.get(k) or "" for k in CHECKPOINT_FIELDS)
    return (_moment(checkpoint["occurred_at"]), rank, *rest)


class OrderRuleViolation(ValueError):
    """A request that the order's current state does not allow (a 409/422 for a caller)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Hold:
    type: str
    detail: str


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
class Shipment:
    shipment_id: str
    carrier: str
    tracking_number: str
    service: str
    status: str
    shipped_at: str
    lines: list[dict]
    estimated_delivery: str | None = None
    delivered_at: str | None = None
    events: list[dict] = field(default_factory=list)
    signed_by: str | None = None
    tracking_url: str | None = None


@dataclass
class FulfillmentOrder:
    fulfillment_order_id: str
    location_id: str
    delivery_group: str
    status: str
    lines: list[dict]
    shipments: list[Shipment] = field(default_factory=list)

    def remaining(self, line_id: str) -> int:
        line = next(fl for fl in self.lines if fl["line_id"] == line_id)
        return line["quantity"] - line["shipped"]


@dataclass
class Payment:
    method: str
    currency: str
    token: str | None = None
    reference: str | None = None
    # pending | authorized | declined | failed | paid | channel_authorized | voided
    status: str = "pending"
    channel_status: str | None = None  # for method "channel": paid | authorized | pending at the channel
    authorization_id: str | None = None
    authorized: int = 0
    captured: int = 0
    refunded: int = 0
    transactions: list[dict] = field(default_factory=list)
    # A capture decided and committed before the processor is called, so that a retry or a
    # concurrent step repeats the same call (same key, same amount) instead of charging again.
    pending_capture: dict | None = None
    pending_authorization: dict | None = None  # the same, for the authorisation


@dataclass
class Order:
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
            raise OrderRuleViolation("hold_not_releasable", f"a {hold_type} hold clears itself when stock arrives")
        if hold_type in CHANNEL_PAYMENT_HOLDS:
            return self.record_channel_paid(now, f"released by an operator: {reason}")
        events = self._release_hold(hold_type, f"released by an operator: {reason}")
        if hold_type in PAYMENT_HOLDS:
            self.payment.status = "pending"
        if hold_type in CAPTURE_HOLDS:
            # The authorisation could not be captured (expired, say): authorise what is left again.
            self.payment.status, self.payment.authorization_id = "pending", None
        if hold_type in VALIDATION_HOLDS and not self.hold_types() & set(VALIDATION_HOLDS):
            self.validated = True
            events.append(DomainEvent("OrderValidated", {}))
        return events

    def authorization_key(self) -> str:
        """Idempotency key of the next authorisation: a new one after an answer (approved,
        declined, refused); the same one after a request that got no answer (status "failed"),
        since the processor may have acted on it: asking again must not authorise twice."""
        answered = sum(1 for t in self.payment.transactions
                       if t["type"] == "authorization" and t["status"] != "failed")
        return f"{self.order_id}:authorize:{answered + 1}"

    # ---- pipeline steps --------------------------------------------------------------------
    def record_validation(self, problems: list[Hold]) -> list[DomainEvent]:
        if self.validated or self.hold_types() & set(VALIDATION_HOLDS):
            return []
        if problems:
            return self._place_holds(problems)
        self.validated = True
        return [DomainEvent("OrderValidated", {})]

    def needs_allocation(self) -> bool:
        blocked = self.hold_types() - {"backorder"}
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

    def needs_payment(self) -> bool:
        return (self.fully_allocated and self.validated and self.payment.status == "pending"
                and not self.hold_types() and bool(self.open_lines()))

    def record_prepaid(self, now: str) -> list[DomainEvent]:
        """The channel took the payment (or holds the authorisation and captures it itself):
        record it. A channel order not paid yet waits on an awaiting_payment hold."""
        if not self.needs_payment() or self.payment.method not in ("prepaid", "channel"):
            return []
        at_channel = self.payment.channel_status
        if at_channel == "pending":
            return self._place_holds([Hold("awaiting_payment", "the channel has not taken the payment yet")])
        held = at_channel == "authorized"
        self.payment.status = "channel_authorized" if held else "paid"
        self.payment.authorized = self.total
        self.payment.captured = 0 if held else self.total
        reference = self.payment.reference or self.external_id
        self.payment.transactions.append({
            "type": "channel_authorization" if held else "prepaid", "amount": self.total, "status": "succeeded",
            "processor_id": reference, "idempotency_key": None, "occurred_at": now})
        return [DomainEvent("PaymentRecorded", {"amount": self.total, "currency": self.currency,
                                                "reference": reference, "kind": "authorized" if held else "paid"})]

    def record_channel_paid(self, now: str, reason: str = "the channel reported the order paid") -> list[DomainEvent]:
        """The channel reports the order paid (Shopify orders/paid): clear the wait, record it."""
        if self.payment.method != "channel" or self.payment.channel_status == "paid" or not self.open_lines():
            return []
        self.payment.channel_status = "paid"
        events = [DomainEvent("ChannelPaymentReported", {"status": "paid"}),
                  *self._release_hold("awaiting_payment", reason)]
        if self.payment.status == "channel_authorized":
            self.payment.status, self.payment.captured = "paid", self.total
            events.append(DomainEvent("PaymentRecorded", {
                "amount": self.total, "currency": self.currency,
                "reference": self.payment.reference or self.external_id, "kind": "paid"}))
        return events + self.record_prepaid(now)

    def plan_authorization(self) -> bool:
        """Decide the authorisation (amount and key) before the processor is called, so a retry
        after a lost commit asks for the same amount under the same key."""
        if not self.needs_payment() or self.payment.method != "card" or self.payment.pending_authorization:
            return False
        # What is still to be paid: everything, or after a refused capture what was not captured.
        amount = self.amount_due - self.payment.captured
        self.payment.pending_authorization = {"idempotency_key": self.authorization_key(), "amount": amount}
        return True

    def _take_planned_authorization(self, idempotency_key: str) -> int | None:
        """The amount asked for under this key: the planned one (the processor may have acted on
        it even if the order was cancelled since), or what is due if nothing was planned."""
        planned, self.payment.pending_authorization = self.payment.pending_authorization, None
        if planned and planned["idempotency_key"] == idempotency_key:
            return planned["amount"]
        if not self.needs_payment() or self.payment.method != "card":
            return None
        return self.amount_due - self.payment.captured

    def record_authorization(self, *, approved: bool, authorization_id: str | None, decline_code: str | None,
                             idempotency_key: str, now: str) -> list[DomainEvent]:
        amount = self._take_planned_authorization(idempotency_key)
        if amount is None:
            return []
        self.payment.transactions.append({
            "type": "authorization", "amount": amount, "status": "succeeded" if approved else "declined",
            "processor_id": authorization_id, "idempotency_key": idempotency_key, "occurred_at": now,
            "decline_code": decline_code})
        if not approved:
            self.payment.status = "declined"
            return [DomainEvent("PaymentDeclined", {"amount": amount, "currency": self.currency,
                                                  "decline_code": decline_code}),
                    *(self._place_holds([Hold("payment_declined", f"card declined: {decline_code}")])
                      if self.open_lines() else [])]
        # Recorded even if the order was cancelled meanwhile: the card is held, so it must be
        # known (and then voided).
        self.payment.status = "authorized"
        self.payment.authorization_id = authorization_id
        self.payment.authorized = self.payment.captured + amount  # earlier captures were authorised before
        return [DomainEvent("PaymentAuthorized", {"amount": amount, "currency": self.currency,
                                                  "authorization_id": authorization_id})]

    def record_payment_failure(self, reason: str, idempotency_key: str, now: str,
                               refused: bool = False) -> list[DomainEvent]:
        """No usable answer: the processor stayed unreachable (the outcome is unknown, so the
        retry reuses the key) or refused the request outright (the retry gets a new key)."""
        amount = self._take_planned_authorization(idempotency_key)
        if amount is None:
            return []
        self.payment.status = "failed"
        self.payment.transactions.append({
            "type": "authorization", "amount": amount, "status": "refused" if refused else "failed",
            "processor_id": None, "idempotency_key": idempotency_key, "occurred_at": now, "decline_code": reason})
        detail = f"processor refused: {reason}" if refused else f"processor unavailable: {reason}"
        return [DomainEvent("PaymentFailed", {"amount": amount, "currency": self.currency, "reason": reason}),
                *(self._place_holds([Hold("payment_error", detail)]) if self.open_lines() else [])]

    def create_fulfillment_orders(self) -> list[DomainEvent]:
        """One fulfilment order per (location, delivery group) of the allocations."""
        if self.fulfillment_orders or self.payment.status not in SETTLED_PAYMENT or self.hold_types():
            return []
        groups: dict[tuple[str, str], list[dict]] = {}
        for allocation in self.allocations:
            line = self.line(allocation.line_id)
            key = (allocation.location_id, line.delivery_group)
            groups.setdefault(key, []).append(
                {"line_id": line.line_id, "sku": line.sku, "quantity": allocation.quantity, "shipped": 0})
        events = []
        for n, ((location_id, group_id), lines) in enumerate(sorted(groups.items()), start=1):
            fo = FulfillmentOrder(f"{self.order_id}-F{n}", location_id, group_id, "awaiting_shipment", lines)
            self.fulfillment_orders.append(fo)
            events.append(DomainEvent("FulfillmentOrderCreated", {
                "fulfillment_order_id": fo.fulfillment_order_id, "location_id": location_id,
                "delivery_group": group_id, "lines": [dict(fl) for fl in lines]}))
        return events

    def ship(self, fulfillment_order_id: str, *, carrier: str, tracking_number: str, service: str,
             lines: list[dict] | None, now: str) -> tuple[Shipment, list[DomainEvent]]:
        """Create a shipment of the given lines (all that remain when None). Shipping the same
        tracking number on the same fulfilment order again returns the existing shipment."""
        fo = self.fulfillment_order(fulfillment_order_id)
        for existing in fo.shipments:
            if existing.tracking_number == tracking_number:
                return existing, []
        if self.hold_types():
            raise OrderRuleViolation("order_on_hold", "the order is on hold and cannot ship")
        wanted = self._shipment_lines(fo, lines)
        shipment = Shipment(f"{fulfillment_order_id}-S{len(fo.shipments) + 1}", carrier, tracking_number,
                            service, "label_created", now, wanted)
        fo.shipments.append(shipment)
        for item in wanted:
            fo_line = next(fl for fl in fo.lines if fl["line_id"] == item["line_id"])
            fo_line["shipped"] += item["quantity"]
            self.line(item["line_id"]).shipped += item["quantity"]
        fo.status = "shipped" if all(fl["shipped"] == fl["quantity"] for fl in fo.lines) else "partially_shipped"
        return shipment, [DomainEvent("ShipmentCreated", {
            "channel": self.channel,  # lets the channel-updates rule skip channels without an API
            "fulfillment_order_id": fo.fulfillment_order_id, "shipment_id": shipment.shipment_id,
            "location_id": fo.location_id, "carrier": carrier, "tracking_number": tracking_number,
            "service": service, "lines": wanted})]

    def _shipment_lines(self, fo: FulfillmentOrder, lines: list[dict] | None) -> list[dict]:
        if lines is None:
            wanted = [{"line_id": fl["line_id"], "sku": fl["sku"], "quantity": fl["quantity"] - fl["shipped"]}
                      for fl in fo.lines if fl["quantity"] > fl["shipped"]]
            if not wanted:
                raise OrderRuleViolation("nothing_to_ship", "every unit of this fulfillment order has shipped")
            return wanted
        if not lines:
            raise OrderRuleViolation("nothing_to_ship", "a shipment needs at least one line")
        left = {fl["line_id"]: fl["quantity"] - fl["shipped"] for fl in fo.lines}
        wanted = []
        for request in lines:
            need = request["quantity"]
            if not isinstance(need, int) or need <= 0:
                raise OrderRuleViolation("invalid_quantity", f"{request['sku']}: quantity must be a positive integer")
            for fl in fo.lines:
                take = min(need, left[fl["line_id"]]) if fl["sku"] == request["sku"] else 0
                if take > 0:
                    wanted.append({"line_id": fl["line_id"], "sku": fl["sku"], "quantity": take})
                    left[fl["line_id"]] -= take
                    need -= take
            if need:
                raise OrderRuleViolation(
                    "quantity_exceeds_remaining",
                    f"{request['sku']}: {request['quantity']} requested, fewer remain on this fulfillment order")
        return wanted

    def capture_due(self) -> int:
        """What the shipped units entitle us to capture now. Shipping and tax follow the
        merchandise proportionally; once nothing is left to ship the order's whole amount due
        is captured, so a fully shipped order has captured exactly what it is worth."""
        if self.payment.status != "authorized":
            return 0
        open_lines = self.open_lines()
        due = min(self.amount_due, self.payment.authorized)
        if all(line.shipped == line.open_quantity for line in open_lines):
            target = due if any(line.shipped for line in open_lines) else 0
        else:
            values = self.unit_values()
            worth = sum(values[line.line_id] * line.open_quantity for line in open_lines)
            shipped = sum(values[line.line_id] * line.shipped for line in open_lines)
            target = int(due * shipped / worth) if worth else 0
        return max(0, target - self.payment.captured)

    def void_due(self) -> bool:
        """An authorisation nothing will ever be captured against is given back."""
        return self.payment.status == "authorized" and not self.open_lines() and not self.payment.captured

    def record_void(self, *, idempotency_key: str, now: str) -> list[DomainEvent]:
        if not self.void_due():
            return []
        amount = self.payment.authorized
        self.payment.status = "voided"
        self.payment.transactions.append({
            "type": "void", "amount": amount, "status": "succeeded", "processor_id": self.payment.authorization_id,
            "idempotency_key": idempotency_key, "occurred_at": now})
        return [DomainEvent("PaymentVoided", {"amount": amount, "currency": self.currency,
                                              "authorization_id": self.payment.authorization_id})]

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
        for fo in self.fulfillment_orders:
            if all(fl["shipped"] == fl["quantity"] for fl in fo.lines):
                fo.status = ("delivered" if fo.shipments and all(s.status == "delivered" for s in fo.shipments)
                             else "shipped" if fo.shipments else "cancelled")
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

    def _release_reservations(self, line: Line, quantity: int) -> list[Allocation]:
        """Give back reserved, unshipped units of a line, taking them off its fulfilment orders."""
        released = []
        for allocation in (a for a in self.allocations if a.line_id == line.line_id):
            fo_lines = [fl for fo in self.fulfillment_orders if fo.location_id == allocation.location_id
                        for fl in fo.lines if fl["line_id"] == line.line_id]
            shipped_here = sum(fl["shipped"] for fl in fo_lines)
            take = min(quantity, allocation.quantity - shipped_here)
            if take <= 0:
                continue
            allocation.quantity -= take
            quantity -= take
            left = take
            for fl in fo_lines:
                cut = min(left, fl["quantity"] - fl["shipped"])
                fl["quantity"] -= cut
                left -= cut
            released.append(Allocation(line.line_id, line.sku, allocation.location_id, take))
        return released

    def plan_capture(self, shipment_id: str | None) -> bool:
        """Decide the next capture (what is due now, under a key no other capture uses);
        False when one is already planned or nothing is due."""
        amount = self.capture_due()
        if self.payment.pending_capture or amount <= 0:
            return False
        number = sum(1 for t in self.payment.transactions if t["type"] == "capture") + 1  # failed ones too
        self.payment.pending_capture = {"idempotency_key": f"{self.order_id}:capture:{number}", "amount": amount,
                                        "shipment_id": shipment_id}
        return True

    def record_capture_failure(self, *, idempotency_key: str, reason: str, now: str) -> list[DomainEvent]:
        """The processor refused the planned capture for good: stop, and show an operator."""
        planned = self.payment.pending_capture
        if not planned or planned["idempotency_key"] != idempotency_key:
            return []
        self.payment.pending_capture = None
        self.payment.transactions.append({
            "type": "capture", "amount": planned["amount"], "status": "failed", "processor_id": None,
            "idempotency_key": idempotency_key, "occurred_at": now, "shipment_id": planned["shipment_id"],
            "decline_code": reason})
        return self._place_holds([Hold("capture_failed", f"the processor refused a capture: {reason}")])

    def record_capture(self, *, amount: int, capture_id: str, idempotency_key: str, shipment_id: str | None,
                       now: str) -> list[DomainEvent]:
        if any(t.get("idempotency_key") == idempotency_key for t in self.payment.transactions):
            return []
        pending = self.payment.pending_capture
        if pending and pending["idempotency_key"] == idempotency_key:
            self.payment.pending_capture = None
        if amount <= 0 or self.payment.captured + amount > self.payment.authorized:
            raise OrderRuleViolation("over_capture", "capture would exceed the authorised amount")
        self.payment.captured += amount
        self.payment.transactions.append({
            "type": "capture", "amount": amount, "status": "succeeded", "processor_id": capture_id,
            "idempotency_key": idempotency_key, "occurred_at": now, "shipment_id": shipment_id})
        return [DomainEvent("PaymentCaptured", {"amount": amount, "currency": self.currency,
                                                "shipment_id": shipment_id, "capture_id": capture_id})]

    def apply_tracking(self, tracking_number: str, update: dict) -> list[DomainEvent]:
        """Record a carrier's checkpoints (one, or its whole history, in any order, again and
        again): each distinct checkpoint once, sorted by carrier time. The status follows from
        the set (see tracking_status), so arrival order never matters; the first final status
        in carrier time (delivered or returned_to_sender) is the one that counts."""
        match = [(fo, s) for fo, s in self.shipments() if s.tracking_number == tracking_number]
        if not match:
            return []
        fo, shipment = match[0]
        new = []
        for given in update.get("checkpoints", []):
            checkpoint = {k: given.get(k) for k in CHECKPOINT_FIELDS}
            if checkpoint not in shipment.events and checkpoint not in new:
                new.append(checkpoint)
        details = {k: update.get(k) for k in ("estimated_delivery", "signed_by")}
        details["tracking_url"] = update.get("public_url")
        changed_details = {k: v for k, v in details.items() if v and getattr(shipment, k) != v}
        if not new and not changed_details:
            return []
        shipment.events = sorted(shipment.events + new, key=_checkpoint_order)
        for key, value in changed_details.items():
            setattr(shipment, key, value)
        before = shipment.status
        shipment.status = tracking_status(shipment.events)
        reversed_delivery = before == "delivered" and shipment.status != "delivered"
        if reversed_delivery:
            # An earlier return to sender arrived late: the delivery was back to the sender.
            self._undo_delivery(fo, shipment)
        if shipment.status == "delivered":  # the first delivered checkpoint, also when it came late
            shipment.delivered_at = next(c for c in shipment.events if c["status"] == "delivered")["occurred_at"]
        events = [DomainEvent("ShipmentTrackingUpdated", {
            "shipment_id": shipment.shipment_id, "tracking_number": tracking_number, "status": shipment.status,
            "checkpoints": sorted(new, key=_checkpoint_order),
            "estimated_delivery": shipment.estimated_delivery})]
        if shipment.status == before:
            return events
        if shipment.status in TRACKING_ALERTS or shipment.status == "returned_to_sender":
            latest = next(c for c in reversed(shipment.events) if c["status"] == shipment.status)
            events.append(DomainEvent("ShipmentException", {
                "shipment_id": shipment.shipment_id, "status": shipment.status,
                "description": latest.get("description"), "delivery_reversed": reversed_delivery}))
        if shipment.status == "delivered":
            for item in shipment.lines:
                self.line(item["line_id"]).delivered += item["quantity"]
            if all(s.status == "delivered" for s in fo.shipments) and fo.status == "shipped":
                fo.status = "delivered"
            events.append(DomainEvent("ShipmentDelivered", {
                "channel": self.channel,
                "shipment_id": shipment.shipment_id, "fulfillment_order_id": fo.fulfillment_order_id,
                "delivered_at": shipment.delivered_at}))
            if self.status == "delivered":
                events.append(DomainEvent("OrderDelivered", {"delivered_at": shipment.delivered_at}))
        return events

    def _undo_delivery(self, fo: FulfillmentOrder, shipment: Shipment) -> None:
        for item in shipment.lines:
            self.line(item["line_id"]).delivered -= item["quantity"]
        shipment.delivered_at = None
        if fo.status == "delivered":
            fo.status = "shipped"

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
