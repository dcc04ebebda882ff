"""Customer service over HTTP: customers ask about their order with the tracking proof (order
reference and e-mail) and read the answers meant for them; agents open, answer, assign, move
and escalate cases, list them by an index, and set the service levels."""
from __future__ import annotations

from chalice import Blueprint

from .http import ANY_BODY, ApiError, api_errors, documented, json_object, json_response, parsed, raw_body
from .ops import ops_token_authorizer

cases_api = Blueprint(__name__)
PAGE = 20
RULE_STATUS = {"invalid_type": 422, "invalid_channel": 422, "invalid_priority": 422, "invalid_status": 422,
               "invalid_author": 422, "case_closed": 409, "case_ended": 409, "case_full": 409}


def _ctx():
    from oms.bootstrap import context

    return context()


def _body(model):
    return parsed(json_object(raw_body(cases_api.current_request)), model)


def _params() -> dict:
    return cases_api.current_request.query_params or {}


def _rule(action):
    """Run a case action; its refusals become 4xx."""
    from oms.domain.holds import OrderRuleViolation
    from oms.services.cases import UnknownCase

    try:
        return action()
    except UnknownCase as error:
        raise ApiError(404, "not_found", f"no case {error}") from None
    except OrderRuleViolation as error:
        raise ApiError(RULE_STATUS.get(error.code, 409), error.code, str(error)) from None


# ---- customers ----------------------------------------------------------------------------------------

def _customer_order():
    from .customers import NOT_FOUND, find_customer_order

    order_ref = cases_api.current_request.uri_params["order_ref"]
    order = find_customer_order(order_ref, _params().get("email"))
    if order is None:
        raise ApiError(404, *NOT_FOUND)
    return order


@cases_api.route("/track/{order_ref}/inquiries", methods=["POST"], content_types=ANY_BODY)
@documented("InquiryIn", required_query=("email",), ok=(201,), errors=(404, 409))
@api_errors
def ask(order_ref: str):
    from oms.services.cases import open_case

    from .case_views import customer_case_view
    from .ops_inputs import InquiryIn

    order = _customer_order()
    body = _body(InquiryIn)
    case, _ = _rule(lambda: open_case(_ctx(), order_id=order.order_id, case_type=body.type, subject=body.subject,
                                      message=body.message, channel="web", priority=None, source="customer"))
    return json_response(201, customer_case_view(case))


@cases_api.route("/track/{order_ref}/inquiries", methods=["GET"], content_types=ANY_BODY)
@documented(required_query=("email",), errors=(404,))
@api_errors
def my_inquiries(order_ref: str):
    from .case_views import customer_case_view

    order = _customer_order()
    cases, _ = _ctx().cases.list_cases({"order_id": order.order_id}, None, 100)
    return json_response(200, {"cases": [customer_case_view(case) for case in cases if case.source != "system"]})


@cases_api.route("/track/{order_ref}/inquiries/{case_number}/messages", methods=["POST"], content_types=ANY_BODY)
@documented("ReplyIn", required_query=("email",), ok=(201,), errors=(404, 409))
@api_errors
def reply(order_ref: str, case_number: str):
    from oms.services.cases import add_message

    from .case_views import customer_case_view
    from .ops_inputs import ReplyIn

    order = _customer_order()
    ctx = _ctx()
    case_id = ctx.cases.find_case_by_number(case_number) if len(case_number) <= 32 else None
    case = ctx.cases.load_case(case_id) if case_id else None
    if case is None or case.order_id != order.order_id or case.source == "system":  # the OMS's own are agents
        raise ApiError(404, "not_found", "no such inquiry on this order")
    message = _body(ReplyIn).message
    case = _rule(lambda: add_message(ctx, case.case_id, "customer", message))
    return json_response(201, customer_case_view(case))


# ---- agents ---------------------------------------------------------------------------------------------

@cases_api.route("/cases", methods=["POST"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("CaseIn", ok=(201,), errors=(409,))
@api_errors
def open_case():
    from oms.services.cases import open_case as open_

    from .case_views import case_view
    from .ops_inputs import CaseIn

    body = _body(CaseIn)
    ctx = _ctx()
    if body.order_id and ctx.store.load(body.order_id) is None:
        raise ApiError(422, "unknown_order", f"no order {body.order_id}",
                       [{"field": "order_id", "problem": "no such order"}])
    case, _ = _rule(lambda: open_(ctx, order_id=body.order_id, case_type=body.type, subject=body.subject,
                                  message=body.message, channel=body.channel, priority=body.priority,
                                  source="operator"))
    return json_response(201, case_view(case))


@cases_api.route("/cases", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("status", "queue", "priority", "order_id", "breached", "cursor"), errors=(422,))
@api_errors
def list_cases():
    """Newest first, 20 a page, by an index (never a Scan)."""
    from oms.domain.cases import PRIORITIES, STATUSES

    from .case_views import case_view

    params = _params()
    filters = {k: params[k] for k in ("status", "queue", "priority", "order_id") if params.get(k)}
    for name, allowed in (("status", STATUSES), ("priority", PRIORITIES)):
        if name in filters and filters[name] not in allowed:
            raise ApiError(422, "validation_failed", f"{name} must be one of {', '.join(allowed)}")
    if params.get("breached") not in (None, "", "true", "false"):
        raise ApiError(422, "validation_failed", "breached must be true or false")
    if params.get("breached"):
        filters["breached"] = params["breached"] == "true"
    if any(len(v) > 64 for v in filters.values() if isinstance(v, str)):
        raise ApiError(422, "validation_failed", "a filter is too long")
    try:
        found, following = _ctx().cases.list_cases(filters, params.get("cursor") or None, PAGE)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "the cursor is not one this API gave") from None
    return json_response(200, {"cases": [case_view(case) for case in found], "next_cursor": following})


@cases_api.route("/cases/{case_id}", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_case(case_id: str):
    from .case_views import case_timeline, case_view

    ctx = _ctx()
    case = ctx.cases.load_case(case_id) if len(case_id) <= 64 else None
    if case is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    order_history = ctx.store.history(case.order_id) if case.order_id else []
    return json_response(200, {**case_view(case), "timeline": case_timeline(case, ctx.cases.case_history(case_id),
                                                                            order_history)})


@cases_api.route("/cases/{case_id}/{action}", methods=["POST"], content_types=ANY_BODY,
                 authorizer=ops_token_authorizer)
@documented(actions={
    "messages": documented("CaseMessageIn", ok=(201,), errors=(404, 409)),
    "assign": documented("AssignIn", errors=(404, 409)), "status": documented("CaseStatusIn", errors=(404, 409)),
    "escalate": documented("HoldRelease", errors=(404, 409))})
@api_errors
def case_action(case_id: str, action: str):
    from oms.services import cases

    from .case_views import case_view
    from .ops_inputs import AssignIn, CaseMessageIn, CaseStatusIn, HoldRelease

    ctx = _ctx()
    if action == "messages":
        body = _body(CaseMessageIn)
        case = _rule(lambda: cases.add_message(ctx, case_id, body.author, body.body, body.internal))
        return json_response(201, case_view(case))
    if action == "assign":
        body = _body(AssignIn)
        case = _rule(lambda: cases.assign(ctx, case_id, body.assignee, body.queue))
    elif action == "status":
        status = _body(CaseStatusIn).status
        case = _rule(lambda: cases.set_status(ctx, case_id, status))
    elif action == "escalate":
        reason = _body(HoldRelease).reason
        case = _rule(lambda: cases.escalate(ctx, case_id, reason))
    else:
        raise ApiError(404, "not_found", f"no action {action} on cases")
    return json_response(200, case_view(case))


@cases_api.route("/service/sla-policy", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented()
@api_errors
def get_sla_policy():
    return json_response(200, {"priorities": _ctx().cases.sla_policy()})


@cases_api.route("/service/sla-policy", methods=["PUT"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("SlaPolicyIn")
@api_errors
def put_sla_policy():
    from oms.services.cases import put_sla_policy as put

    from .ops_inputs import SlaPolicyIn

    body = _body(SlaPolicyIn)
    policy = put(_ctx(), {name: targets.model_dump() for name, targets in body.priorities.items()})
    return json_response(200, {"priorities": policy})
