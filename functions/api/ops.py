"""The operators' API (call centre, warehouse systems), behind the ops bearer token."""
from __future__ import annotations

import hmac

from chalice import AuthResponse, Blueprint

from .http import (
    ANY_BODY,
    ApiError,
    accept_order,
    api_errors,
    documented,
    error_response,
    json_object,
    json_response,
    parsed,
    raw_body,
)

ops = Blueprint(__name__)


class UnauthorizedRequest(Exception):
    """Raised with the message API Gateway turns into a 401 (a Deny policy would be a 403)."""


@ops.authorizer()
def ops_token_authorizer(auth_request):
    from oms.adapters.secrets import MissingSecret, ops_token

    scheme, _, token = (auth_request.token or "").partition(" ")
    try:
        expected = ops_token()
    except MissingSecret:
        raise UnauthorizedRequest("Unauthorized") from None
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise UnauthorizedRequest("Unauthorized")
    return AuthResponse(routes=["*"], principal_id="ops")


def _body(model):
    data = json_object(raw_body(ops.current_request))
    return data, parsed(data, model)


def _ctx():
    from oms.bootstrap import context

    return context()


@ops.route("/orders", methods=["POST"],
           content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("CanonicalOrder", ok=(202, 200), errors=(409,))
@api_errors
def create_order():
    from oms.services.canonical import CanonicalOrder
    from oms.services.intake import preview_problems

    data, canonical = _body(CanonicalOrder)
    ctx = _ctx()
    if ctx.store.find_external("call_center", canonical.external_id) is None:
        problems = preview_problems(ctx, canonical, "call_center")
        if problems:
            raise ApiError(422, "order_invalid", "the order has problems to fix before it can be placed",
                           [{"type": h.type, "detail": h.detail} for h in problems])
    return accept_order(ctx, canonical, data, "call_center")


@ops.route("/orders/{order_id}", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_order(order_id: str):
    from .views import order_view

    ctx = _ctx()
    order = ctx.store.load(order_id) if len(order_id) <= 64 else None
    if order is None:
        return error_response(404, "not_found", f"no order {order_id}")
    cases, _ = ctx.cases.list_cases({"order_id": order_id}, None, 100)
    return json_response(200, {**order_view(order, ctx.store.history(order_id)),
                               "cases": [{"case_id": c.case_id, "case_number": c.case_number, "type": c.type,
                                          "status": c.status} for c in cases]})


@ops.route("/orders/{order_id}/holds/{hold_type}/release", methods=["POST"],
           content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("HoldRelease", errors=(404, 409))
@api_errors
def release_hold(order_id: str, hold_type: str):
    from oms.domain.order import OrderRuleViolation
    from oms.services.orders import UnknownOrder
    from oms.services.orders import release_hold as release

    from .ops_inputs import HoldRelease
    from .views import order_view

    _, body = _body(HoldRelease)
    ctx = _ctx()
    try:
        release(ctx, order_id, hold_type, body.reason)
    except UnknownOrder:
        raise ApiError(404, "not_found", f"no order {order_id}") from None
    except OrderRuleViolation as error:
        raise ApiError(404 if error.code == "not_found" else 409, error.code, str(error)) from None
    return json_response(200, order_view(ctx.store.load(order_id), ctx.store.history(order_id)))


@ops.route("/orders/{order_id}/delivery-groups/{group_id}", methods=["PATCH"],
           content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("DeliveryGroupChangeIn", errors=(404, 409))
@api_errors
def change_delivery_group(order_id: str, group_id: str):
    """Correct a group's address or shipping method before anything of it shipped: the address is
    checked as at intake (422, nothing changed), the change recorded and told to the channel."""
    from pydantic import ValidationError

    from oms.domain.order import OrderRuleViolation
    from oms.domain.validation import address_problems
    from oms.services.canonical import Address, error_details
    from oms.services.orders import UnknownOrder
    from oms.services.orders import change_delivery_group as change

    from .ops_inputs import DeliveryGroupChangeIn
    from .views import order_view

    _, body = _body(DeliveryGroupChangeIn)
    address = None
    if body.shipping_address is not None:
        try:
            address = Address.model_validate(body.shipping_address).model_dump()
        except ValidationError as error:
            raise ApiError(422, "validation_failed", "the address cannot be processed",
                           [{**d, "field": f"shipping_address.{d['field']}"} for d in error_details(error)]) from None
        problems = address_problems(address, "shipping_address")
        if problems:
            raise ApiError(422, "invalid_address", "the address is not valid for its country",
                           [{"field": "shipping_address", "problem": p} for p in problems])
    ctx = _ctx()
    try:
        change(ctx, order_id, group_id, shipping_address=address, shipping_method=body.shipping_method)
    except UnknownOrder:
        raise ApiError(404, "not_found", f"no order {order_id}") from None
    except OrderRuleViolation as error:
        raise ApiError(404 if error.code == "not_found" else 409, error.code, str(error)) from None
    return json_response(200, order_view(ctx.store.load(order_id), ctx.store.history(order_id)))


@ops.route("/orders/{order_id}/cancel", methods=["POST"],
           content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("CancelIn", errors=(404, 409))
@api_errors
def cancel(order_id: str):
    """Cancel units that have not shipped; their stock goes back, the payment is settled and
    the sales channel is told (through the channel-updates queue)."""
    from oms.domain.order import OrderRuleViolation
    from oms.services.orders import UnknownOrder, cancel_order

    from .ops_inputs import CancelIn
    from .views import order_view

    _, body = _body(CancelIn)
    requested = None
    if body.lines:
        requested = {}
        for line in body.lines:
            requested[line.line_id] = requested.get(line.line_id, 0) + line.quantity
    ctx = _ctx()
    try:
        events = cancel_order(ctx, order_id, requested, reason=body.reason, source="operator")
    except UnknownOrder:
        raise ApiError(404, "not_found", f"no order {order_id}") from None
    except OrderRuleViolation as error:
        raise ApiError(404 if error.code == "not_found" else 409, error.code, str(error)) from None
    if not events:
        raise ApiError(409, "nothing_to_cancel", "every unit of this order has shipped or is cancelled")
    return json_response(200, order_view(ctx.store.load(order_id), ctx.store.history(order_id)))


@ops.route("/fulfillment-orders/{fulfillment_order_id}/ship", methods=["POST"],
           content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("ShipIn", optional=True, ok=(201, 200), errors=(404, 409))
@api_errors
def ship(fulfillment_order_id: str):
    from dataclasses import asdict

    from oms.domain.order import OrderRuleViolation
    from oms.services.orders import ship_fulfillment_order
    from oms.services.picking import order_of
    from oms.services.ports import DuplicateReference

    from .ops_inputs import ShipIn

    if not raw_body(ops.current_request).strip():  # no tracking number: the labelled packages go
        return _ship_labelled(fulfillment_order_id)
    _, body = _body(ShipIn)
    ctx = _ctx()
    # Checked before the write too: the write's own refusal of a number another order holds comes
    # back as a lost race (the transaction's cancellation reasons are not in the order the
    # adapter tags them), and a retryable 503 would be retried for ever.
    owner = ctx.store.find_by_tracking_number(body.tracking_number)
    if owner is not None and owner != order_of(fulfillment_order_id):
        raise ApiError(409, "tracking_number_in_use", "that tracking number belongs to another order")
    try:
        result = ship_fulfillment_order(
            ctx, fulfillment_order_id, carrier=body.carrier, tracking_number=body.tracking_number,
            service=body.service, lines=[line.model_dump() for line in body.lines] if body.lines else None)
    except OrderRuleViolation as error:
        status = 404 if error.code == "not_found" else 409
        raise ApiError(status, error.code, str(error)) from None
    except DuplicateReference:
        raise ApiError(409, "tracking_number_in_use", "that tracking number belongs to another order") from None
    return json_response(201 if result.created else 200, {
        "fulfillment_order_id": fulfillment_order_id, "order_id": result.order.order_id,
        "shipment": asdict(result.shipment)})


def _ship_labelled(fulfillment_order_id: str):
    from oms.domain.order import OrderRuleViolation
    from oms.services.labels import ship_labelled

    from .views import fulfillment_order_view

    try:
        order = ship_labelled(_ctx(), fulfillment_order_id)
    except OrderRuleViolation as error:
        raise ApiError(404 if error.code == "not_found" else 409, error.code, str(error)) from None
    return json_response(200, fulfillment_order_view(order, fulfillment_order_id))
