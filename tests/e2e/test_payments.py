"""Money on the local stack, with the local Stripe `make run` starts: an order paid by
pm_card_visa ships in two parts and is captured twice, is partly refunded, then disputed and
lost; the ledger adds up to the cent, and Stripe holds what the ledger says."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import requests

from tests.support.fixtures import fixture
from tests.support.orders import canonical_order

from .conftest import SECRETS


def _stock(stack, sku: str, on_hand: int) -> None:
    assert stack.ops("PUT", "/locations/WH1", {"name": "Main", "type": "warehouse", "priority": 1,
                                               "address": {}}).status_code == 200
    assert stack.ops("PUT", f"/inventory/{sku}/locations/WH1", {"on_hand": on_hand}).status_code == 200


def _stripe_event(stack, kind: str, obj: dict, event_id: str, created: int) -> requests.Response:
    raw = json.dumps({"id": event_id, "object": "event", "type": kind, "created": created,
                      "data": {"object": obj}}).encode()
    t = int(time.time())
    mac = hmac.new(SECRETS["OMS_WEBHOOK_SECRET_PAYMENTS_STRIPE"].encode(), f"{t}.".encode() + raw,
                   hashlib.sha256).hexdigest()
    return stack.post("/webhooks/payments/stripe", raw, {"Stripe-Signature": f"t={t},v1={mac}"})


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


def test_two_shipments_two_captures_a_refund_a_lost_dispute_and_the_ledger_adds_up(stack):
    for sku in ("PAY-A", "PAY-B"):
        _stock(stack, sku, 5)
    body = canonical_order(lines=[{"sku": "PAY-A", "quantity": 1, "unit_price": "10.00"},
                                  {"sku": "PAY-B", "quantity": 1, "unit_price": "30.00"}])
    body["payment"] = {"method": "card", "payment_method": "pm_card_visa"}
    order_id = stack.webhook("orders", body).json()["order_id"]
    order = stack.wait_for(order_id, lambda o: o["fulfillment_orders"])
    assert order["payments"]["processor"] == "stripe" and order["payments"]["authorized"] == "48.20"
    fo = order["fulfillment_orders"][0]["fulfillment_order_id"]

    assert stack.ops("POST", f"/fulfillment-orders/{fo}/ship", {"carrier": "ups", "tracking_number": "1ZPAY1",
                                                               "lines": [{"sku": "PAY-A", "quantity": 1}]}
                     ).status_code == 201
    stack.wait_for(order_id, lambda o: o["payments"]["captured"] == "12.05" and o["payments"]["status"] == "authorized")
    assert stack.ops("POST", f"/fulfillment-orders/{fo}/ship", {"carrier": "ups", "tracking_number": "1ZPAY2"}
                     ).status_code == 201
    order = stack.wait_for(order_id, lambda o: o["payments"]["captured"] == "48.20")
    captures = [t for t in order["payments"]["transactions"] if t["type"] == "capture"]
    assert [t["amount"] for t in captures] == ["12.05", "36.15"]

    refund = stack.session.post(f"{stack.url}/orders/{order_id}/refunds", json={"amount": "5.00", "reason": "goodwill"},
                                headers={"Authorization": "Bearer e2e-ops-token", "Idempotency-Key": "e2e-refund-1"},
                                timeout=30)
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded", refund.text

    # The bank disputes the first charge (Stripe's own dispute object, pointed at this payment).
    payments = stack.order(order_id)["payments"]
    first_intent = captures[0]["authorization_id"]
    dispute = {**fixture("stripe/dispute-needs-response.json"), "payment_intent": first_intent,
               "charge": payments["charge_ids"][0], "amount": 1205}
    dispute["balance_transactions"] = [{**dispute["balance_transactions"][0], "amount": -1205}]
    assert _stripe_event(stack, "charge.dispute.created", dispute, "evt_e2e_1", 1700000000).status_code == 200
    lost = {**dispute, "status": "lost"}
    assert _stripe_event(stack, "charge.dispute.closed", lost, "evt_e2e_2", 1700000100).status_code == 200
    assert _stripe_event(stack, "charge.dispute.closed", lost, "evt_e2e_2", 1700000100).json()["result"] == "duplicate"

    order = stack.order(order_id)
    payments = order["payments"]
    assert order["disputes"][0]["status"] == "lost"
    totals = {k: _cents(payments[k]) for k in ("authorized", "captured", "refunded", "disputed", "net")}
    assert totals == {"authorized": 4820, "captured": 4820, "refunded": 500, "disputed": 1205, "net": 3115}
    by_type: dict[str, int] = {}
    for t in payments["transactions"]:
        if t["status"] == "succeeded":
            by_type[t["type"]] = by_type.get(t["type"], 0) + _cents(t["amount"])
    assert by_type["capture"] - by_type["refund"] - by_type["chargeback"] == totals["net"]
    assert by_type["authorization"] - by_type.get("void", 0) == totals["authorized"]
    assert by_type["dispute_fee"] == 1500

    # Stripe (the local one) holds what the ledger says: two charges, 48.20 captured, 5.00 refunded.
    stripe = requests.Session()
    stripe.headers["Authorization"] = "Bearer sk_test_oms_local"
    base = f"http://127.0.0.1:{stack.stripe_port}/v1"
    intents = {t["authorization_id"] for t in captures}
    refunded = 0
    for intent in intents:
        for r in stripe.get(f"{base}/refunds", params={"payment_intent": intent}, timeout=5).json()["data"]:
            refunded += r["amount"] if r["metadata"].get("oms_key") else 0
    assert len(intents) == 2 and refunded == 500


def test_the_local_stripe_delivers_its_events_to_the_oms_signed(stack):
    """make run registers the OMS's webhook with the local Stripe: a payment failing there (one
    the OMS does not know) arrives signed and is kept as unmatched."""
    stripe = requests.Session()
    stripe.headers["Authorization"] = "Bearer sk_test_oms_local"
    failed = stripe.post(f"http://127.0.0.1:{stack.stripe_port}/v1/payment_intents", timeout=5, data={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": "true"})
    assert failed.status_code == 402
    dynamodb = stack.aws_client("dynamodb")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = dynamodb.scan(TableName="oms-local", FilterExpression="begins_with(pk, :p)",
                              ExpressionAttributeValues={":p": {"S": "PAYEVENT#"}})["Items"]
        kept = [json.loads(i["update"]["S"]) for i in items]
        if any(e["type"] == "payment_intent.payment_failed" for e in kept):
            return
        time.sleep(0.3)
    raise AssertionError("the local Stripe's event never reached the OMS")
