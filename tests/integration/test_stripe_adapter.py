"""The Stripe adapter against a real Stripe API implementation (the local Stripe, localstripe),
and against a recording stand-in for what localstripe does not implement (multicapture, the
exact requests and headers)."""
from __future__ import annotations

import socket
import uuid

import pytest

from oms.adapters.stripe_payments import StripeProcessor
from oms.services.ports import PaymentRejected, PaymentSource, TransientPaymentError
from tests.support.recording_server import RecordingServer


@pytest.fixture
def stripe(local_stripe) -> StripeProcessor:
    return StripeProcessor(api_base=local_stripe.url)


def key(step: str) -> str:
    return f"o{uuid.uuid4().hex[:12]}:{step}"


def authorise(stripe, amount=4820, **source):
    return stripe.authorize(amount=amount, currency="USD", source=PaymentSource(**(source or {"token": "tok_visa"})),
                            idempotency_key=key("authorize:1"), order_id="o-test")


def stripe_intent(local_stripe, intent_id: str) -> dict:
    import requests

    return requests.get(f"{local_stripe.url}/v1/payment_intents/{intent_id}",
                        headers={"Authorization": "Bearer sk_test_x"}, timeout=5).json()


@pytest.mark.parametrize("source", [{"token": "tok_visa"}, {"payment_method": "pm_card_visa"},
                                    {"token": "tok_mastercard"}])
def test_an_approved_card_is_authorised_for_manual_capture_with_a_saved_payment_method(stripe, local_stripe, source):
    result = authorise(stripe, **source)
    assert result.approved and result.authorization_id.startswith("pi_") and result.amount == 4820
    assert result.charge_id.startswith("ch_") and not result.multicapture  # localstripe has no multicapture
    assert result.saved_payment_method and result.customer.startswith("cus_")
    intent = stripe_intent(local_stripe, result.authorization_id)
    assert (intent["status"], intent["capture_method"]) == ("requires_capture", "manual")
    assert intent["metadata"]["oms_order_id"] == "o-test"


@pytest.mark.parametrize(("source", "code"), [
    ({"token": "tok_chargeDeclined"}, "generic_decline"),
    ({"token": "tok_chargeDeclinedInsufficientFunds"}, "insufficient_funds"),
    ({"payment_method": "pm_card_chargeDeclined"}, "generic_decline"),
    ({"payment_method": "pm_card_chargeDeclinedExpiredCard"}, "expired_card"),
])
def test_a_declined_card_is_an_answer_with_its_decline_code(stripe, source, code):
    result = authorise(stripe, **source)
    assert not result.approved and result.decline_code == code


def test_a_processing_error_is_transient_and_answered(stripe):
    with pytest.raises(TransientPaymentError) as error:
        authorise(stripe, token="tok_processingError")
    assert error.value.answered  # Stripe keeps that answer for the key: a retry needs a new one


def test_stripe_unreachable_is_transient_and_unanswered():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(TransientPaymentError) as error:
        authorise(StripeProcessor(api_base=f"http://127.0.0.1:{closed}"))
    assert not error.value.answered  # the outcome is unknown: the same key again


def test_a_partial_capture_then_the_rest_authorised_again_off_session(stripe, local_stripe):
    first = authorise(stripe)
    capture_key = key("capture:1")
    charge = stripe.capture(authorization_id=first.authorization_id, amount=1205, currency="USD", final=True,
                            idempotency_key=capture_key)
    assert charge == first.charge_id and stripe_intent(local_stripe, first.authorization_id)["status"] == "succeeded"
    # The same request again (its answer was lost): recognised as done, not captured twice.
    assert stripe.capture(authorization_id=first.authorization_id, amount=1205, currency="USD", final=True,
                          idempotency_key=capture_key) == charge
    # Days later, its key forgotten: checked at Stripe first, found done, not captured again.
    assert stripe.capture(authorization_id=first.authorization_id, amount=1205, currency="USD", final=True,
                          idempotency_key=key("capture:1-forgotten"), check_first=True) == charge
    # A further capture on a finished intent is refused.
    with pytest.raises(PaymentRejected):
        stripe.capture(authorization_id=first.authorization_id, amount=100, currency="USD", final=True,
                       idempotency_key=key("capture:2"), captured_before=1205)
    rest = stripe.authorize(amount=3615, currency="USD", idempotency_key=key("authorize:2"), order_id="o-test",
                            source=PaymentSource(payment_method=first.saved_payment_method, customer=first.customer,
                                                 off_session=True))
    assert rest.approved and rest.authorization_id != first.authorization_id
    assert stripe.capture(authorization_id=rest.authorization_id, amount=3615, currency="USD", final=True,
                          idempotency_key=key("capture:3")) == rest.charge_id


def test_void_cancels_and_a_repeat_is_harmless(stripe, local_stripe):
    result = authorise(stripe)
    stripe.void(authorization_id=result.authorization_id, idempotency_key=key("void"))
    stripe.void(authorization_id=result.authorization_id, idempotency_key=key("void"))
    assert stripe_intent(local_stripe, result.authorization_id)["status"] == "canceled"


def test_partial_refunds_and_a_repeated_refund_key_makes_one_refund(stripe, local_stripe):
    import requests

    result = authorise(stripe)
    stripe.capture(authorization_id=result.authorization_id, amount=4820, currency="USD", final=True,
                   idempotency_key=key("capture:1"))
    first, second = key("refund:1"), key("refund:2")
    a = stripe.refund(authorization_id=result.authorization_id, amount=1000, currency="USD", idempotency_key=first,
                      metadata={"oms_order_id": "o-test"})
    again = stripe.refund(authorization_id=result.authorization_id, amount=1000, currency="USD",
                          idempotency_key=first, metadata={"oms_order_id": "o-test"})
    b = stripe.refund(authorization_id=result.authorization_id, amount=250, currency="USD", idempotency_key=second,
                      metadata={"oms_order_id": "o-test"})
    assert a.refund_id == again.refund_id != b.refund_id and a.status == b.status == "succeeded"
    refunds = requests.get(f"{local_stripe.url}/v1/refunds", params={"payment_intent": result.authorization_id},
                           headers={"Authorization": "Bearer sk_test_x"}, timeout=5).json()["data"]
    assert sorted(r["amount"] for r in refunds if r["metadata"].get("oms_key")) == [250, 1000]


@pytest.mark.parametrize(("change", "problem"), [
    ("cancel", "is canceled"), ("currency", "in USD, the order in EUR"), ("amount", "holds 4820")])
def test_a_storefront_authorisation_is_verified_before_it_is_accepted(stripe, change, problem):
    result = authorise(stripe)
    if change == "cancel":
        stripe.void(authorization_id=result.authorization_id, idempotency_key=key("void"))
    verified = stripe.verify_authorization(authorization_id=result.authorization_id,
                                           amount=9999 if change == "amount" else 4820,
                                           currency="EUR" if change == "currency" else "USD")
    assert not verified.approved and problem in verified.mismatch
    good = stripe.verify_authorization(authorization_id=authorise(stripe).authorization_id, amount=4000,
                                       currency="USD")
    assert good.approved and good.amount == 4820


def test_multicapture_where_the_card_offers_it_and_every_call_carries_its_key():
    """What localstripe cannot do, against a stand-in answering as Stripe documents."""
    with RecordingServer() as server:
        server.answer("POST", "/v1/customers", body={"id": "cus_1", "object": "customer"})
        server.answer("POST", "/v1/payment_intents", body={
            "id": "pi_1", "object": "payment_intent", "status": "requires_capture", "amount": 4820,
            "amount_capturable": 4820, "customer": "cus_1", "payment_method": "pm_1",
            "setup_future_usage": "off_session", "latest_charge": {
                "id": "ch_1", "object": "charge", "payment_method_details": {
                    "type": "card", "card": {"multicapture": {"status": "available"}}}}})
        server.answer("POST", "/v1/payment_intents/pi_1/capture", body={
            "id": "pi_1", "object": "payment_intent", "status": "requires_capture", "latest_charge": "ch_1"})
        stripe = StripeProcessor(api_base=server.url)
        result = stripe.authorize(amount=4820, currency="USD", source=PaymentSource(token="tok_visa"),
                                  idempotency_key="o1:authorize:1", order_id="o1")
        assert result.multicapture and result.saved_payment_method == "pm_1"
        assert stripe.capture(authorization_id="pi_1", amount=1205, currency="USD", final=False,
                              idempotency_key="o1:capture:1") == "ch_1"
        customer, intent, capture = server.requests
    assert customer["headers"]["idempotency-key"] == "o1:customer"
    assert intent["headers"]["idempotency-key"] == "o1:authorize:1"
    form = intent["raw"].decode()
    for field in ("capture_method=manual", "confirm=true", "payment_method_options[card][request_multicapture]"
                  "=if_available", "setup_future_usage=off_session", "payment_method_data[card][token]=tok_visa",
                  "customer=cus_1", "amount=4820", "currency=usd"):
        assert field in form, field
    assert capture["headers"]["idempotency-key"] == "o1:capture:1"
    assert "amount_to_capture=1205" in capture["raw"].decode() and "final_capture=false" in capture["raw"].decode()
