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

    def confirm_picks(self, fulfillment_order_id: str, pick_list_id: str,
                      picked: dict[str, int]) -> tuple[list[DomainEvent], list[tuple[str, str, int]]]:
        """What the picker found, per SKU. Returns the events and the short units as (sku,
        location, units) that leave the location's stock."""
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
            if fo.location_id not in self.excluded_locations:
                self.excluded_locations.append(fo.location_id)
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

    def pack(self, fulfillment_order_id: str, packages: list[dict]) -> list[DomainEvent]:
        """Packages of exactly the units picked; anything else is refused with what differs."""
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status == "packed" and [{k: v for k, v in p.items() if k != "package_id"}
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
                       for n, package in enumerate(packages, start=1)]
        fo.status = "packed"
        return [DomainEvent("FulfillmentOrderPacked", {
            "fulfillment_order_id": fo.fulfillment_order_id, "location_id": fo.location_id,
            "packages": [{"package_id": p["package_id"], "lines": p["lines"], "weight_grams": p["weight_grams"]}
                         for p in fo.packages]})]
