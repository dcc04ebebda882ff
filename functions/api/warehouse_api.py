"""Warehouse work over HTTP: pick lists, packing and packing slips (docs/warehouse.md)."""
from __future__ import annotations

from chalice import Blueprint, Response

from .http import ANY_BODY, ApiError, api_errors, documented, json_object, json_response, parsed, raw_body
from .ops import ops_token_authorizer

warehouse_api = Blueprint(__name__)
RULE_STATUS = {"not_found": 404, "invalid_picks": 422, "pack_mismatch": 422, "nothing_to_pick": 409,
               "not_picked": 409, "confirmation_differs": 409, "not_packed": 409, "unknown_rate": 422,
               "no_rate_on_time": 422, "no_rates": 422, "location_without_address": 409,
               "not_rejectable": 409, "nothing_to_reject": 409, "quantity_exceeds_remaining": 422}


def _ctx():
    from oms.bootstrap import context

    return context()


def _body(model):
    return parsed(json_object(raw_body(warehouse_api.current_request)), model)


def _rules(action):
    from oms.domain.order import OrderRuleViolation
    from oms.services.inventory import UnknownLocation
    from oms.services.ports import CarrierRejected, CarrierUnavailable, DuplicateReference

    try:
        return action()
    except UnknownLocation as error:
        raise ApiError(404, "not_found", f"no location {error}") from None
    except CarrierRejected as error:
        raise ApiError(422, "carrier_rejected", str(error)) from None
    except DuplicateReference:
        raise ApiError(409, "tracking_number_in_use", "that tracking number belongs to another order") from None
    except CarrierUnavailable as error:
        raise ApiError(503, "carrier_unavailable", f"{error}; try again", headers={"Retry-After": "5"}) from None
    except OrderRuleViolation as error:
        raise ApiError(RULE_STATUS.get(error.code, 409), error.code, str(error), error.details) from None


@warehouse_api.route("/locations/{location_id}/pick-lists", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("PickListIn", optional=True, ok=(201,), errors=(404, 409))
@api_errors
def create_pick_list(location_id: str):
    from oms.services.picking import create_pick_list as create
    from oms.services.picking import view

    from .ops_inputs import PickListIn

    body = _body(PickListIn) if raw_body(warehouse_api.current_request).strip() else PickListIn()
    pick_list = _rules(lambda: create(_ctx(), location_id, body.max_orders, body.fulfillment_order_ids))
    return json_response(201, view(pick_list))


@warehouse_api.route("/pick-lists/{pick_list_id}", methods=["GET"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_pick_list(pick_list_id: str):
    from oms.services.picking import load_pick_list, view

    return json_response(200, view(_rules(lambda: load_pick_list(_ctx(), pick_list_id))[0]))


@warehouse_api.route("/pick-lists/{pick_list_id}/confirm", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("PickConfirmIn", errors=(404, 409))
@api_errors
def confirm_pick_list(pick_list_id: str):
    from oms.services.picking import confirm_pick_list as confirm
    from oms.services.picking import view

    from .ops_inputs import PickConfirmIn

    body = _body(PickConfirmIn)
    return json_response(200, view(_rules(lambda: confirm(_ctx(), pick_list_id,
                                                          [p.model_dump() for p in body.picks]))))


@warehouse_api.route("/fulfillment-orders/{fulfillment_order_id}/packages", methods=["POST"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("PackagesIn", errors=(404, 409))
@api_errors
def pack(fulfillment_order_id: str):
    from oms.services.picking import pack as pack_

    from .ops_inputs import PackagesIn
    from .views import fulfillment_order_view

    body = _body(PackagesIn)
    order = _rules(lambda: pack_(_ctx(), fulfillment_order_id, [p.model_dump() for p in body.packages]))
    return json_response(200, fulfillment_order_view(order, fulfillment_order_id))


@warehouse_api.route("/fulfillment-orders/{fulfillment_order_id}/packing-slip", methods=["GET"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(produces="application/pdf", errors=(404, 409))
@api_errors
def packing_slip(fulfillment_order_id: str):
    from oms.adapters.packing_slip import packing_slip_pdf
    from oms.services.picking import order_of

    order = _ctx().store.load(order_of(fulfillment_order_id))
    if order is None:
        raise ApiError(404, "not_found", f"no fulfillment order {fulfillment_order_id}")
    pdf = _rules(lambda: packing_slip_pdf(order, fulfillment_order_id))
    return Response(body=pdf, status_code=200, headers={
        "Content-Type": "application/pdf",
        "Content-Disposition": f'inline; filename="packing-slip-{fulfillment_order_id}.pdf"'})


@warehouse_api.route("/fulfillment-orders/{fulfillment_order_id}/rates", methods=["POST"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404, 409, 422))
@api_errors
def rates(fulfillment_order_id: str):
    from oms.services.labels import quote_rates

    return json_response(200, {"rates": _rules(lambda: quote_rates(_ctx(), fulfillment_order_id))})


@warehouse_api.route("/fulfillment-orders/{fulfillment_order_id}/labels", methods=["POST"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("LabelsIn", ok=(201, 200), errors=(404, 409))
@api_errors
def labels(fulfillment_order_id: str):
    from oms.services.labels import buy_labels

    from .ops_inputs import LabelsIn

    body = _body(LabelsIn)
    packages, bought = _rules(lambda: buy_labels(_ctx(), fulfillment_order_id, body.rate_id, body.strategy))
    return json_response(201 if bought else 200, {"packages": packages})


@warehouse_api.route("/fulfillment-orders/{fulfillment_order_id}/reject", methods=["POST"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("RejectIn", headers=("Idempotency-Key",), errors=(404, 409))
@api_errors
def reject(fulfillment_order_id: str):
    from oms.services.picking import reject as reject_

    from .ops_inputs import RejectIn
    from .views import order_view

    body = _body(RejectIn)
    lines = None
    if body.lines:
        lines = {}
        for line in body.lines:
            lines[line.sku] = lines.get(line.sku, 0) + line.quantity
    key = (warehouse_api.current_request.headers.get("idempotency-key") or "").strip() or None
    if key and len(key) > 255:
        raise ApiError(422, "invalid_idempotency_key", "an Idempotency-Key has at most 255 characters")
    ctx = _ctx()
    order = _rules(lambda: reject_(ctx, fulfillment_order_id, body.reason, lines, key))
    return json_response(200, order_view(order, ctx.store.history(order.order_id)))
