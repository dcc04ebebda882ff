"""Stripe's webhook events read into what the OMS acts on, with Stripe's own dispute object."""
from __future__ import annotations

import copy

import pytest

from oms.adapters.stripe_events import IgnoredStripeEvent, read_event
from oms.domain.evidence import EVIDENCE_FIELDS, dispute_evidence
from oms.services.canonical import UnmappablePayload
from tests.support.fixtures import fixture
from tests.unit.builders import NOW, make_order, ready_to_ship

DISPUTE = fixture("stripe/dispute-needs-response.json")


def envelope(kind: str, obj: dict, **extra) -> dict:
    return {"id": "evt_1", "object": "event", "type": kind, "created": 1625755540, "data": {"object": obj}, **extra}


def test_a_dispute_event_carries_the_whole_dispute_in_minor_units_and_iso_times():
    event = read_event(envelope("charge.dispute.created", DISPUTE))
    assert event.references == [DISPUTE["payment_intent"], DISPUTE["charge"]]
    assert event.dispute == {
        "dispute_id": DISPUTE["id"], "status": "needs_response", "reason": "fraudulent", "amount": 1000,
        "currency": "USD", "evidence_due_by": "2021-07-17T23:59:59Z", "opened_at": "2021-07-08T14:45:40Z",
        "charge_id": DISPUTE["charge"], "payment_intent_id": DISPUTE["payment_intent"],
        "balance_transactions": [{"id": "txn_16g5h62eZvKYlo2CQ2AHA89s", "amount": -1000, "fee": 1500,
                                  "created": "2021-07-08T14:45:40Z"}]}


def test_a_dispute_without_a_payment_intent_is_looked_up_by_its_charge():
    event = read_event(envelope("charge.dispute.updated", {**DISPUTE, "payment_intent": None}))
    assert event.references == [DISPUTE["charge"]]


def test_a_refund_update_and_the_intent_events():
    refund = read_event(envelope("charge.refund.updated", {
        "id": "re_1", "object": "refund", "status": "failed", "failure_reason": "lost_or_stolen_card",
        "payment_intent": "pi_1", "charge": {"id": "ch_1"}, "metadata": {"oms_key": "o1-R1:1"}})).refund
    assert refund == {"refund_id": "re_1", "status": "failed", "failure_reason": "lost_or_stolen_card",
                      "payment_intent_id": "pi_1", "charge_id": "ch_1", "key": "o1-R1:1"}
    canceled = read_event(envelope("payment_intent.canceled", {
        "id": "pi_1", "object": "payment_intent", "cancellation_reason": "automatic",
        "metadata": {"oms_order_id": "o1", "oms_key": "o1:authorize:1"}}))
    assert (canceled.order_id, canceled.intent["cancellation_reason"]) == ("o1", "automatic")
    failed = read_event(envelope("payment_intent.payment_failed", {
        "id": "pi_2", "object": "payment_intent", "last_payment_error": {"code": "card_declined",
                                                                       "decline_code": "insufficient_funds"}}))
    assert failed.intent["decline_code"] == "insufficient_funds" and failed.order_id is None


def test_types_the_oms_does_not_act_on_are_ignored():
    with pytest.raises(IgnoredStripeEvent):
        read_event(envelope("payment_intent.succeeded", {"id": "pi_1"}))


@pytest.mark.parametrize("broken", [
    lambda e: e.update(id="nope"), lambda e: e.pop("created"), lambda e: e.update(created="yesterday"),
    lambda e: e["data"]["object"].pop("amount"), lambda e: e["data"]["object"].update(charge=None, payment_intent=None),
    lambda e: e["data"]["object"]["balance_transactions"][0].pop("amount"), lambda e: e.update(data={"object": []}),
])
def test_an_event_the_oms_cannot_read_is_refused_with_details(broken):
    event = envelope("charge.dispute.created", copy.deepcopy(DISPUTE))
    broken(event)
    with pytest.raises(UnmappablePayload) as error:
        read_event(event)
    assert error.value.args[0]


def test_the_evidence_is_what_the_order_proves_in_stripes_field_names():
    order = ready_to_ship(make_order())
    fo = order.fulfillment_orders[0]
    order.ship(fo.fulfillment_order_id, carrier="UPS", tracking_number="1Z9", service="ground", lines=None, now=NOW)
    order.apply_tracking("1Z9", {"checkpoints": [{"status": "delivered", "occurred_at": "2024-05-03T10:00:00Z",
                                                  "description": "Front door", "location": "New York"}],
                                 "signed_by": "A LOVELACE"})
    evidence = dispute_evidence(order)
    assert set(evidence) <= set(EVIDENCE_FIELDS)
    assert evidence["customer_name"] == "Ada Lovelace" and evidence["shipping_date"] == "2024-05-01"
    assert evidence["shipping_carrier"] == "UPS" and evidence["shipping_tracking_number"] == "1Z9"
    assert "2024-05-03T10:00:00Z UPS 1Z9: delivered Front door New York" in evidence["uncategorized_text"]
    assert "signed for by A LOVELACE" in evidence["uncategorized_text"]


@pytest.mark.parametrize(("stripe", "ours"), [("succeeded", "succeeded"), ("pending", "pending"),
                                              ("requires_action", "pending"), ("failed", "failed"),
                                              ("canceled", "failed")])
def test_stripes_refund_statuses_in_the_ports_words(stripe, ours):
    from oms.adapters.stripe_payments import refund_status

    assert refund_status(stripe) == ours
