"""What a payment processor tells the OMS later, by webhook: disputes and their money, a refund
that failed after it succeeded, an authorisation cancelled or a payment failed outside the OMS;
and the evidence the OMS sends back for a dispute.

Each event is applied once: its id is written with the change it makes (a second delivery
finds it and changes nothing), and each change is itself idempotent and order-independent."""
from __future__ import annotations

import hashlib
import json

from oms.domain.events import DomainEvent
from oms.domain.order import Order

from .context import Context
from .orders import update_order
from .ports import DuplicateReference, OrderCommit


def apply_payment_event(ctx: Context, event, raw: dict) -> str:
    """Returns "applied", "no_change" (nothing new in it), "duplicate" (its id was applied) or
    "unmatched" (a payment the OMS does not know; kept, so the processor stops sending it)."""
    guard = f"{ctx.payments.name}:{event.event_id}"
    if ctx.store.seen(guard):
        return "duplicate"
    order_id = _order_for(ctx, event)
    if order_id is None:
        ctx.store.record_unmatched_payment_event(event.event_id, raw, ctx.clock.now())
        return "unmatched"

    def step(order: Order) -> OrderCommit:
        before = order.to_dict()
        events = _change(order, event, ctx.clock.now())
        return OrderCommit(order, events, guards=[guard], state_only=order.to_dict() != before)
    try:
        events = update_order(ctx, order_id, step)
    except DuplicateReference:
        return "duplicate"  # the same event, delivered twice at once
    return "applied" if events else "no_change"


def _order_for(ctx: Context, event) -> str | None:
    for reference in event.references:
        order_id = ctx.store.find_by_payment_reference(reference)
        if order_id:
            return order_id
    # An intent the OMS created carries the order's id (its reference may not be stored if the
    # answer to the authorisation was lost).
    if event.order_id and ctx.store.load(event.order_id) is not None:
        return event.order_id
    return None


def _change(order: Order, event, now: str) -> list[DomainEvent]:
    if event.dispute is not None:
        return order.apply_dispute(event.dispute, reported_at=event.created, now=now)
    if event.refund is not None:
        refund = event.refund
        transaction_id = order.refund_transaction_for(refund["refund_id"], refund["key"])
        if transaction_id is None:
            return []  # a refund made outside the OMS
        return order.record_refund_answer(transaction_id=transaction_id, status=refund["status"],
                                          processor_reference=refund["refund_id"], now=now,
                                          failure=refund["failure_reason"])
    intent = event.intent
    if event.type == "payment_intent.canceled":
        if intent["cancelled_by_oms"]:
            return []  # the OMS gave it back itself (a void, a renewal); that is recorded by its own step
        reason = intent["cancellation_reason"] or "cancelled"
        return order.record_authorization_lost(intent["payment_intent_id"], reason.replace("_", " "), now)
    return order.record_declined_by_processor(intent["key"], intent["decline_code"] or "card_declined", now)


def submit_evidence(ctx: Context, order_id: str, dispute_id: str, overrides: dict, *, submit: bool) -> dict:
    """Send the order's proof (with the operator's overrides) to the processor; with submit,
    it goes to the bank and can no longer be changed."""
    from oms.domain.evidence import dispute_evidence

    order = ctx.store.load(order_id)
    evidence = {**dispute_evidence(order), **overrides}
    order.record_evidence(dispute_id, submitted=submit, now=ctx.clock.now())  # refuses a closed dispute
    # The same evidence sent again is the same request.
    digest = hashlib.sha256(json.dumps([evidence, submit], sort_keys=True).encode()).hexdigest()[:24]
    ctx.payments.submit_dispute_evidence(dispute_id=dispute_id, evidence=evidence, submit=submit,
                                         idempotency_key=f"{dispute_id}:evidence:{digest}")
    update_order(ctx, order_id, lambda o: OrderCommit(o, o.record_evidence(dispute_id, submitted=submit,
                                                                          now=ctx.clock.now()), state_only=True))
    return evidence
