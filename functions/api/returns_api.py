"""Returns over HTTP: customers start one with the tracking proof (order reference and e-mail);
operators start, decide, track, receive and close them."""
from __future__ import annotations

from chalice import Blueprint

from .http import ANY_BODY, ApiError, api_errors, documented, json_object, json_response, parsed, raw_body
from .ops import ops_token_authorizer

returns_api = Blueprint(__name__)
RULE_STATUS = {"quantity_exceeds_returnable": 422, "invalid_exchange": 422, "unknown_line": 422, "unknown_sku": 422,
               "invalid_reason": 422,
               "invalid_condition": 422, "quantity_exceeds_expected": 422, "nothing_received": 422,
               "nothing_returnable": 409, "return_window_closed": 409, "invalid_return_status": 409}


def _ctx():
    from oms.bootstrap import context

    return context()


def _body(model):
    return parsed(json_object(raw_body(returns_api.current_request)), model)


def _violation(error) -> ApiError:
    return ApiError(RULE_STATUS.get(error.code, 409), error.code, str(error))


def _view(ctx, ret, with_history: bool = False) -> dict:
    from .views import return_view

    return return_view(ret, ctx.returns.return_history(ret.return_id) if with_history else None)


def _open(order_id: str, source: str):
    from oms.domain.order import OrderRuleViolation
    from oms.services.orders import UnknownOrder
    from oms.services.returns import ReturnPolicy, open_return

    from .ops_inputs import ReturnIn

    body = _body(ReturnIn)
    if source == "customer" and body.ship_replacement == "immediately":
        raise ApiError(422, "validation_failed", "only an operator can ship a replacement before the return arrives",
                       [{"field": "ship_replacement", "problem": "operators only"}])
    ctx = _ctx()
    wanted = {line.exchange_for.sku for line in body.lines if line.exchange_for}
    unknown = sorted(wanted - ctx.inventory.known_skus(wanted))
    if unknown:
        raise ApiError(422, "unknown_sku", f"no SKU {', '.join(unknown)} to exchange for",
                       [{"field": "lines[].exchange_for.sku", "problem": f"unknown SKU {sku}"} for sku in unknown])
    try:
        ret = open_return(ctx, order_id, [line.model_dump(exclude_none=True) for line in body.lines], source=source,
                          ship_replacement=body.ship_replacement, policy=ReturnPolicy.from_environment())
    except UnknownOrder:
        raise ApiError(404, "not_found", f"no order {order_id}") from None
    except OrderRuleViolation as error:
        raise _violation(error) from None
    return json_response(201, _view(ctx, ret))


@returns_api.route("/track/{order_ref}/returns", methods=["POST"], content_types=ANY_BODY)
@documented("ReturnIn", required_query=("email",), ok=(201,), errors=(404, 409))
@api_errors
def customer_return(order_ref: str):
    from .customers import NOT_FOUND, find_customer_order

    order = find_customer_order(order_ref, (returns_api.current_request.query_params or {}).get("email"))
    if order is None:
        raise ApiError(404, *NOT_FOUND)
    return _open(order.order_id, "customer")


@returns_api.route("/orders/{order_id}/returns", methods=["POST"], content_types=ANY_BODY,
                   authorizer=ops_token_authorizer)
@documented("ReturnIn", ok=(201,), errors=(404, 409))
@api_errors
def operator_return(order_id: str):
    return _open(order_id, "operator")


@returns_api.route("/returns/{return_id}", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_return(return_id: str):
    ctx = _ctx()
    ret = ctx.returns.load_return(return_id) if len(return_id) <= 64 else None
    if ret is None:
        raise ApiError(404, "not_found", f"no return {return_id}")
    return json_response(200, _view(ctx, ret, with_history=True))


@returns_api.route("/returns", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("status", "cursor"), errors=(422,))
@api_errors
def list_returns():
    """Newest first, 20 a page, by an index (never a Scan)."""
    params = returns_api.current_request.query_params or {}
    status, cursor = params.get("status") or None, params.get("cursor") or None
    statuses = {"requested", "approved", "declined", "in_transit", "received", "closed", "cancelled"}
    if status and status not in statuses:
        raise ApiError(422, "validation_failed", f"status must be one of {', '.join(sorted(statuses))}")
    ctx = _ctx()
    try:
        found, following = ctx.returns.list_returns(status, cursor, 20)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "the cursor is not one this API gave") from None
    return json_response(200, {"returns": [_view(ctx, ret) for ret in found], "next_cursor": following})


def _act(return_id: str, action):
    from oms.domain.order import OrderRuleViolation
    from oms.services.ports import DuplicateReference
    from oms.services.returns import UnknownReturn

    ctx = _ctx()
    try:
        ret = action(ctx)
    except UnknownReturn:
        raise ApiError(404, "not_found", f"no return {return_id}") from None
    except OrderRuleViolation as error:
        raise _violation(error) from None
    except DuplicateReference:
        raise ApiError(409, "tracking_number_in_use", "that tracking number belongs to another parcel") from None
    return json_response(200, _view(ctx, ret))


@returns_api.route("/returns/{return_id}/{action}", methods=["POST"], content_types=ANY_BODY,
                   authorizer=ops_token_authorizer)
@documented(actions={
    "approve": documented(errors=(404, 409)), "close": documented(errors=(404, 409)),
    "decline": documented("HoldRelease", errors=(404, 409)), "cancel": documented("HoldRelease", errors=(404, 409)),
    "tracking": documented("ReturnTrackingIn", errors=(404, 409)),
    "label": documented("ReturnLabelIn", optional=True, ok=(201, 200), errors=(404, 409)),
    "receive": documented("ReceiveIn", errors=(404, 409))})
@api_errors
def return_action(return_id: str, action: str):
    from oms.services import returns

    from .ops_inputs import HoldRelease, ReceiveIn, ReturnTrackingIn

    if action in ("approve", "close"):
        return _act(return_id, lambda ctx: getattr(returns, action)(ctx, return_id))
    if action in ("decline", "cancel"):
        reason = _body(HoldRelease).reason
        return _act(return_id, lambda ctx: getattr(returns, action)(ctx, return_id, reason))
    if action == "tracking":
        body = _body(ReturnTrackingIn)
        return _act(return_id, lambda ctx: returns.register_tracking(ctx, return_id, body.carrier,
                                                                     body.tracking_number))
    if action == "label":
        return _return_label(return_id)
    if action == "receive":
        body = _body(ReceiveIn)
        if body.location_id not in {loc.location_id for loc in _ctx().inventory.locations()}:
            raise ApiError(422, "unknown_location", f"no location {body.location_id}")
        lines = [line.model_dump() for line in body.lines]
        return _act(return_id, lambda ctx: returns.receive(ctx, return_id, body.location_id, lines))
    raise ApiError(404, "not_found", f"no action {action} on returns")


def _return_label(return_id: str):
    """A return label bought the way a fulfilment order's is (docs/warehouse.md); a body is optional."""
    from oms.domain.order import OrderRuleViolation
    from oms.services.labels import return_label
    from oms.services.ports import CarrierRejected, CarrierUnavailable, DuplicateReference

    from .ops_inputs import ReturnLabelIn

    body = _body(ReturnLabelIn) if raw_body(returns_api.current_request).strip() else ReturnLabelIn()
    parcel = ({**body.dimensions_cm.model_dump(), "weight_grams": body.weight_grams}
              if body.dimensions_cm and body.weight_grams else None)
    try:
        label, bought = return_label(_ctx(), return_id, body.rate_id, body.strategy, body.location_id, parcel)
    except OrderRuleViolation as error:
        if error.code in ("unknown_rate", "no_rate_on_time", "no_rates", "not_found"):
            raise ApiError(404 if error.code == "not_found" else 422, error.code, str(error)) from None
        raise _violation(error) from None
    except CarrierRejected as error:
        raise ApiError(422, "carrier_rejected", str(error)) from None
    except CarrierUnavailable as error:
        raise ApiError(503, "carrier_unavailable", f"{error}; try again", headers={"Retry-After": "5"}) from None
    except DuplicateReference:
        raise ApiError(409, "tracking_number_in_use", "that tracking number belongs to another parcel") from None
    return json_response(201 if bought else 200, label)
