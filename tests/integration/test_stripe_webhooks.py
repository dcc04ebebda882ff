"""POST /webhooks/payments/stripe: Stripe's signature, its dispute object as it is, the same
event twice, events out of order, refunds that fail later, authorisations cancelled at Stripe,
and the dispute evidence sent back (to a recording stand-in: the local Stripe has no disputes)."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time

import pytest

from tests.support.fixtures import fixture
from tests.support.harness import OPS, TEST_ENV
from tests.support.orders import canonical_order
from tests.support.recording_server import RecordingServer

SECRET = TEST_ENV["OMS_WEBHOOK_SECRET_PAYMENTS_STRIPE"]
DISPUTE = fixture("stripe/dispute-needs-response.json")  # Stripe's Dispute object, as Stripe sends it
FIXTURE_INTENT, FIXTURE_CHARGE = DISPUTE["payment_intent"], DISPUTE["charge"]


def stripe_signature(raw: bytes, secret: str = SECRET, timestamp: int | None = None, extra_v1: str = "") -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},{extra_v1}v1={mac}"


def event(kind: str, obj: dict, event_id: str = "evt_1", created: int = 1625755540) -> dict:
    return {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}, "created": created,
            "api_version": "2020-08-27", "livemode": False}


def post(api, body, header: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    headers["Stripe-Signature"] = header if header is not None else stripe_signature(raw)
    return api.http.post("/webhooks/payments/stripe", body=raw, headers=headers)


def _table_size() -> int:
    from .conftest import table_items

    return len(table_items())


@pytest.fixture
def fixture_order(stocked, monkeypatch):
    """A shipped order whose card authorisation is the fixture's intent and charge: the local
    Stripe is asked to authorise, and its answer is relabelled with Stripe's ids from the fixture."""
    from dataclasses import replace

    from oms.bootstrap import context

    ctx = context()
    authorize = ctx.payments.authorize
    intents = {}

    def relabelled(**kwargs):
        result = authorize(**kwargs)
        intents[FIXTURE_INTENT] = result.authorization_id
        return replace(result, authorization_id=FIXTURE_INTENT, charge_id=FIXTURE_CHARGE)
    capture = ctx.payments.capture
    monkeypatch.setattr(ctx.payments, "authorize", relabelled)
    monkeypatch.setattr(ctx.payments, "capture", lambda **kw: capture(**{
        **kw, "authorization_id": intents.get(kw["authorization_id"], kw["authorization_id"])}) and FIXTURE_CHARGE)
    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"},
                                                    {"sku": "SKU-2", "quantity": 1, "unit_price": "30.00"}]))
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZDISPUTE", lines=[{"sku": "SKU-1", "quantity": 1}])
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["payments"]["payment_intent_id"] is None or order["payments"]["charge_ids"] == [FIXTURE_CHARGE]
    return order_id


# ---- signatures -------------------------------------------------------------------------------

def test_the_stripe_signature_vector_verifies():
    from oms.adapters.signatures import verify_generic

    body = b'{"id":"evt_1","object":"event","type":"charge.dispute.created"}'
    header = "t=1700000000,v1=9bef789a0ee1776ffcdc2e4a6373a0c3d1eb922a0bbda20341e6ee786d604f21"
    verify_generic("whsec_test_secret", body, header, 1700000000, header_name="Stripe-Signature")


@pytest.mark.parametrize("case", ["missing", "malformed", "tampered", "wrong secret", "stale", "future"])
def test_a_bad_signature_is_401_and_writes_nothing(api, case):
    body = event("charge.dispute.created", copy.deepcopy(DISPUTE))
    raw = json.dumps(body).encode()
    header = {"missing": "", "malformed": "v1=abc,t=x",
              "tampered": stripe_signature(raw.replace(b"fraudulent", b"duplicate")),
              "wrong secret": stripe_signature(raw, secret="whsec_other"),
              # well past the 300 s either way, so a slow test run cannot bring it back inside
              "stale": stripe_signature(raw, timestamp=int(time.time()) - 360),
              "future": stripe_signature(raw, timestamp=int(time.time()) + 360)}[case]
    before = _table_size()
    response = post(api, raw, header)
    assert response.status_code == 401 and response.json_body["error"]["code"] == "invalid_signature"
    assert _table_size() == before


def test_several_v1_signatures_one_right_is_accepted(api):
    raw = json.dumps(event("charge.dispute.created", copy.deepcopy(DISPUTE))).encode()
    response = post(api, raw, stripe_signature(raw, extra_v1="v1=" + "0" * 64 + ","))
    assert response.status_code == 202 and response.json_body["result"] == "unmatched"


# ---- events -----------------------------------------------------------------------------------

def test_the_dispute_fixture_as_it_is_for_an_unknown_payment_is_kept_unmatched(api):
    from .conftest import table_items

    response = post(api, event("charge.dispute.created", DISPUTE, event_id="evt_unknown"))
    assert response.status_code == 202 and response.json_body == {"event_id": "evt_unknown", "result": "unmatched"}
    assert any(i["pk"]["S"] == "PAYEVENT#evt_unknown" for i in table_items())


def test_types_the_oms_does_not_handle_are_acknowledged(api):
    response = post(api, event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.status_code == 200 and response.json_body["result"] == "ignored"


def test_a_malformed_event_is_422(api):
    response = post(api, {"id": "evt_x", "type": "charge.dispute.created", "created": 1, "data": {"object": {}}})
    assert response.status_code == 422


def test_a_dispute_holds_unshipped_goods_and_moves_money_once(stocked, fixture_order):
    api, order_id = stocked, fixture_order
    assert post(api, event("charge.dispute.created", DISPUTE, "evt_created")).json_body["result"] == "applied"
    again = post(api, event("charge.dispute.created", DISPUTE, "evt_created"))
    assert again.status_code == 200 and again.json_body["result"] == "duplicate"
    order = api.order(order_id)
    assert order["disputes"] == [{
        "dispute_id": DISPUTE["id"], "status": "needs_response", "reason": "fraudulent", "amount": "10.00",
        "currency": "USD", "evidence_due_by": "2021-07-17T23:59:59Z", "opened_at": "2021-07-08T14:45:40Z",
        "closed_at": None, "evidence_submitted_at": None}]
    assert "payment_disputed" in {h["type"] for h in order["holds"]}
    # The fixture carries the withdrawal: 10.00 back to the bank, a 15.00 fee.
    payments = order["payments"]
    kinds = [(t["type"], t["amount"]) for t in payments["transactions"] if t["type"] in ("chargeback", "dispute_fee")]
    assert kinds == [("chargeback", "10.00"), ("dispute_fee", "15.00")]
    assert (payments["disputed"], payments["net"]) == ("10.00", str_money(payments, -1000))
    # Nothing more ships while the bank says the payment was not theirs; no refund either.
    response = api.ops("POST", f"/fulfillment-orders/{order_id}-F1/ship", {"carrier": "UPS", "tracking_number": "1ZX"})
    assert response.status_code == 409 and response.json_body["error"]["code"] == "order_on_hold"
    refund = api.http.request("POST", f"/orders/{order_id}/refunds", headers=OPS,
                              body=json.dumps({"amount": "1.00", "reason": "goodwill"}).encode())
    assert refund.status_code == 409 and refund.json_body["error"]["code"] == "payment_disputed"
    # funds_withdrawn repeats the same balance transaction: applied once.
    post(api, event("charge.dispute.funds_withdrawn", DISPUTE, "evt_withdrawn", created=1625755600))
    assert api.order(order_id)["payments"]["disputed"] == "10.00"
    # Won: the money comes back, the hold goes.
    won = copy.deepcopy(DISPUTE)
    won.update(status="won", balance_transactions=[*DISPUTE["balance_transactions"], {
        "id": "txn_reinstated", "object": "balance_transaction", "amount": 1000, "fee": 0, "created": 1626000000}])
    post(api, event("charge.dispute.funds_reinstated", won, "evt_reinstated", created=1626000000))
    post(api, event("charge.dispute.closed", won, "evt_closed", created=1626000001))
    order = api.order(order_id)
    assert order["disputes"][0]["status"] == "won" and order["disputes"][0]["closed_at"]
    assert "payment_disputed" not in {h["type"] for h in order["holds"]}
    assert order["payments"]["disputed"] == "0.00"
    types = [h["event_type"] for h in order["history"]]
    assert types.count("DisputeOpened") == 1 and types.count("ChargebackDebited") == 1
    assert types.count("ChargebackReversed") == 1 and types.count("DisputeClosed") == 1
    # The dispute opened an urgent case on the order, and its end closed it.
    api.pipeline.drain()
    cases = api.ops("GET", f"/orders/{order_id}").json_body["cases"]
    assert [(c["type"], c["status"]) for c in cases] == [("dispute", "closed")]


def str_money(payments: dict, delta_minor: int) -> str:
    cents = round(float(payments["captured"]) * 100) - round(float(payments["refunded"]) * 100) + delta_minor
    return f"{cents // 100}.{cents % 100:02d}"


def test_events_out_of_order_end_where_the_dispute_ended(stocked, fixture_order):
    """closed (lost) arrives first, then the older created and updated: the dispute stays lost,
    the chargeback is counted once, and the hold stays for an operator."""
    api, order_id = stocked, fixture_order
    lost = {**copy.deepcopy(DISPUTE), "status": "lost"}
    post(api, event("charge.dispute.closed", lost, "evt_c", created=1626500000))
    post(api, event("charge.dispute.updated", {**copy.deepcopy(DISPUTE), "status": "under_review"}, "evt_u",
                    created=1626000000))
    post(api, event("charge.dispute.created", DISPUTE, "evt_o", created=1625755540))
    order = api.order(order_id)
    assert order["disputes"][0]["status"] == "lost" and order["payments"]["disputed"] == "10.00"
    assert "payment_disputed" in {h["type"] for h in order["holds"]}
    assert len([t for t in order["payments"]["transactions"] if t["type"] == "chargeback"]) == 1


def test_a_dispute_without_a_payment_intent_is_matched_by_its_charge(stocked, fixture_order):
    api, order_id = stocked, fixture_order
    by_charge = {**copy.deepcopy(DISPUTE), "payment_intent": None}
    response = post(api, event("charge.dispute.created", by_charge, "evt_by_charge"))
    assert response.status_code == 200 and response.json_body["result"] == "applied"
    assert api.order(order_id)["disputes"][0]["dispute_id"] == DISPUTE["id"]


def test_an_inquiry_holds_nothing(stocked, fixture_order):
    api, order_id = stocked, fixture_order
    inquiry = {**copy.deepcopy(DISPUTE), "status": "warning_needs_response", "balance_transactions": []}
    post(api, event("charge.dispute.created", inquiry, "evt_inquiry"))
    order = api.order(order_id)
    assert order["disputes"][0]["status"] == "warning_needs_response" and not order["holds"]


def test_a_refund_that_fails_later_is_marked_failed_and_held(stocked):
    order_id = stocked.place(canonical_order())
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZREFUNDFAIL")
    stocked.pipeline.drain()
    refund = stocked.http.request("POST", f"/orders/{order_id}/refunds", headers=OPS,
                                  body=json.dumps({"amount": "5.00", "reason": "goodwill"}).encode()).json_body
    assert refund["status"] == "succeeded"
    order = stocked.order(order_id)
    stripe_refund = next(t for t in order["payments"]["transactions"] if t["type"] == "refund")
    failed = {"id": stripe_refund["processor_reference"], "object": "refund", "amount": 500, "status": "failed",
              "failure_reason": "expired_or_canceled_card", "payment_intent": order["payments"]["payment_intent_id"],
              "charge": order["payments"]["charge_ids"][0], "metadata": {}}
    assert post(stocked, event("charge.refund.updated", failed, "evt_rf")).json_body["result"] == "applied"
    assert post(stocked, event("charge.refund.updated", failed, "evt_rf")).json_body["result"] == "duplicate"
    order = stocked.order(order_id)
    assert order["refunds"][0]["status"] == "failed" and order["payments"]["refunded"] == "0.00"
    assert "refund_failed" in {h["type"] for h in order["holds"]}
    assert [h["event_type"] for h in order["history"]].count("RefundFailed") == 1


def test_an_authorisation_cancelled_at_stripe_holds_the_order(stocked):
    order_id = stocked.place(canonical_order())
    stocked.pipeline.drain()
    intent = stocked.order(order_id)["payments"]["payment_intent_id"]
    ours = {"id": intent, "object": "payment_intent", "status": "canceled", "cancellation_reason": "abandoned",
            "metadata": {"oms_order_id": order_id}}
    # "abandoned" is how the OMS cancels an authorisation itself: its own step records that.
    assert post(stocked, event("payment_intent.canceled", ours, "evt_ours")).json_body["result"] == "no_change"
    assert not stocked.order(order_id)["holds"]
    canceled = {**ours, "cancellation_reason": "automatic"}
    assert post(stocked, event("payment_intent.canceled", canceled, "evt_pc")).json_body["result"] == "applied"
    order = stocked.order(order_id)
    assert [h["type"] for h in order["holds"]] == ["authorization_lost"]
    assert order["payments"]["authorized"] == "0.00"
    # The operator has it authorised again, and the order ships and is captured as before.
    release = stocked.ops("POST", f"/orders/{order_id}/holds/authorization_lost/release", {"reason": "re-auth"})
    assert release.status_code == 200
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZREAUTH")
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["payments"]["captured"] == order["totals"]["total"] and not order["holds"]


def test_dispute_evidence_is_what_the_order_proves_and_is_submitted_to_stripe(stocked, fixture_order, monkeypatch):
    api, order_id = stocked, fixture_order
    post(api, event("charge.dispute.created", DISPUTE, "evt_ev"))
    path = f"/orders/{order_id}/disputes/{DISPUTE['id']}/evidence"
    evidence = api.ops("GET", path).json_body["evidence"]
    assert evidence["customer_name"] == "Ada Lovelace" and evidence["customer_email_address"] == "ada@example.com"
    assert evidence["shipping_tracking_number"] == "1ZDISPUTE" and evidence["shipping_carrier"] == "FedEx"
    assert evidence["shipping_address"].startswith("Ada Lovelace, 1 Main St")
    assert "1 x SKU-1" in evidence["product_description"]
    assert api.ops("GET", f"/orders/{order_id}/disputes/dp_nope/evidence").status_code == 404
    bad = api.ops("POST", path, {"submit": True, "overrides": {"favourite_colour": "blue"}})
    assert bad.status_code == 422

    from oms.adapters.stripe_payments import StripeProcessor
    from oms.bootstrap import context

    with RecordingServer() as stripe:
        stripe.answer("POST", f"/v1/disputes/{DISPUTE['id']}", body={"id": DISPUTE["id"], "object": "dispute"})
        monkeypatch.setattr(context(), "payments", StripeProcessor(api_base=stripe.url))
        response = api.ops("POST", path, {"submit": True, "overrides": {"uncategorized_text": "Signed for."}})
        assert response.status_code == 200, response.body
        (sent,) = stripe.requests
    form = dict(pair.split("=", 1) for pair in sent["raw"].decode().split("&"))
    assert form["submit"] == "true" and form["evidence[uncategorized_text]"] == "Signed+for."
    assert form["evidence[shipping_tracking_number]"] == "1ZDISPUTE"
    assert sent["headers"]["idempotency-key"].startswith(f"{DISPUTE['id']}:evidence:")
    assert sent["headers"]["authorization"] == f"Bearer {TEST_ENV['OMS_STRIPE_API_KEY']}"
    assert api.order(order_id)["disputes"][0]["evidence_submitted_at"]

    with RecordingServer() as stripe:  # Stripe refuses it (e.g. a file field that is not a file id)
        stripe.answer("POST", f"/v1/disputes/{DISPUTE['id']}", status=400, body={"error": {
            "type": "invalid_request_error", "code": "resource_missing", "message": "No such file: 'x'"}})
        monkeypatch.setattr(context(), "payments", StripeProcessor(api_base=stripe.url))
        refused = api.ops("POST", path, {"submit": False, "overrides": {"receipt": "x"}})
    assert refused.status_code == 422 and refused.json_body["error"]["code"] == "evidence_rejected"
