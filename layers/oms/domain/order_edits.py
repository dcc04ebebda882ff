"""Changes an agent makes for a customer on the phone before the goods leave: a delivery
group's address or shipping method. Part of Order (mixed in, see order.py)."""
from __future__ import annotations

from .events import DomainEvent
from .holds import OrderRuleViolation


class OrderEdits:
    """Mixed into Order: uses its delivery groups, lines and holds."""

    def change_delivery_group(self, group_id: str, *, shipping_address: dict | None,
                              shipping_method: str | None) -> list[DomainEvent]:
        """Only while nothing of the group has shipped; the address must pass the checks intake
        makes (the caller refuses a bad one before this). A corrected address lifts the
        order's invalid_address hold when no other address is wrong."""
        from .validation import address_problems

        group = next((g for g in self.delivery_groups if g.group_id == group_id), None)
        if group is None:
            raise OrderRuleViolation("not_found", f"the order has no delivery group {group_id}")
        lines = [line for line in self.lines if line.delivery_group == group_id]
        if not any(line.open_quantity for line in lines):
            raise OrderRuleViolation("group_closed", f"nothing of delivery group {group_id} is left to ship")
        if any(line.shipped for line in lines if line.requires_shipping):
            raise OrderRuleViolation("group_in_fulfilment", f"units of delivery group {group_id} have shipped")
        changed = []
        if shipping_address is not None and shipping_address != group.shipping_address:
            group.shipping_address = shipping_address
            changed.append("shipping_address")
        if shipping_method is not None and shipping_method != group.shipping_method:
            group.shipping_method = shipping_method
            changed.append("shipping_method")
        if not changed:
            return []
        events = [DomainEvent("DeliveryGroupChanged", {"group_id": group_id, "changed": changed,
                                                       "shipping_method": group.shipping_method,
                                                       "channel": self.channel})]
        if "invalid_address" in self.hold_types() and not any(
                address_problems(g.shipping_address, g.group_id) for g in self.delivery_groups) \
                and not address_problems(self.billing_address, "billing_address"):
            events += self.release_hold("invalid_address", "the address was corrected")
        return events
