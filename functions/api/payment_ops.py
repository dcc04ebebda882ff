"""The operators' payment calls: refunds, and the evidence for a dispute."""
from __future__ import annotations

import hashlib
import json

from chalice import Blueprint

from .http import ANY_BODY, ApiError, api_errors, documented, json_object, json_response, parsed, raw_body
from .ops import ops_token_authorizer

payment_ops = Blueprint(__name__)
RULE_STATUS = {"not_found": 404, "unknown_line": 422, "invalid_amount": 422, "invalid_reason": 422,
               "quantity_exceeds_refundable": 409}


def _ctx():
    from oms.bootstrap import context

    return context()


def _rule_error(error) -> ApiError:
    return ApiError(RULE_STATUS.get(error.code, 409), error.code, str(error))


@payment_ops.route("/orders/{order_id}/refunds", methods=["POST"], content_types=ANY_BODY,
                   authorizer=ops_token_authorizer)
@documented("RefundIn", headers=("Idempotency-Key",), ok=(201, 200), errors=(404, 409))
@api_errors
def refund(order_id: str):
    """201 a new refund; 200 the same one again for a repeated Idempotency-Key."""
    from oms.domain.money import MoneyError, to_minor
    from oms.domain.order import OrderRuleViolation
    from oms.services.orders import UnknownOrder
    from oms.services.refunds import request_refund

    from .ops_inputs import RefundIn
    from .views import refund_view

    data = json_object(raw_body(payment_ops.current_request))
    body = parsed(data, RefundIn)
    ctx = _ctx()
    order = ctx.store.load(order_id) if len(order_id) <= 64 else None
    if order is None:
        raise ApiError(404, "not_found", f"no order {order_id}")
    try:
        amount = to_minor(body.amount, order.currency) if body.amount is not None else None
        shipping = to_minor(body.shipping, order.currency) if body.shipping is not None else 0
    except MoneyError as error:
        raise ApiError(422, "invalid_amount", str(error)) from None
    lines = None
    if body.lines is not None:
        lines = {}
        for line in body.lines:
            lines[line.line_id] = lines.get(line.line_id, 0) + line.quantity
    if body.case_id:  # the case the refund settles (a goodwill credit): it must be this order's
        case = ctx.cases.load_case(body.case_id) if len(body.case_id) <= 64 else None
        if case is None or case.order_id not in (None, order_id):
            raise ApiError(422, "unknown_case", f"no case {body.case_id} on this order",
                           [{"field": "case_id", "problem": "no such case on this order"}])
    key = (payment_ops.current_request.headers.get("idempotency-key") or "").strip() or None
    if key and len(key) > 255:
        raise ApiError(422, "invalid_idempotency_key", "an Idempotency-Key has at most 255 characters")
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    try:
        outcome = request_refund(ctx, order_id, amount=amount, lines=lines, shipping=shipping, reason=body.reason,
                                 case_id=body.case_id, request_key=key, request_hash=fingerprint)
    except UnknownOrder:
        raise ApiError(404, "not_found", f"no order {order_id}") from None
    except OrderRuleViolation as error:
        raise _rule_error(error) from None
    order = ctx.store.load(order_id)
    return json_response(201 if outcome.created else 200, refund_view(order, outcome.refund))


@payment_ops.route("/orders/{order_id}/disputes/{dispute_id}/evidence", methods=["GET", "POST"],
                   content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("EvidenceIn", errors=(404, 409))
@api_errors
def dispute_evidence(order_id: str, dispute_id: str):
    """What the OMS can prove, in Stripe's evidence field names; POST sends it (with any
    overrides) to the processor, and with "submit": true submits it to the bank."""
    from oms.domain.evidence import EVIDENCE_FIELDS
    from oms.domain.evidence import dispute_evidence as evidence_of
    from oms.domain.order import OrderRuleViolation
    from oms.services.disputes import submit_evidence
    from oms.services.ports import PaymentRejected, TransientPaymentError

    from .ops_inputs import EvidenceIn

    ctx = _ctx()
    order = ctx.store.load(order_id) if len(order_id) <= 64 else None
    if order is None or order.dispute(dispute_id) is None:
        raise ApiError(404, "not_found", f"no dispute {dispute_id} on order {order_id}")
    request = payment_ops.current_request
    if request.method == "GET":
        return json_response(200, {"dispute_id": dispute_id, "evidence": evidence_of(order)})
    body = parsed(json_object(raw_body(request)), EvidenceIn)
    unknown = sorted(set(body.overrides) - set(EVIDENCE_FIELDS))
    if unknown:
        raise ApiError(422, "validation_failed", "unknown evidence fields",
                       [{"field": f"overrides.{name}", "problem": "not a Stripe evidence field"} for name in unknown])
    try:
        evidence = submit_evidence(ctx, order_id, dispute_id, body.overrides, submit=body.submit)
    except OrderRuleViolation as error:
        raise _rule_error(error) from None
    except PaymentRejected as refusal:  # e.g. a file field that is not a Stripe file id
        raise ApiError(422, "evidence_rejected", f"the processor refused the evidence: {refusal}") from None
    except TransientPaymentError:
        raise ApiError(503, "processor_unavailable", "the processor did not answer; please retry shortly",
                       headers={"Retry-After": "5"}) from None
    return json_response(200, {"dispute_id": dispute_id, "evidence": evidence, "submitted": body.submit})
