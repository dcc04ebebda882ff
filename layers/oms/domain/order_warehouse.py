"""The warehouse's steps on a fulfilment order: picking, short picks, packing. A part of Order
(see order.py), split off to keep each module readable.

    created -> picking (on a pick list) -> picked -> packed -> (label_purchased) -> shipped

A short pick means the units are not in the building: they leave on hand and reserved together
(as a shipment would, logged as `short_pick`), the fulfilment order no longer carries them, and the
order's line needs them again, from anywhere but that location."""
from __future__ import annotations

from .events import DomainEvent
from .holds import OrderRuleViolation

PICKABLE = ("created",)


class OrderWarehouse:
    def start_picking(self, fulfillment_order_id: str, pick_list_id: str) -> bool:
        """Put a fulfilment order on a pick list; False when it is not waiting to be picked (or
        already on this list)."""
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status not in PICKABLE or self.hold_types() - {"backorder"}:
            return False
        fo.status, fo.pick_list_id = "picking", pick_list_id
        return True

    def confirm_picks(self, fulfillment_order_id: str, pick_list_id: str, picked: dict[str, int],
                      counted: dict[str, int] | None = None) -> tuple[list[DomainEvent], list[tuple[str, str, int]]]:
        """What the picker found, per SKU. Returns the events and the short units as (sku,
        location, units) that leave the location's stock. `counted`: each SKU's stock item version
        there now; the SKU is not sourced from there again for this order until that changes (a
        count, a receipt)."""
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status != "picking" or fo.pick_list_id != pick_list_id:
            return [], []  # confirmed before, or taken off this list (cancelled, shipped by hand)
        left = dict(picked)
        picks, shorts = [], []
        for fl in fo.lines:
            wanted = fl["quantity"] - fl["shipped"]
            got = min(wanted, left.get(fl["sku"], 0))
            left[fl["sku"]] = left.get(fl["sku"], 0) - got
            fl["picked"] = got
            picks.append({"line_id": fl["line_id"], "sku": fl["sku"], "quantity": got})
            if got < wanted:
                short = wanted - got
                fl["quantity"] -= short
                self._give_up_units(fl["line_id"], fo.location_id, short)
                shorts.append({"line_id": fl["line_id"], "sku": fl["sku"], "quantity": short})
        events = [DomainEvent("FulfillmentOrderPicked", {
            "fulfillment_order_id": fo.fulfillment_order_id, "pick_list_id": pick_list_id,
            "location_id": fo.location_id, "lines": picks})]
        if shorts:
            for short in shorts:  # that SKU is not sourced from there again for this order (the rest may be)
                mark = f"{short['sku']}@{fo.location_id}#{(counted or {}).get(short['sku'], 0)}"
                if mark not in self.excluded_stock:
                    self.excluded_stock.append(mark)
            events.append(DomainEvent("ShortPicked", {
                "fulfillment_order_id": fo.fulfillment_order_id, "pick_list_id": pick_list_id,
                "location_id": fo.location_id, "lines": shorts}))
        fo.status = "picked" if any(fl["quantity"] > fl["shipped"] for fl in fo.lines) else "cancelled"
        return events, [(s["sku"], fo.location_id, s["quantity"]) for s in shorts]

    def _give_up_units(self, line_id: str, location_id: str, units: int) -> None:
        line = self.line(line_id)
        line.allocated -= units
        for allocation in self.allocations:
            if units and allocation.line_id == line_id and allocation.location_id == location_id:
                take = min(units, allocation.quantity)
                allocation.quantity -= take
                units -= take
        self.allocations = [a for a in self.allocations if a.quantity]

    def reject(self, fulfillment_order_id: str, reason: str, lines: dict[str, int] | None,
               key: str | None = None) -> tuple[list[DomainEvent], list[tuple[str, str, int]]]:
        """The location cannot fulfil these units (all it has not shipped, or so many per SKU):
        they leave the fulfilment order and the order needs them again from anywhere else.
        Returns the events and the units given up as (sku, location, units); nothing when a
        rejection with the same key (Idempotency-Key) was made already."""
        fo = self.fulfillment_order(fulfillment_order_id)
        if key and key in fo.rejections:
            return [], []
        if fo.status in ("shipped", "delivered", "cancelled"):
            raise OrderRuleViolation("not_rejectable", f"fulfillment order {fulfillment_order_id} is {fo.status}")
        wanted = dict(lines) if lines is not None else None
        given = []
        for fl in fo.lines:
            left = fl["quantity"] - fl["shipped"]
            units = left if wanted is None else min(left, wanted.get(fl["sku"], 0))
            if units <= 0:
                continue
            if wanted is not None:
                wanted[fl["sku"]] -= units
            fl["quantity"] -= units
            fl["picked"] = min(fl.get("picked", 0), fl["quantity"] - fl["shipped"])
            self._give_up_units(fl["line_id"], fo.location_id, units)
            given.append({"line_id": fl["line_id"], "sku": fl["sku"], "quantity": units})
        if wanted and any(units > 0 for units in wanted.values()):
            over = [{"sku": sku, "quantity": units} for sku, units in wanted.items() if units]
            raise OrderRuleViolation("quantity_exceeds_remaining", "more units rejected than it has left", over)
        if not given:
            raise OrderRuleViolation("nothing_to_reject", "no unit of it is left to reject")
        if fo.location_id not in self.excluded_locations:
            self.excluded_locations.append(fo.location_id)
        if key:
            fo.rejections.append(key)
        self.after_units_left(fo)
        return [DomainEvent("FulfillmentOrderRejected", {
            "fulfillment_order_id": fo.fulfillment_order_id, "location_id": fo.location_id, "reason": reason,
            "lines": given})], [(g["sku"], fo.location_id, g["quantity"]) for g in given]

    def after_units_left(self, fo) -> None:
        """Units left a fulfilment order (rejected, cancelled, withdrawn). With nothing left to ship
        it is shipped (what went) or cancelled; a packed one with units left goes back to picked to
        be packed again. Packages that will not leave as packed are dropped: the fulfilment queue
        voids their labels."""
        for fl in fo.lines:
            fl["picked"] = min(fl.get("picked", 0), fl["quantity"] - fl["shipped"])
        sent = {s.tracking_number for s in fo.shipments}
        unsent = [p for p in fo.packages if (p.get("label") or {}).get("tracking_number") not in sent]
        if not any(fl["quantity"] > fl["shipped"] for fl in fo.lines):
            if fo.status not in ("shipped", "delivered"):
                delivered = fo.shipments and all(s.status == "delivered" for s in fo.shipments)
                fo.status = "delivered" if delivered else "shipped" if fo.shipments else "cancelled"
        elif fo.status in ("packed", "label_purchased"):
            fo.status = "picked"
        else:
            return
        fo.dropped_packages += unsent
        fo.packages = [p for p in fo.packages if p not in unsent]

    def pack(self, fulfillment_order_id: str, packages: list[dict]) -> list[DomainEvent]:
        """Packages of exactly the units picked; anything else is refused with what differs."""
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status in ("packed", "label_purchased") and [{k: p[k] for k in ("lines", "weight_grams", "dimensions_cm")}
                                                           for p in fo.packages] == packages:
            return []  # the same packing again
        if fo.status != "picked":
            raise OrderRuleViolation("not_picked", f"fulfillment order {fulfillment_order_id} is {fo.status}: "
                                                   f"only a picked one is packed")
        want: dict[str, int] = {}
        for fl in fo.lines:
            want[fl["sku"]] = want.get(fl["sku"], 0) + fl.get("picked", 0)
        got: dict[str, int] = {}
        for package in packages:
            for item in package["lines"]:
                got[item["sku"]] = got.get(item["sku"], 0) + item["quantity"]
        differences = [{"sku": sku, "picked": want.get(sku, 0), "packed": got.get(sku, 0)}
                       for sku in sorted(set(want) | set(got)) if want.get(sku, 0) != got.get(sku, 0)]
        if differences:
            raise OrderRuleViolation("pack_mismatch", "the packages do not hold exactly the units picked",
                                     differences)
        fo.packages = [{"package_id": f"{fo.fulfillment_order_id}-P{n}", **package}
                       for n, package in enumerate(packages, start=len(fo.dropped_packages) + 1)]
        fo.status = "packed"
        return [DomainEvent("FulfillmentOrderPacked", {
            "fulfillment_order_id": fo.fulfillment_order_id, "location_id": fo.location_id,
            "packages": [{"package_id": p["package_id"], "lines": p["lines"], "weight_grams": p["weight_grams"]}
                         for p in fo.packages]})]

    # ---- rates and labels ----------------------------------------------------------------------

    def packages_to_quote(self, fulfillment_order_id: str) -> list[dict]:
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status not in ("packed", "label_purchased"):
            raise OrderRuleViolation("not_packed", f"fulfillment order {fulfillment_order_id} is {fo.status}: "
                                                   f"rates and labels are for packed ones")
        return [p for p in fo.packages if not p.get("carrier_shipment_id")]

    def record_quote(self, fulfillment_order_id: str, package_id: str, shipment_id: str, rates: list[dict]) -> None:
        package = self._package(fulfillment_order_id, package_id)
        if not package.get("carrier_shipment_id"):
            package["carrier_shipment_id"], package["rates"] = shipment_id, rates

    def record_label(self, fulfillment_order_id: str, package_id: str, label: dict) -> list[DomainEvent]:
        """A label bought for a package (once); the fulfilment order is label_purchased when every
        package has one."""
        fo = self.fulfillment_order(fulfillment_order_id)
        package = self._package(fulfillment_order_id, package_id)
        if package.get("label"):
            return []
        package["label"] = label
        if fo.packages and all(p.get("label") for p in fo.packages) and fo.status == "packed":
            fo.status = "label_purchased"
        return [DomainEvent("LabelPurchased", {
            "fulfillment_order_id": fulfillment_order_id, "package_id": package_id,
            "carrier_shipment_id": label["carrier_shipment_id"], "tracking_number": label["tracking_number"],
            "carrier": label["carrier"], "service": label["service"], "amount": label["amount"],
            "currency": label["currency"]})]

    def record_label_void(self, fulfillment_order_id: str, package_id: str, refund_status: str) -> list[DomainEvent]:
        package = self._package(fulfillment_order_id, package_id)
        label = package.get("label")
        if not label or label.get("voided"):
            return []
        label["voided"], label["refund_status"] = True, refund_status
        return [DomainEvent("LabelVoided", {
            "fulfillment_order_id": fulfillment_order_id, "package_id": package_id,
            "carrier_shipment_id": label["carrier_shipment_id"], "tracking_number": label["tracking_number"],
            "refund_status": refund_status})]

    def labels_to_void(self) -> list[tuple[str, str, str]]:
        """(fulfilment order, package, carrier shipment) of labels bought for parcels that will not
        leave: their fulfilment order was cancelled or rejected before it shipped."""
        return [(fo.fulfillment_order_id, p["package_id"], p["label"]["carrier_shipment_id"])
                for fo in self.fulfillment_orders
                for p in [*fo.packages, *fo.dropped_packages] if p.get("label") and not p["label"].get("voided")
                and p["label"]["tracking_number"] not in {s.tracking_number for s in fo.shipments}
                and (fo.status == "cancelled" or p in fo.dropped_packages)]

    def keep_early_tracking(self, tracking_number: str, update: dict) -> bool:
        """A carrier update for a label bought but not handed over yet (the carrier's tracker starts
        at purchase): kept with the label, applied when the parcel ships. False: not ours, or kept."""
        for fo in self.fulfillment_orders:
            for package in [*fo.packages, *fo.dropped_packages]:
                label = package.get("label") or {}
                if label.get("tracking_number") == tracking_number:
                    early = label.setdefault("early_updates", [])
                    if update in early or len(early) >= 50:
                        return False
                    early.append(update)
                    return True
        return False

    def early_tracking(self, tracking_number: str) -> list[dict]:
        """The updates kept for a label, taken (to apply to its shipment)."""
        for fo in self.fulfillment_orders:
            for package in [*fo.packages, *fo.dropped_packages]:
                label = package.get("label") or {}
                if label.get("tracking_number") == tracking_number:
                    return label.pop("early_updates", [])
        return []

    def _package(self, fulfillment_order_id: str, package_id: str) -> dict:
        fo = self.fulfillment_order(fulfillment_order_id)
        for package in [*fo.packages, *fo.dropped_packages]:  # a label bought as it was dropped is still ours
            if package["package_id"] == package_id:
                return package
        raise OrderRuleViolation("not_found", f"no package {package_id} on {fulfillment_order_id}")


def choose_rate(rates: list[dict], strategy: str, promise_days: int | None) -> dict:
    """The rate a strategy picks: cheapest, fastest, or the cheapest that arrives within the
    promise (`cheapest_on_time`)."""
    def amount(rate: dict) -> float:
        return float(rate["amount"])

    def days(rate: dict) -> int:
        return rate["delivery_days"] if rate.get("delivery_days") is not None else 10_000
    if not rates:
        raise OrderRuleViolation("no_rates", "the carrier offered no rate for this package")
    if strategy == "cheapest":
        return min(rates, key=lambda r: (amount(r), days(r), r["rate_id"]))
    if strategy == "fastest":
        return min(rates, key=lambda r: (days(r), amount(r), r["rate_id"]))
    on_time = [r for r in rates if promise_days is not None and days(r) <= promise_days]
    if not on_time:
        raise OrderRuleViolation("no_rate_on_time", f"no rate arrives within {promise_days} day(s)")
    return min(on_time, key=lambda r: (amount(r), days(r), r["rate_id"]))
