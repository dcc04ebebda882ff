"""Orders whose card the storefront (or a call centre) gave as a Stripe object: a PaymentIntent
the storefront confirmed is verified and captured; one that cannot pay for the order holds it."""
from __future__ import annotations

from oms.adapters.stripe_payments import StripeProcessor
from oms.services.ports import PaymentSource
from tests.support.orders import canonical_order


def _storefront_intent(local_stripe, amount: int) -> str:
    """What a headless checkout does: confirm a manual-capture intent with the customer's card."""
    result = StripeProcessor(api_base=local_stripe.url).authorize(
        amount=amount, currency="USD", source=PaymentSource(payment_method="pm_card_visa"),
        idempotency_key=f"storefront:{amount}", order_id="storefront")
    assert result.approved
    return result.authorization_id


def test_a_storefront_intent_for_the_order_is_accepted_and_captured(stocked, local_stripe):
    intent = _storefront_intent(local_stripe, 4818)
    order_id = stocked.place(canonical_order(payment={"method": "card", "payment_intent": intent}))
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["payments"]["payment_intent_id"] == intent and order["payments"]["authorized"] == "48.18"
    stocked.ship(order_id, "1ZSTOREFRONT")
    stocked.pipeline.drain()
    assert stocked.order(order_id)["payments"]["captured"] == "48.18"


def test_an_intent_that_cannot_pay_holds_the_order_and_a_release_checks_again(stocked, local_stripe):
    short = _storefront_intent(local_stripe, 1000)
    order_id = stocked.place(canonical_order(payment={"method": "card", "payment_intent": short}))
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert [h["type"] for h in order["holds"]] == ["payment_mismatch"]
    assert "holds 1000, the order needs 4818" in order["holds"][0]["detail"]
    assert not order["fulfillment_orders"]
    response = stocked.ops("POST", f"/orders/{order_id}/holds/payment_mismatch/release", {"reason": "checked"})
    assert response.status_code == 200
    stocked.pipeline.drain()  # the release reaches the payments queue: checked again, still short
    history = [h["event_type"] for h in stocked.order(order_id)["history"]]
    assert history.count("PaymentFailed") == 2 and history[-1] == "OrderHeld"


def test_one_intent_pays_for_one_order(stocked, local_stripe):
    intent = _storefront_intent(local_stripe, 4818)
    first = stocked.place(canonical_order(payment={"method": "card", "payment_intent": intent}))
    stocked.pipeline.drain()
    second = stocked.place(canonical_order(payment={"method": "card", "payment_intent": intent}))
    stocked.pipeline.drain()
    assert stocked.order(first)["payments"]["status"] == "authorized"
    held = stocked.order(second)
    assert [h["type"] for h in held["holds"]] == ["payment_mismatch"] and "another order" in held["holds"][0]["detail"]
