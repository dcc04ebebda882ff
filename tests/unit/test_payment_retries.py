"""Payment steps under retries, races and late answers (pure domain)."""
from __future__ import annotations

from oms.domain.order import OrderRuleViolation
from tests.unit.builders import NOW, allocated, make_order, ready_to_ship

LINES = [("SKU-A", 2, "10.00"), ("SKU-B", 1, "30.00")]
LATER = "2024-05-09T12:00:00Z"


def _shipped_and_captured(order):
    fo = order.fulfillment_orders[0]
    order.ship(fo.fulfillment_order_id, carrier="ups", tracking_number="1Z1", service="ground", lines=None, now=NOW)
    assert order.plan_capture(None, NOW)
    planned = order.payment.pending_capture
    order.record_capture(amount=planned["amount"], capture_id="ch_1", idempotency_key=planned["idempotency_key"],
                         shipment_id=None, now=NOW)


def test_an_unanswered_authorisation_is_repeated_as_it_was_even_after_a_cancellation():
    order = allocated(make_order(LINES))
    assert order.plan_authorization()
    first = dict(order.payment.pending_authorization)
    order.record_payment_failure("timeout", first["idempotency_key"], NOW)
    order.release_hold("payment_error", "processor back", NOW)
    order.cancel({"L2": 1}, reason="customer", source="operator")  # the order is now worth less
    assert order.plan_authorization()
    assert order.payment.pending_authorization == first  # same key, same amount: one hold on the card


def test_an_expired_authorisation_is_not_renewed_while_a_capture_on_it_is_planned():
    order = ready_to_ship(make_order(LINES))
    fo = order.fulfillment_orders[0]
    order.ship(fo.fulfillment_order_id, carrier="ups", tracking_number="1Z1", service="ground", lines=None, now=NOW)
    assert order.plan_capture(None, NOW)
    assert not order.authorization_expired(LATER, 7)  # finish the planned capture first
    order.payment.pending_capture = None
    assert order.authorization_expired(LATER, 7) and not order.authorization_expired(LATER, 30)


def test_units_of_a_refund_that_partly_succeeded_cannot_be_refunded_again():
    order = ready_to_ship(make_order(LINES))
    _shipped_and_captured(order)
    order.payment.record("authorization", 100, transaction_id="a2", status="succeeded", occurred_at=NOW,
                         authorization_id="pi_2")  # a second authorisation, captured from below
    order.payment.record("capture", 100, transaction_id="c2", status="succeeded", occurred_at=NOW,
                         authorization_id="pi_2")
    refund, _ = order.request_refund(amount=None, lines={"L2": 1}, shipping=0, reason="damaged", case_id=None,
                                     request_key=None, request_hash=None, now=NOW)
    assert len(refund["parts"]) == 2
    first, second = refund["parts"]
    order.record_refund_answer(transaction_id=first, status="succeeded", processor_reference="re_1", now=NOW)
    order.record_refund_answer(transaction_id=second, status="failed", processor_reference=None, now=NOW)
    assert refund["status"] == "failed" and "refund_failed" in order.hold_types()
    assert order.refundable_units("L2") == 0  # some of its money went back: the unit is taken
    try:
        order.request_refund(amount=None, lines={"L2": 1}, shipping=0, reason="damaged", case_id=None,
                             request_key=None, request_hash=None, now=NOW)
    except OrderRuleViolation as error:
        assert error.code == "quantity_exceeds_refundable"
    else:
        raise AssertionError("the unit was refunded twice")


def test_one_claimant_at_a_time_sends_a_refund_and_a_dead_ones_lease_runs_out():
    order = ready_to_ship(make_order(LINES))
    _shipped_and_captured(order)
    refund, _ = order.request_refund(amount=500, lines=None, shipping=0, reason="goodwill", case_id=None,
                                     request_key=None, request_hash=None, now=NOW)
    rid = refund["refund_id"]
    assert order.claim_refund(rid, "first", NOW, 180)
    assert not order.claim_refund(rid, "second", "2024-05-01T12:01:00Z", 180)
    assert order.claim_refund(rid, "first", "2024-05-01T12:01:00Z", 180)  # its own claim, again
    assert order.claim_refund(rid, "second", "2024-05-01T12:05:00Z", 180)  # the first died: lease over


def test_without_multicapture_the_rest_is_authorised_again_and_a_refusal_holds_capture_failed():
    order = ready_to_ship(make_order(LINES))
    fo = order.fulfillment_orders[0]
    order.ship(fo.fulfillment_order_id, carrier="ups", tracking_number="1Z1", service="ground",
               lines=[{"sku": "SKU-A", "quantity": 2}], now=NOW)
    assert order.plan_capture(None, NOW)
    planned = order.payment.pending_capture
    assert planned["final"]  # one capture per authorisation: Stripe releases the rest
    order.record_capture(amount=planned["amount"], capture_id="ch_1", idempotency_key=planned["idempotency_key"],
                         shipment_id=None, now=NOW)
    assert order.payment.authorization_id is None and order.payment.status == "pending"
    assert order.payment.authorized == order.payment.captured  # what was not captured was given back
    assert order.plan_authorization()
    rest = order.payment.pending_authorization
    assert rest["off_session"] and rest["amount"] == order.amount_due - order.payment.captured
    events = order.record_authorization(approved=False, authorization_id=None, decline_code="card_declined",
                                        idempotency_key=rest["idempotency_key"], now=NOW)
    assert "capture_failed" in order.hold_types() and "payment_declined" not in order.hold_types()
    assert [e.event_type for e in events] == ["PaymentDeclined", "OrderHeld"]
    order.payment.check_invariants()
