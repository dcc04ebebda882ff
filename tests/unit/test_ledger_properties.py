"""Property: random interleavings of shipments and captures (with and without multicapture,
re-authorising the rest when a processor releases it), cancellations, refunds (answered now, later,
failed, repeated) and dispute reports in any order, repeated, never break the ledger:
captured <= authorised, refunded <= captured, every transaction applied once, and a fully
shipped order never captures more than it is worth."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.domain.order import OrderRuleViolation
from tests.unit.builders import NOW, make_order, ready_to_ship

LINES = [("SKU-A", 3, "10.00"), ("SKU-B", 2, "7.35"), ("SKU-C", 1, "99.99")]
DISPUTE_STATUSES = ["warning_needs_response", "needs_response", "under_review", "won", "lost", "warning_closed"]

steps = st.lists(st.one_of(
    st.tuples(st.just("ship"), st.sampled_from(["L1", "L2", "L3"]), st.integers(1, 3)),
    st.tuples(st.just("cancel"), st.sampled_from(["L1", "L2", "L3"]), st.integers(1, 3)),
    st.tuples(st.just("refund"), st.integers(1, 15000)),
    st.tuples(st.just("refund_lines"), st.sampled_from(["L1", "L2", "L3"]), st.integers(1, 2)),
    st.tuples(st.just("answer"), st.sampled_from(["succeeded", "failed", "pending"]), st.integers(0, 5)),
    st.tuples(st.just("dispute"), st.sampled_from(DISPUTE_STATUSES), st.integers(0, 3), st.integers(0, 2),
              st.booleans()),
    st.tuples(st.just("capture_fails"),),
), max_size=25)


def _capture_everything_due(order, multicapture: bool, counter: list) -> None:
    """What the capture service does: plan, make, record; authorise the rest again when the
    processor released it."""
    for _ in range(4):
        if order.needs_payment() and order.plan_authorization():
            counter[0] += 1
            key = order.payment.pending_authorization["idempotency_key"]
            order.record_authorization(approved=True, authorization_id=f"pi_{counter[0]}", decline_code=None,
                                       idempotency_key=key, now=NOW, processor="stripe", multicapture=multicapture)
        if not order.plan_capture(None):
            return
        planned = order.payment.pending_capture
        order.record_capture(amount=planned["amount"], capture_id=f"ch_{planned['authorization_id']}",
                             idempotency_key=planned["idempotency_key"], shipment_id=None, now=NOW)


def _dispute_report(status: str, withdrawn: int, reinstated: int) -> dict:
    balance = [{"id": f"txn_w{n}", "amount": -300, "fee": 150, "created": NOW} for n in range(withdrawn)]
    balance += [{"id": f"txn_r{n}", "amount": 300, "fee": 0, "created": NOW} for n in range(min(reinstated, withdrawn))]
    return {"dispute_id": "dp_1", "status": status, "reason": "fraudulent", "amount": 300, "currency": "USD",
            "evidence_due_by": None, "opened_at": NOW, "charge_id": "ch_pi_1", "payment_intent_id": "pi_1",
            "balance_transactions": balance}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, multicapture=st.booleans())
def test_no_interleaving_breaks_the_ledger(steps, multicapture):
    order = ready_to_ship(make_order(LINES))
    order.payment.multicapture = multicapture
    order.payment.processor = "stripe"
    counter, reported = [1], 0
    for step in steps:
        kind = step[0]
        try:
            if kind == "ship":
                line = order.line(step[1])
                fo = next(f for f in order.fulfillment_orders if any(fl["line_id"] == step[1] for fl in f.lines))
                left = fo.remaining(step[1])
                if left and not order.hold_types():
                    order.ship(fo.fulfillment_order_id, carrier="ups", tracking_number=f"1Z{len(order.shipments())}",
                               service="ground", lines=[{"sku": line.sku, "quantity": min(left, step[2])}], now=NOW)
                _capture_everything_due(order, multicapture, counter)
            elif kind == "cancel":
                order.cancel({step[1]: step[2]}, reason="r", source="operator")
                _capture_everything_due(order, multicapture, counter)
                if order.void_due():
                    order.record_void(idempotency_key=f"void:{counter[0]}", now=NOW)
            elif kind in ("refund", "refund_lines"):
                before = (order.payment.refunded, len(order.payment.transactions))
                try:
                    if kind == "refund":
                        order.request_refund(amount=step[1], lines=None, shipping=0, reason="goodwill", case_id=None,
                                             request_key=None, request_hash=None, now=NOW)
                    else:
                        order.request_refund(amount=None, lines={step[1]: step[2]}, shipping=0, reason="damaged",
                                             case_id=None, request_key=None, request_hash=None, now=NOW)
                except OrderRuleViolation:
                    assert (order.payment.refunded, len(order.payment.transactions)) == before  # nothing written
            elif kind == "answer":
                refunds = [t for t in order.payment.transactions if t["type"] == "refund"]
                if refunds:
                    target = refunds[step[2] % len(refunds)]
                    order.record_refund_answer(transaction_id=target["transaction_id"], status=step[1],
                                               processor_reference=f"re_{target['transaction_id']}", now=NOW)
            elif kind == "dispute":
                reported += 1
                # Reports arrive out of order: the time says which is newer, not the arrival.
                order.apply_dispute(_dispute_report(step[1], step[2], step[3]),
                                    reported_at=1000 + (reported if step[4] else -reported), now=NOW)
            elif kind == "capture_fails" and order.plan_capture(None):
                key = order.payment.pending_capture["idempotency_key"]
                order.record_capture_failure(idempotency_key=key, reason="expired", now=NOW)
                order.release_hold("capture_failed", "re-authorised", NOW)
                _capture_everything_due(order, multicapture, counter)
        except OrderRuleViolation:
            pass  # a request the state does not allow (e.g. cancelling what shipped)
        payment = order.payment
        payment.check_invariants()
        assert payment.captured <= order.total
        assert payment.refunded + payment.chargebacks <= payment.captured + 300 * 3  # chargebacks are the bank's
        assert sum(r["amount"] for r in payment.refunds if r["status"] != "failed") <= payment.captured
        if all(line.shipped == line.open_quantity for line in order.open_lines()) and not payment.pending_capture \
                and not order.hold_types() & {"capture_failed"}:
            assert payment.captured <= order.amount_due
