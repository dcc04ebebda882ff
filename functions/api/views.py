"""How orders look to operators (everything) and to customers (no personal data)."""
from __future__ import annotations

from dataclasses import asdict

from oms.domain.money import to_decimal_string
from oms.domain.order import TRACKING_ALERTS, Order


def order_view(order: Order, history: list[dict]) -> dict:
    money = lambda minor: to_decimal_string(minor, order.currency)  # noqa: E731
    return {
        "order_id": order.order_id, "order_number": order.order_number, "channel": order.channel,
        "external_id": order.external_id, "channel_order_number": order.channel_order_number,
        "status": order.status, "placed_at": order.placed_at, "received_at": order.received_at,
        "currency": order.currency, "holds": [asdict(h) for h in order.holds],
        "customer": order.customer, "billing_address": order.billing_address,
        "delivery_groups": [{"group_id": g.group_id, "shipping_address": g.shipping_address,
                             "shipping_method": g.shipping_method, "shipping_total": money(g.shipping_total)}
                            for g in order.delivery_groups],
        "lines": [{"line_id": line.line_id, "sku": line.sku, "name": line.name, "delivery_group": line.delivery_group,
                   "unit_price": money(line.unit_price), "status": line.status,
                   "ordered": line.ordered, "cancelled": line.cancelled, "allocated": line.allocated,
                   "shipped": line.shipped, "delivered": line.delivered, "returned": line.returned}
                  for line in order.lines],
        "allocations": [asdict(a) for a in order.allocations],
        "sourcing": order.sourcing,
        "fulfillment_orders": [fulfillment_order_view(order, fo.fulfillment_order_id)
                               for fo in order.fulfillment_orders],
        "payments": payments_view(order),
        "refunds": [refund_view(order, refund) for refund in order.payment.refunds],
        "return_status": order.return_status, "exchange_for_return_id": order.exchange_for_return_id,
        "returns": [{"return_id": return_id, "rma_number": r["rma_number"], "status": r["status"],
                     "lines": [{"line_id": k, "quantity": v, "still_expected": r["lines"].get(k, 0)}
                               for k, v in r.get("requested", r["lines"]).items()]}
                    for return_id, r in order.returns.items()],
        "disputes": [dispute_view(order, dispute) for dispute in order.payment.disputes],
        "totals": {"merchandise": money(order.merchandise_total), "shipping": money(order.shipping_total),
                   "tax": money(order.tax_total), "discount": money(order.discount_total), "total": money(order.total)},
        # Parcels an operator must look at: carrier alerts and returns to sender.
        "needs_attention": [{"shipment_id": s.shipment_id, "tracking_number": s.tracking_number, "status": s.status,
                             "description": next((c["description"] for c in reversed(s.events)
                                                  if c["status"] == s.status), None)}
                            for _, s in order.shipments() if s.status in (*TRACKING_ALERTS, "returned_to_sender")],
        "history": [{k: h[k] for k in ("sequence", "event_type", "occurred_at", "data")} for h in history],
    }


TRANSACTION_FIELDS = ("transaction_id", "type", "amount", "currency", "status", "processor_reference", "occurred_at")


def payments_view(order: Order) -> dict:
    """The payment ledger: every transaction, the totals that follow from them, and what is in flight."""
    money = lambda minor: to_decimal_string(minor, order.currency)  # noqa: E731
    payment = order.payment
    intents = payment.authorizations()
    return {
        "method": payment.method, "status": payment.status, "processor": payment.processor,
        "currency": order.currency,
        "payment_intent_id": (payment.authorization_id or (intents[-1] if intents else None)
                              if payment.processor not in (None, "channel") else None),
        "charge_ids": list(payment.charge_ids),
        "authorized": money(payment.authorized), "captured": money(payment.captured),
        "refunded": money(payment.refunded), "disputed": money(payment.chargebacks), "net": money(payment.net),
        "transactions": [{**{k: t.get(k) for k in TRANSACTION_FIELDS}, "amount": money(t["amount"]),
                          **{k: v for k, v in t.items() if k not in TRANSACTION_FIELDS and v is not None}}
                         for t in payment.transactions],
        # A request decided but not yet answered (normally for milliseconds; longer means stuck).
        "in_flight": [{"type": kind, "idempotency_key": p["idempotency_key"], "amount": money(p["amount"])}
                      for kind, p in (("authorization", payment.pending_authorization),
                                      ("capture", payment.pending_capture)) if p]}


def refund_view(order: Order, refund: dict) -> dict:
    money = lambda minor: to_decimal_string(minor, order.currency)  # noqa: E731
    return {"refund_id": refund["refund_id"], "amount": money(refund["amount"]), "currency": order.currency,
            "status": refund["status"], "reason": refund["reason"], "case_id": refund["case_id"],
            "processor": refund["processor"], "requested_at": refund["requested_at"],
            "lines": refund["lines"], "shipping": money(refund["shipping"])}


def dispute_view(order: Order, dispute: dict) -> dict:
    from oms.domain.order_disputes import DISPUTE_FIELDS

    return {**{k: dispute[k] for k in DISPUTE_FIELDS}, "amount": to_decimal_string(dispute["amount"], order.currency),
            "evidence_submitted_at": dispute.get("evidence_submitted_at")}


def tracking_view(order: Order) -> dict:
    return {
        "order_number": order.order_number, "status": order.status, "placed_at": order.placed_at,
        "lines": [{"sku": line.sku, "name": line.name, "quantity": line.ordered, "status": line.status}
                  for line in order.lines],
        "shipments": [{"carrier": s.carrier, "tracking_number": s.tracking_number, "status": s.status,
                       "estimated_delivery": s.estimated_delivery, "tracking_url": s.tracking_url,
                       # Checkpoints without the carrier's codes; signed_by (a name) is for operators only.
                       "events": [{k: e.get(k) for k in ("status", "occurred_at", "description", "location")}
                                  for e in s.events]}
                      for _, s in order.shipments()],
    }


def customer_order_view(order: Order) -> dict:
    """What a signed-in customer sees of their order: the tracking view, its totals and returns."""
    money = lambda minor: to_decimal_string(minor, order.currency)  # noqa: E731
    return {**tracking_view(order), "currency": order.currency, "return_status": order.return_status,
            "totals": {"merchandise": money(order.merchandise_total), "shipping": money(order.shipping_total),
                       "tax": money(order.tax_total), "discount": money(order.discount_total),
                       "total": money(order.total), "refunded": money(order.payment.refunded)},
            "returns": [{"rma_number": r["rma_number"], "status": r["status"],
                         "lines": [{"sku": order.line(line_id).sku, "quantity": n}
                                   for line_id, n in r.get("requested", r["lines"]).items()]}
                        for r in order.returns.values()]}


def return_view(ret, history: list[dict] | None = None) -> dict:
    money = lambda minor: to_decimal_string(minor, ret.currency)  # noqa: E731
    view = {
        "return_id": ret.return_id, "rma_number": ret.rma_number, "order_id": ret.order_id,
        "order_number": ret.order_number, "status": ret.status, "source": ret.source, "created_at": ret.created_at,
        "lines": [{"line_id": line.line_id, "sku": line.sku, "quantity": line.quantity, "reason": line.reason,
                   "note": line.note, "received": line.received, "sellable": line.sellable,
                   "damaged": line.damaged, "missing": line.missing, "kept": line.kept,
                   "exchange_for": _exchange_view(line, money) if line.exchange_for else None} for line in ret.lines],
        "refund_estimate": money(ret.refund_estimate), "currency": ret.currency,
        "exchange_credit": money(ret.exchange_credit), "exchange_charge": money(ret.exchange_charge),
        "exchange_refund": money(ret.exchange_refund),
        "exchange_order_id": ret.exchange_order_id, "ship_replacement": ret.ship_replacement,
        "restocking_fee_percent": ret.restocking_fee_percent, "returnless": ret.returnless,
        "tracking": ret.tracking, "receipts": ret.receipts, "decline_reason": ret.decline_reason,
        "label": {k: v for k, v in (ret.label or {}).items() if k not in ("rates", "carrier_shipment_id")} or None}
    if history is not None:
        view["history"] = [{k: h[k] for k in ("sequence", "event_type", "occurred_at", "data")} for h in history]
    return view


def _exchange_view(line, money) -> dict:
    wanted = line.exchange_for
    return {"sku": wanted["sku"], "quantity": wanted["quantity"], "unit_price": money(wanted["unit_price"]),
            "even": wanted.get("even", "credit" not in wanted), "credit": money(wanted.get("credit", 0))}


def fulfillment_order_view(order: Order, fulfillment_order_id: str) -> dict:
    fo = order.fulfillment_order(fulfillment_order_id)
    return {"fulfillment_order_id": fo.fulfillment_order_id, "order_id": order.order_id,
            "location_id": fo.location_id, "delivery_group": fo.delivery_group, "status": fo.status,
            "lines": fo.lines, "pick_list_id": fo.pick_list_id, "packages": fo.packages,
            "shipments": [asdict(s) for s in fo.shipments]}
