"""Fulfilment orders, shipments and carrier tracking, and the order's steps that create and
ship them and apply carrier checkpoints (mixed into Order, whose lines they move)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .events import DomainEvent
from .holds import OrderRuleViolation
from .payment import SETTLED_PAYMENT

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
    status: str  # created, picking, picked, packed, label_purchased, partially_shipped, shipped, delivered, cancelled
    lines: list[dict]  # [{"line_id", "sku", "quantity", "shipped", "picked" (once picked)}]
    shipments: list[Shipment] = field(default_factory=list)
    pick_list_id: str | None = None
    packages: list[dict] = field(default_factory=list)  # [{"package_id", "lines", "weight_grams", "dimensions_cm"}]
    dropped_packages: list[dict] = field(default_factory=list)  # packed before a rejection changed what ships
    rejections: list[str] = field(default_factory=list)  # Idempotency-Keys of the rejections made

    def remaining(self, line_id: str) -> int:
        line = next(fl for fl in self.lines if fl["line_id"] == line_id)
        return line["quantity"] - line["shipped"]


class OrderFulfillment:
    """The order's fulfilment steps; a part of Order (see order.py), split off to keep each
    module readable. Uses the order's lines, holds, payment and fulfillment_orders."""

    def create_fulfillment_orders(self) -> list[DomainEvent]:
        """One fulfilment order per (location, delivery group) of the reserved units no
        fulfilment order covers yet: all of them once the order is paid, and later those sourced
        again (a warehouse count found the stock was not there)."""
        if self.payment.status not in SETTLED_PAYMENT or self.hold_types():
            return []
        covered: dict[tuple[str, str], int] = {}
        for fo in self.fulfillment_orders:
            for fl in fo.lines:
                covered[(fl["line_id"], fo.location_id)] = covered.get((fl["line_id"], fo.location_id), 0) + \
                    fl["quantity"]
        groups: dict[tuple[str, str], list[dict]] = {}
        for allocation in self.allocations:
            key = (allocation.line_id, allocation.location_id)
            uncovered = allocation.quantity - covered.get(key, 0)
            if uncovered <= 0:
                continue
            covered[key] = covered.get(key, 0) + uncovered
            line = self.line(allocation.line_id)
            groups.setdefault((allocation.location_id, line.delivery_group), []).append(
                {"line_id": line.line_id, "sku": line.sku, "quantity": uncovered, "shipped": 0})
        events = []
        for n, ((location_id, group_id), lines) in enumerate(sorted(groups.items()),
                                                             start=len(self.fulfillment_orders) + 1):
            fo = FulfillmentOrder(f"{self.order_id}-F{n}", location_id, group_id, "created", lines)
            self.fulfillment_orders.append(fo)
            events.append(DomainEvent("FulfillmentOrderCreated", {
                "fulfillment_order_id": fo.fulfillment_order_id, "location_id": location_id,
                "delivery_group": group_id, "lines": [dict(fl) for fl in lines]}))
        return events

    def reserved_stock(self) -> dict[tuple[str, str], int]:
        """Units this order holds in stock, by (SKU, location): reserved and not shipped yet."""
        held: dict[tuple[str, str], int] = {}
        for allocation in self.allocations:
            key = (allocation.sku, allocation.location_id)
            held[key] = held.get(key, 0) + allocation.quantity
        for fo in self.fulfillment_orders:
            for fl in fo.lines:
                key = (fl["sku"], fo.location_id)
                held[key] = held.get(key, 0) - fl["shipped"]
        return {key: units for key, units in held.items() if units > 0}

    def ship(self, fulfillment_order_id: str, *, carrier: str, tracking_number: str, service: str,
             lines: list[dict] | None, now: str) -> tuple[Shipment, list[DomainEvent]]:
        """Create a shipment of the given lines (all that remain when None). Shipping the same
        tracking number on the same fulfilment order again returns the existing shipment."""
        fo = self.fulfillment_order(fulfillment_order_id)
        for existing in fo.shipments:
            if existing.tracking_number == tracking_number:
                return existing, []
        if self.hold_types() - {"backorder"}:  # units still waiting for stock do not stop those that have it
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
        events = [DomainEvent("ShipmentCreated", {
            "channel": self.channel,  # lets the channel-updates rule skip channels without an API
            "fulfillment_order_id": fo.fulfillment_order_id, "shipment_id": shipment.shipment_id,
            "location_id": fo.location_id, "carrier": carrier, "tracking_number": tracking_number,
            "service": service, "lines": wanted})]
        for update in self.early_tracking(tracking_number):  # the carrier's tracker started at purchase
            events += self.apply_tracking(tracking_number, update)
        return shipment, events

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
