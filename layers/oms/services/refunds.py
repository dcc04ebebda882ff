"""Refunds: decide (and book as pending) what goes back, then ask the processor for each part,
then record its answer. The ops API does it at once; the payments queue finishes what a failure
left (RefundRequested), so a processor that was down is asked again, under the same keys."""
from __future__ import annotations

from dataclasses import dataclass

from oms.domain.order import Order

from .context import Context
from .orders import update_order
from .ports import OrderCommit, PaymentRejected, TransientPaymentError


class RefundNotFinished(Exception):
    """The processor could not be reached for a part of the refund: try again later."""


@dataclass
class RefundOutcome:
    refund: dict
    created: bool


def request_refund(ctx: Context, order_id: str, *, amount: int | None, lines: dict[str, int] | None, shipping: int,
                   reason: str, case_id: str | None, request_key: str | None, request_hash: str) -> RefundOutcome:
    found: dict = {}

    def decide(order: Order) -> OrderCommit:
        refund, events = order.request_refund(amount=amount, lines=lines, shipping=shipping, reason=reason,
                                              case_id=case_id, request_key=request_key, request_hash=request_hash,
                                              now=ctx.clock.now())
        found["refund_id"], found["created"] = refund["refund_id"], bool(events)
        return OrderCommit(order, events)

    update_order(ctx, order_id, decide)
    try:
        send_refund(ctx, order_id, found["refund_id"])
    except RefundNotFinished:
        pass  # the payments queue asks again (RefundRequested); the caller sees it pending
    order = ctx.store.load(order_id)
    return RefundOutcome(order.refund(found["refund_id"]), found["created"])


def send_refund(ctx: Context, order_id: str, refund_id: str) -> None:
    """Ask the processor for every part of the refund it has not answered; a channel's refund is
    told to the channel instead (the channel-updates queue)."""
    order = ctx.store.load(order_id)
    if order is None or order.refund(refund_id)["processor"] == "channel":
        return
    unreachable = None
    for part in order.refund_parts_to_send(refund_id):
        try:
            result = ctx.payments.refund(authorization_id=part["authorization_id"], amount=part["amount"],
                                         currency=order.currency, idempotency_key=part["transaction_id"],
                                         metadata={"oms_order_id": order_id, "oms_refund_id": refund_id})
            status, reference, failure = result.status, result.refund_id, None
        except TransientPaymentError as error:
            unreachable = error
            continue
        except PaymentRejected as refusal:
            status, reference, failure = "failed", None, str(refusal)
        record_refund_answer(ctx, order_id, part["transaction_id"], status, reference, failure)
    if unreachable:
        raise RefundNotFinished(str(unreachable))


def record_refund_answer(ctx: Context, order_id: str, transaction_id: str, status: str, reference: str | None,
                         failure: str | None = None) -> list:
    def step(order: Order) -> OrderCommit | None:
        before = order.payment.transaction(transaction_id)
        if before is None:
            return None
        before = dict(before)
        events = order.record_refund_answer(transaction_id=transaction_id, status=status, processor_reference=reference,
                                            now=ctx.clock.now(), failure=failure)
        # One part of several answered moves no refund yet, but its answer must be kept.
        return OrderCommit(order, events, state_only=order.payment.transaction(transaction_id) != before)
    return update_order(ctx, order_id, step)
