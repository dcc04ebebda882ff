"""What the OMS can prove about an order when its payment is disputed, in the field names of
Stripe's dispute evidence (https://docs.stripe.com/api/disputes/object#dispute_object-evidence)."""
from __future__ import annotations

from .money import to_decimal_string

# Every field Stripe's Dispute.evidence takes (text, or a file id for the *_documentation,
# receipt, policy, signature and file fields).
EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
    "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation", "duplicate_charge_explanation",
    "duplicate_charge_id", "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address", "shipping_carrier",
    "shipping_date", "shipping_documentation", "shipping_tracking_number", "uncategorized_file", "uncategorized_text")
MAX_TEXT = 20_000  # Stripe's limit on the text fields together is 150,000 characters


def _address(address: dict | None) -> str | None:
    if not address:
        return None
    parts = [address.get(k) for k in ("name", "line1", "line2", "city", "region", "postal_code", "country")]
    return ", ".join(str(p) for p in parts if p) or None


def dispute_evidence(order) -> dict:
    """The order's proof: who bought, where it went, how and when it shipped, what it was, and
    (as uncategorized text) every delivery checkpoint and refund."""
    shipments = [s for _, s in order.shipments()]
    customer = order.customer or {}
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p) or None
    timeline = []
    for shipment in shipments:
        for checkpoint in shipment.events:
            timeline.append(f"{checkpoint['occurred_at']} {shipment.carrier} {shipment.tracking_number}: "
                            f"{checkpoint['status']} {checkpoint.get('description') or ''} "
                            f"{checkpoint.get('location') or ''}".rstrip())
        if shipment.signed_by:
            timeline.append(f"{shipment.tracking_number} signed for by {shipment.signed_by}")
    for refund in order.payment.refunds:
        timeline.append(f"{refund['requested_at']} refund {refund['refund_id']} of "
                        f"{to_decimal_string(refund['amount'], order.currency)} {order.currency} ({refund['reason']}): "
                        f"{refund['status']}")
    products = "; ".join(f"{line.ordered - line.cancelled} x {line.name or line.sku} ({line.sku})"
                         for line in order.lines if line.ordered - line.cancelled)
    first = shipments[0] if shipments else None
    group = order.delivery_groups[0] if order.delivery_groups else None
    evidence = {
        "customer_name": name, "customer_email_address": customer.get("email"),
        "billing_address": _address(order.billing_address),
        "shipping_address": _address(group.shipping_address if group else None),
        "shipping_carrier": ", ".join(dict.fromkeys(s.carrier for s in shipments)) or None,
        "shipping_tracking_number": ", ".join(s.tracking_number for s in shipments) or None,
        "shipping_date": first.shipped_at[:10] if first else None,
        "product_description": products or None,
        "uncategorized_text": "\n".join(timeline)[:MAX_TEXT] or None,
    }
    return {k: v for k, v in evidence.items() if v}
