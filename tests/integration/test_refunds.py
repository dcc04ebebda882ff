"""POST /orders/{order_id}/refunds against the local Stripe: amounts and units, the
Idempotency-Key, refusals that write nothing, a processor that is down or refuses, refunds
split over two authorisations."""
from __future__ import annotations

import pytest

from tests.support.orders import canonical_order

TWO_LINES = [{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"},
             {"sku": "SKU-2", "quantity": 1, "unit_price": "30.00"}]


def _shipped(api, lines=None) -> str:
    order_id = api.place(canonical_order(lines=lines or TWO_LINES))
    api.pipeline.drain()
    api.ship(order_id, f"1Z{order_id[-8:]}")
    api.pipeline.drain()
    assert api.order(order_id)["payments"]["captured"] == "48.20"
    return order_id


def _refund(api, order_id, body, key=None):
    import json

    from tests.support.harness import OPS

    headers = {**OPS, **({"Idempotency-Key": key} if key else {})}
    return api.http.request("POST", f"/orders/{order_id}/refunds", headers=headers, body=json.dumps(body).encode())


def _versionless(order: dict) -> dict:
    return {k: v for k, v in order.items() if k != "history"} | {"history": len(order["history"])}


def test_a_refund_by_amount_reaches_stripe_and_the_ledger(stocked):
    order_id = _shipped(stocked)
    case = {"order_id": order_id, "type": "damaged_item", "subject": "Scratched", "message": "It is scratched",
            "channel": "phone"}
    case_id = stocked.ops("POST", "/cases", case).json_body["case_id"]
    unknown = _refund(stocked, order_id, {"amount": "12.50", "reason": "goodwill", "case_id": "C-1"}, key="rf-0")
    assert unknown.status_code == 422 and unknown.json_body["error"]["code"] == "unknown_case"
    response = _refund(stocked, order_id, {"amount": "12.50", "reason": "goodwill", "case_id": case_id}, key="rf-1")
    assert response.status_code == 201, response.body
    refund = response.json_body
    assert {k: refund[k] for k in ("amount", "currency", "status", "reason")} == {
        "amount": "12.50", "currency": "USD", "status": "succeeded", "reason": "goodwill"}
    payments = stocked.order(order_id)["payments"]
    assert (payments["captured"], payments["refunded"], payments["net"]) == ("48.20", "12.50", "35.70")
    refunds = [t for t in payments["transactions"] if t["type"] == "refund"]
    assert len(refunds) == 1 and refunds[0]["processor_reference"].startswith("re_")
    assert stocked.order(order_id)["refunds"][0]["case_id"] == case_id  # the goodwill credit settles the case

    again = _refund(stocked, order_id, {"amount": "12.50", "reason": "goodwill", "case_id": case_id}, key="rf-1")
    assert again.status_code == 200 and again.json_body["refund_id"] == refund["refund_id"]
    other = _refund(stocked, order_id, {"amount": "1.00", "reason": "goodwill"}, key="rf-1")
    assert other.status_code == 409 and other.json_body["error"]["code"] == "idempotency_key_reused"
    stocked.pipeline.drain()  # RefundRequested on the payments queue finds nothing left to do
    payments = stocked.order(order_id)["payments"]
    assert payments["refunded"] == "12.50" and len([t for t in payments["transactions"] if t["type"] == "refund"]) == 1


def test_a_refund_by_units_is_what_those_units_are_worth_with_their_tax_and_shipping(stocked):
    order_id = _shipped(stocked)
    response = _refund(stocked, order_id, {"lines": [{"line_id": "L2", "quantity": 1}], "shipping": "5.00",
                                           "reason": "damaged"})
    assert response.status_code == 201, response.body
    # 30.00 of goods carries three quarters of the 3.20 tax
    assert response.json_body["amount"] == "37.40"
    again = _refund(stocked, order_id, {"lines": [{"line_id": "L2", "quantity": 1}], "reason": "damaged"})
    assert again.status_code == 409 and again.json_body["error"]["code"] == "quantity_exceeds_refundable"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"amount": "48.21", "reason": "goodwill"}, 409, "refund_exceeds_captured"),
    ({"amount": "0.00", "reason": "goodwill"}, 422, "invalid_amount"),
    ({"amount": "12.345", "reason": "goodwill"}, 422, "invalid_amount"),
    ({"amount": "twelve", "reason": "goodwill"}, 422, "validation_failed"),
    ({"amount": 12.5, "reason": "goodwill"}, 422, "validation_failed"),
    ({"amount": "1.00", "reason": "because"}, 422, "validation_failed"),
    ({"amount": "1.00", "lines": [{"line_id": "L1", "quantity": 1}], "reason": "other"}, 422, "validation_failed"),
    ({"lines": [{"line_id": "L9", "quantity": 1}], "reason": "other"}, 422, "unknown_line"),
    ({"lines": [{"line_id": "L1", "quantity": 0}], "reason": "other"}, 422, "validation_failed"),
    ({"shipping": "5.01", "reason": "other"}, 409, "refund_exceeds_captured"),
])
def test_a_refund_the_order_does_not_allow_is_refused_and_writes_nothing(stocked, body, status, code):
    order_id = _shipped(stocked)
    before = _versionless(stocked.order(order_id))
    response = _refund(stocked, order_id, body, key="bad-1")
    assert (response.status_code, response.json_body["error"]["code"]) == (status, code), response.body
    assert _versionless(stocked.order(order_id)) == before


def test_nothing_captured_nothing_to_refund_and_an_unknown_order_is_404(stocked):
    order_id = stocked.place(canonical_order())
    stocked.pipeline.drain()
    response = _refund(stocked, order_id, {"amount": "1.00", "reason": "goodwill"})
    assert response.status_code == 409 and response.json_body["error"]["code"] == "refund_exceeds_captured"
    assert _refund(stocked, "o-nope", {"amount": "1.00", "reason": "goodwill"}).status_code == 404


def test_a_refund_while_stripe_is_down_stays_pending_and_the_queue_finishes_it(stocked, monkeypatch):
    from oms.bootstrap import context
    from oms.services.ports import TransientPaymentError

    order_id = _shipped(stocked)
    ctx = context()
    real, calls = ctx.payments.refund, []

    def down_twice(**kwargs):
        calls.append(kwargs["idempotency_key"])
        if len(calls) <= 2:
            raise TransientPaymentError("stripe: APIConnectionError")
        return real(**kwargs)
    monkeypatch.setattr(ctx.payments, "refund", down_twice)
    response = _refund(stocked, order_id, {"amount": "10.00", "reason": "price_adjustment"})
    assert response.status_code == 201 and response.json_body["status"] == "pending"
    assert stocked.order(order_id)["payments"]["refunded"] == "0.00"
    stocked.pipeline.drain()  # RefundRequested: asked again, under the same key, until it lands
    order = stocked.order(order_id)
    assert order["refunds"][0]["status"] == "succeeded" and order["payments"]["refunded"] == "10.00"
    assert len(set(calls)) == 1 and len(calls) == 3
    assert stocked.pipeline.queue_depth("PaymentsDeadLetterQueue") == 0


def test_a_refund_the_processor_refuses_fails_and_holds_the_order_for_an_operator(stocked, monkeypatch):
    from oms.bootstrap import context
    from oms.services.ports import PaymentRejected

    order_id = _shipped(stocked)
    ctx = context()

    def refuse(**kwargs):
        raise PaymentRejected("charge_already_refunded")
    monkeypatch.setattr(ctx.payments, "refund", refuse)
    response = _refund(stocked, order_id, {"amount": "10.00", "reason": "other"})
    assert response.status_code == 201 and response.json_body["status"] == "failed"
    order = stocked.order(order_id)
    assert order["payments"]["refunded"] == "0.00" and "refund_failed" in {h["type"] for h in order["holds"]}
    # The money was not moved: it can be refunded again.
    monkeypatch.undo()
    assert _refund(stocked, order_id, {"amount": "48.20", "reason": "other"}).json_body["status"] == "succeeded"


def test_a_refund_is_taken_from_each_authorisation_it_was_captured_from(stocked):
    """localstripe captures an intent once: the second shipment is paid by a second
    authorisation, so a refund of more than the latest capture takes from both."""
    order_id = stocked.place(canonical_order(lines=TWO_LINES))
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZSPLIT1", lines=[{"sku": "SKU-1", "quantity": 1}])
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZSPLIT2")
    stocked.pipeline.drain()
    payments = stocked.order(order_id)["payments"]
    captures = [t for t in payments["transactions"] if t["type"] == "capture"]
    assert len({t["authorization_id"] for t in captures}) == 2 and payments["captured"] == "48.20"
    response = _refund(stocked, order_id, {"amount": "40.00", "reason": "goodwill"})
    assert response.status_code == 201 and response.json_body["status"] == "succeeded"
    refunds = [t for t in stocked.order(order_id)["payments"]["transactions"] if t["type"] == "refund"]
    assert len(refunds) == 2 and sorted(t["amount"] for t in refunds) == sorted(
        ["36.15", "3.85"]), refunds

