"""No double charge: a capture the processor took but our commit lost, and two steps that
want to capture at once, end with one charge at the processor and the same amount recorded."""
from __future__ import annotations

from oms.services.ports import ConcurrentModification
from tests.support.orders import canonical_order


class RecordingProcessor:
    """Wraps the Stripe adapter (on the local Stripe) and remembers every capture it answered."""

    def __init__(self, inner, while_capturing=None):
        self.inner, self.captures, self.while_capturing = inner, [], while_capturing

    def __getattr__(self, name):  # authorize, verify_authorization, refund, name...
        return getattr(self.inner, name)

    def capture(self, **kwargs):
        if self.while_capturing:  # another step runs while this call is in flight
            run, self.while_capturing = self.while_capturing, None
            run()
        capture_id = self.inner.capture(**kwargs)
        self.captures.append((kwargs["idempotency_key"], kwargs["amount"], capture_id))
        return capture_id



def _processor_total(processor: RecordingProcessor) -> int:
    return sum(amount for _, amount, _ in dict.fromkeys(processor.captures))  # same key = same charge


def _losing_the_first_capture(monkeypatch, ctx, error: Exception) -> list:
    commit, lost = ctx.store.commit, []

    def commit_losing_the_first_capture(change):
        if not lost and any(e.event_type == "PaymentCaptured" for e in change.events):
            lost.append(change)
            raise error
        return commit(change)
    monkeypatch.setattr(ctx.store, "commit", commit_losing_the_first_capture)
    return lost


def test_a_capture_whose_commit_loses_a_race_is_recorded_without_asking_again(stocked, monkeypatch):
    from oms.bootstrap import context

    ctx = context()
    processor = RecordingProcessor(ctx.payments)
    monkeypatch.setattr(ctx, "payments", processor)
    lost = _losing_the_first_capture(monkeypatch, ctx, ConcurrentModification("someone else committed first"))

    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZMONEY1")
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert lost, "the fault was not injected"
    assert order["payments"]["captured"] == order["totals"]["total"]
    assert len(processor.captures) == 1  # the step ran again on the new version with the answer it had
    assert _processor_total(processor) == 2000 + 500 + 320


def test_a_capture_whose_commit_is_lost_is_repeated_with_the_same_key(stocked, monkeypatch):
    """The process dies after the processor answered: the redelivered event asks again, under the same key."""
    from oms.bootstrap import context

    ctx = context()
    processor = RecordingProcessor(ctx.payments)
    monkeypatch.setattr(ctx, "payments", processor)
    lost = _losing_the_first_capture(monkeypatch, ctx, ConnectionError("the Lambda's connection dropped"))

    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZMONEY1")
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert lost, "the fault was not injected"
    assert order["payments"]["captured"] == order["totals"]["total"]
    keys = {key for key, _, _ in processor.captures}
    assert len(processor.captures) == 2 and len(keys) == 1  # the retry repeated the same call
    assert _processor_total(processor) == 2000 + 500 + 320


def test_two_steps_capturing_at_once_agree_on_one_capture(stocked, monkeypatch):
    """A shipment's capture and a cancellation's settlement racing for the same money."""
    from oms.bootstrap import context
    from oms.services.payments import capture_shipment, settle_after_cancellation

    ctx = context()
    processor = RecordingProcessor(ctx.payments)
    monkeypatch.setattr(ctx, "payments", processor)
    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"},
                                                    {"sku": "SKU-2", "quantity": 1, "unit_price": "30.00"}]))
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZMONEY2", lines=[{"sku": "SKU-1", "quantity": 1}])
    response = stocked.ops("POST", f"/orders/{order_id}/cancel", {"reason": "out of stock",
                                                                 "lines": [{"line_id": "L2", "quantity": 1}]})
    assert response.status_code == 200
    shipment_id = stocked.order(order_id)["fulfillment_orders"][0]["shipments"][0]["shipment_id"]
    # The settlement runs while the shipment's capture call is in flight, from the same state.
    processor.while_capturing = lambda: settle_after_cancellation(ctx, order_id)
    capture_shipment(ctx, order_id, shipment_id)
    stocked.pipeline.drain()  # and the pipeline's own messages for both arrive as well
    order = stocked.order(order_id)
    # 10.00 of goods, all 5.00 shipping, and the goods' quarter of the 3.20 tax
    assert order["payments"]["captured"] == "15.80"
    assert _processor_total(processor) == 1580
    # The shipment decided its capture when it shipped; the settlement takes what the cancellation
    # left to take (its share of shipping and tax). Each key was captured for one amount only.
    amounts: dict[str, set[int]] = {}
    for key, amount, _ in processor.captures:
        amounts.setdefault(key, set()).add(amount)
    assert all(len(taken) == 1 for taken in amounts.values()), amounts


def test_a_capture_finished_by_another_step_does_not_swallow_the_next_one(stocked, monkeypatch):
    """Shipment 1's capture is in flight when shipment 2 ships and its step finishes shipment
    1's decision: the rest must still be captured."""
    from oms.bootstrap import context
    from oms.services.payments import capture_shipment

    ctx = context()
    processor = RecordingProcessor(ctx.payments)
    monkeypatch.setattr(ctx, "payments", processor)
    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"},
                                                    {"sku": "SKU-2", "quantity": 1, "unit_price": "30.00"}]))
    stocked.pipeline.drain()
    first = stocked.ship(order_id, "1ZSWALLOW1", lines=[{"sku": "SKU-1", "quantity": 1}])["shipment"]

    def second_shipment_meanwhile():
        second = stocked.ship(order_id, "1ZSWALLOW2")["shipment"]
        capture_shipment(ctx, order_id, second["shipment_id"])
    processor.while_capturing = second_shipment_meanwhile
    capture_shipment(ctx, order_id, first["shipment_id"])
    order = stocked.order(order_id)
    assert order["payments"]["captured"] == order["totals"]["total"] == "48.20"
    assert _processor_total(processor) == 4820


def test_an_authorisation_whose_commit_is_lost_is_asked_again_for_the_same_amount(stocked, monkeypatch):
    from oms.bootstrap import context

    ctx = context()
    calls, authorize = [], ctx.payments.authorize

    def recording_authorize(**kwargs):
        calls.append((kwargs["idempotency_key"], kwargs["amount"]))
        return authorize(**kwargs)
    monkeypatch.setattr(ctx.payments, "authorize", recording_authorize)
    commit, lost = ctx.store.commit, []

    def commit_losing_the_first_authorisation(change):
        if not lost and any(e.event_type == "PaymentAuthorized" for e in change.events):
            lost.append(change)
            # Meanwhile an operator cancels one of the lines: the order is now worth less.
            order_id = change.order.order_id
            stocked.ops("POST", f"/orders/{order_id}/cancel", {"reason": "r", "lines": [
                {"line_id": "L2", "quantity": 1}]})
            raise ConcurrentModification("the cancellation committed first")
        return commit(change)
    monkeypatch.setattr(ctx.store, "commit", commit_losing_the_first_authorisation)
    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"},
                                                    {"sku": "SKU-2", "quantity": 1, "unit_price": "30.00"}]))
    stocked.pipeline.drain()
    assert lost
    assert len(calls) == 1  # the step ran again on the new version with the answer it had
    order = stocked.order(order_id)
    assert order["payments"]["authorized"] == "48.20"  # what was asked; the final capture takes less
    stocked.ship(order_id, "1ZAUTH")
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["payments"]["captured"] == "15.80" and order["status"] == "shipped"


def test_a_capture_refused_for_good_holds_the_order_and_a_release_tries_again(stocked, monkeypatch):
    from oms.bootstrap import context
    from oms.services.ports import PaymentRejected as ProcessorRejected

    ctx = context()
    capture, refusals = ctx.payments.capture, []

    def refusing_the_first_request(**kwargs):  # as a processor refuses a request again and again
        if not refusals or kwargs["idempotency_key"] == refusals[0]:
            refusals.append(kwargs["idempotency_key"])
            raise ProcessorRejected("authorization_expired")
        return capture(**kwargs)
    monkeypatch.setattr(ctx.payments, "capture", refusing_the_first_request)
    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZREFUSED")
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert [h["type"] for h in order["holds"]] == ["capture_failed"]
    assert order["payments"]["captured"] == "0.00"
    assert stocked.pipeline.queue_depth("PaymentsDeadLetterQueue") == 0  # handled, not stuck in retries
    response = stocked.ops("POST", f"/orders/{order_id}/holds/capture_failed/release",
                           {"reason": "customer re-authorised"})
    assert response.status_code == 200
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["holds"] == [] and order["payments"]["captured"] == order["totals"]["total"]


def test_a_timed_out_authorisation_is_asked_again_under_the_same_key_after_the_release(stocked, monkeypatch):
    """The processor authorised, but every answer was lost: the order is held payment_error.
    When the operator releases it, the same request is repeated, so the card is held once."""
    from oms.bootstrap import context
    from oms.services.ports import TransientPaymentError

    ctx = context()
    authorize, keys = ctx.payments.authorize, []

    def answer_lost_three_times(**kwargs):
        keys.append(kwargs["idempotency_key"])
        result = authorize(**kwargs)
        if len(keys) <= 3:
            raise TransientPaymentError("timeout")
        return result
    monkeypatch.setattr(ctx.payments, "authorize", answer_lost_three_times)
    monkeypatch.setattr(ctx, "sleep", lambda seconds: None)
    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    assert [h["type"] for h in stocked.order(order_id)["holds"]] == ["payment_error"]
    response = stocked.ops("POST", f"/orders/{order_id}/holds/payment_error/release", {"reason": "processor back"})
    assert response.status_code == 200
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["payments"]["status"] == "authorized" and order["fulfillment_orders"]
    assert set(keys) == {f"{order_id}:authorize:1"}  # one request, asked four times: one hold on the card


def test_an_authorisation_older_than_stripe_honours_is_renewed_before_the_capture(stocked, monkeypatch):
    """The order ships eight days after its card was authorised (a backorder, say): the
    authorisation is cancelled at the local Stripe, the order authorised again off-session on
    the saved card, and captured from the new authorisation: once, for what it is worth."""
    from datetime import UTC, datetime, timedelta

    from oms.bootstrap import context

    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    first = stocked.order(order_id)["payments"]["payment_intent_id"]
    later = (datetime.now(UTC) + timedelta(days=8)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    monkeypatch.setattr(context().clock, "now", lambda: later)
    stocked.ship(order_id, "1ZRENEW")
    stocked.pipeline.drain()
    payments = stocked.order(order_id)["payments"]
    kinds = [(t["type"], t["authorization_id"]) for t in payments["transactions"] if t["status"] == "succeeded"]
    second = payments["payment_intent_id"] or kinds[-1][1]
    assert second != first
    assert kinds == [("authorization", first), ("void", first), ("authorization", second), ("capture", second)]
    assert payments["captured"] == payments["authorized"] == "18.20"


def test_an_order_cancelled_before_the_payments_queue_gets_to_it_is_never_authorised(stocked, monkeypatch):
    """The authorisation is decided when the payment is taken, not when the order is sourced: a
    cancellation in between leaves nothing to authorise (and nothing to void)."""
    from oms.bootstrap import context

    ctx = context()
    asked = []
    authorize = ctx.payments.authorize
    monkeypatch.setattr(ctx.payments, "authorize", lambda **kwargs: asked.append(kwargs) or authorize(**kwargs))
    pipeline = stocked.pipeline
    every_loop = pipeline.loops
    pipeline.loops = [loop for loop in every_loop if "handle_payments" not in loop.name]
    order_id = stocked.place(canonical_order())
    pipeline.drain()
    assert stocked.order(order_id)["status"] == "allocated" or stocked.order(order_id)["lines"][0]["allocated"] == 2
    assert stocked.ops("POST", f"/orders/{order_id}/cancel", {"reason": "changed my mind"}).status_code == 200
    pipeline.loops = every_loop
    pipeline.drain()
    order = stocked.order(order_id)
    assert order["status"] == "cancelled"
    assert asked == [] and order["payments"]["authorized"] == "0.00"
