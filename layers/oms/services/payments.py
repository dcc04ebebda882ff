"""Taking the order's money: record the channel's payment or authorise the card, capture what
each shipment is worth, authorise the rest again when the processor released it, give back what
will never be captured. Each processor call is decided and committed first (amount and key),
then made, then recorded, so a retry or a racing step repeats the very same request."""
from __future__ import annotations

from oms.domain.events import DomainEvent
from oms.domain.order import Order

from .context import Context
from .orders import update_order
from .ports import (
    AuthorizationResult,
    OrderCommit,
    PaymentRejected,
    PaymentSource,
    TransientPaymentError,
)

MAX_CAPTURE_ROUNDS = 4
KEY_MEMORY_SECONDS = 12 * 3600  # well inside the 24 hours Stripe keeps an idempotency key's answer


def _unix(moment: str | None) -> float:
    from datetime import datetime

    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() if moment else 0.0


def take_payment(ctx: Context, order_id: str) -> list[DomainEvent]:
    """Record the channel's payment, or authorise the card: the amount and key are decided and
    committed first, then the processor is asked (with backoff while it does not answer, then
    the order is held), so a retry after a lost commit repeats the very same request."""
    def decide(order: Order) -> OrderCommit | None:
        if not order.needs_payment():
            return None
        if order.payment.method in ("prepaid", "channel"):  # the channel took (or holds) the payment
            return OrderCommit(order, order.record_prepaid(ctx.clock.now()))
        return OrderCommit(order, [], state_only=True) if order.plan_authorization() else None

    events = update_order(ctx, order_id, decide)
    answers: dict[str, AuthorizationResult] = {}
    events += update_order(ctx, order_id, lambda order: _authorize(ctx, order, answers))
    return events + _void_if_due(ctx, order_id)  # the order may have been cancelled meanwhile


def _authorize(ctx: Context, order: Order, answers: dict[str, AuthorizationResult]) -> OrderCommit | None:
    """Ask the processor once per key (`answers` keeps its answer when the commit loses a race
    and the step runs again), and create the fulfilment orders in the same commit."""
    planned = order.payment.pending_authorization
    if not planned:
        return None
    key, now, error = planned["idempotency_key"], ctx.clock.now(), None
    for attempt in range(ctx.payment_attempts):
        try:
            result = answers.get(key) or _ask_processor(ctx, order, planned)
            answers[key] = result
            refs = [ref for ref in (result.authorization_id, result.charge_id) if ref and result.approved]
            events = order.record_authorization(
                approved=result.approved, authorization_id=result.authorization_id, decline_code=result.decline_code,
                idempotency_key=key, now=now, processor=ctx.payments.name, amount_held=result.amount,
                charge_id=result.charge_id, multicapture=result.multicapture,
                saved_payment_method=result.saved_payment_method, customer=result.customer,
                mismatch=result.mismatch)
            return OrderCommit(order, events + order.create_fulfillment_orders(), payment_refs=refs)
        except TransientPaymentError as failure:
            error = failure
            if failure.answered:  # asking again under this key gets the same answer
                return OrderCommit(order, order.record_payment_failure(str(failure), key, now, refused=True))
            if attempt + 1 < ctx.payment_attempts:
                ctx.backoff(attempt, base=0.2, cap=2.0)
        except PaymentRejected as refusal:
            return OrderCommit(order, order.record_payment_failure(str(refusal), key, now, refused=True))
    return OrderCommit(order, order.record_payment_failure(str(error), key, now))


def _ask_processor(ctx: Context, order: Order, planned: dict) -> AuthorizationResult:
    payment = order.payment
    if payment.payment_intent and not planned["off_session"]:
        owner = ctx.store.find_by_payment_reference(payment.payment_intent)
        if owner not in (None, order.order_id):
            return AuthorizationResult(False, payment.payment_intent,
                                       mismatch=f"{payment.payment_intent} already pays another order")
        return ctx.payments.verify_authorization(authorization_id=payment.payment_intent, amount=planned["amount"],
                                                 currency=order.currency)
    if planned["off_session"] and payment.saved_payment_method:
        source = PaymentSource(payment_method=payment.saved_payment_method, customer=payment.processor_customer,
                               off_session=True)
    else:
        source = PaymentSource(token=payment.token, payment_method=payment.payment_method)
    return ctx.payments.authorize(amount=planned["amount"], currency=order.currency, source=source,
                                  idempotency_key=planned["idempotency_key"], order_id=order.order_id)


def resume_payment(ctx: Context, order_id: str) -> list[DomainEvent]:
    """After an operator released a payment or capture hold: try whichever is due again."""
    return take_payment(ctx, order_id) + capture_shipment(ctx, order_id, None)


def capture_shipment(ctx: Context, order_id: str, shipment_id: str | None) -> list[DomainEvent]:
    """Capture what the shipped units are worth. A processor that captures an authorisation
    only once releases the rest: it is authorised again, and whatever shipped meanwhile is
    captured from the new authorisation."""
    events: list[DomainEvent] = []
    for _ in range(MAX_CAPTURE_ROUNDS):
        events += _renew_if_expired(ctx, order_id)
        events += _capture(ctx, order_id, shipment_id)
        authorized = take_payment(ctx, order_id)
        events += authorized
        if not any(e.event_type == "PaymentAuthorized" for e in authorized):
            break
    return events


def _renew_if_expired(ctx: Context, order_id: str) -> list[DomainEvent]:
    """An authorisation older than the processor honours is given back before a capture."""
    def give_back(order: Order) -> OrderCommit | None:
        if not order.authorization_expired(ctx.clock.now(), ctx.authorization_validity_days):
            return None
        authorization_id = order.payment.authorization_id
        ctx.payments.void(authorization_id=authorization_id, idempotency_key=f"{authorization_id}:expired")
        return OrderCommit(order, order.record_authorization_expired(ctx.clock.now()))
    return update_order(ctx, order_id, give_back)


def _capture(ctx: Context, order_id: str, shipment_id: str | None) -> list[DomainEvent]:
    """Two commits around each processor call: first the capture is decided (amount and key)
    under the order's version, so concurrent or repeated steps agree on one (a shipment decides
    its capture in its own commit); then it is made and recorded. A crash between them leaves
    the decision for the next delivery to finish.
    Repeated until nothing is due: finishing another step's decision may leave more to take."""
    def decide(order: Order) -> OrderCommit | None:
        return OrderCommit(order, [], state_only=True) if order.plan_capture(shipment_id, ctx.clock.now()) else None

    def make(order: Order) -> OrderCommit | None:
        planned = order.payment.pending_capture
        if not planned:
            return None
        key = planned["idempotency_key"]
        # A decision older than the processor remembers its key for is checked there first: it
        # may have been made (its answer lost) and must not be made twice.
        stale = ctx.clock.timestamp() - _unix(planned.get("planned_at")) > KEY_MEMORY_SECONDS
        try:
            if key not in captured:  # once per key, even when the commit below loses a race
                captured[key] = ctx.payments.capture(
                    authorization_id=planned["authorization_id"], amount=planned["amount"], currency=order.currency,
                    final=planned["final"], idempotency_key=key, captured_before=planned.get("captured_before", 0),
                    check_first=stale)
            capture_id = captured[key]
        except PaymentRejected as refusal:
            return OrderCommit(order, order.record_capture_failure(idempotency_key=key, reason=str(refusal),
                                                                   now=ctx.clock.now()))
        return OrderCommit(order, order.record_capture(
            amount=planned["amount"], capture_id=capture_id, idempotency_key=key,
            shipment_id=planned["shipment_id"], now=ctx.clock.now()), payment_refs=[capture_id])

    captured: dict[str, str] = {}
    events: list[DomainEvent] = []
    for _ in range(MAX_CAPTURE_ROUNDS):
        order = ctx.store.load(order_id)
        if order is None or "capture_failed" in order.hold_types() or (
                not order.payment.pending_capture and order.capture_due() <= 0):
            break
        update_order(ctx, order_id, decide)
        events += update_order(ctx, order_id, make)
    return events


def _void_if_due(ctx: Context, order_id: str) -> list[DomainEvent]:
    def void(order: Order) -> OrderCommit | None:
        if not order.void_due():
            return None
        key = f"{order.payment.authorization_id}:void"
        ctx.payments.void(authorization_id=order.payment.authorization_id, idempotency_key=key)
        return OrderCommit(order, order.record_void(idempotency_key=key, now=ctx.clock.now()))
    return update_order(ctx, order_id, void)


def settle_after_cancellation(ctx: Context, order_id: str) -> list[DomainEvent]:
    """A cancellation may leave nothing to ship: capture what the shipped part is worth, or
    give back an authorisation nothing will be captured against."""
    return _capture(ctx, order_id, None) + _void_if_due(ctx, order_id)


def record_channel_paid(ctx: Context, order_id: str) -> list[DomainEvent]:
    return update_order(ctx, order_id, lambda order: OrderCommit(order, order.record_channel_paid(ctx.clock.now())))
