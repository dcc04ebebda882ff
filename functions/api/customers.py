"""Public, unauthenticated endpoints: health and order tracking for customers."""
from __future__ import annotations

import hmac

from chalice import Blueprint

from .http import ANY_BODY, api_errors, documented, error_response, json_response

customers = Blueprint(__name__)

NOT_FOUND = ("not_found", "no order matches that reference and email")


@customers.route("/health", methods=["GET"], content_types=ANY_BODY)
@documented()
def health():
    return json_response(200, {"status": "ok"})


@customers.route("/track/{order_ref}", methods=["GET"], content_types=ANY_BODY)
@documented(required_query=("email",), errors=(404,))
@api_errors
def track_order(order_ref: str):
    from .views import tracking_view

    order = find_customer_order(order_ref, (customers.current_request.query_params or {}).get("email"))
    if order is None:
        return error_response(404, *NOT_FOUND)
    return json_response(200, tracking_view(order))


def find_customer_order(order_ref: str, email: str | None):
    """The order a customer proves is theirs (its OMS or channel number, and their e-mail), or
    None for any mismatch: the caller answers the same 404 whatever was wrong."""
    email = (email or "").strip().lower()
    if not email or len(email) > 320:
        return None
    return next((order for order in orders_named(order_ref) if _same_email(order, email)), None)


def orders_named(order_ref: str) -> list:
    """The orders a customer's reference may name (see oms.domain.references)."""
    from oms.bootstrap import context
    from oms.domain.references import reference_keys

    if not order_ref or len(order_ref) > 64:
        return []
    ctx = context()
    number, channel_key = reference_keys(order_ref)
    candidates = [ctx.store.find_by_order_number(number)] if number else []
    candidates += ctx.store.find_by_channel_number(channel_key)
    return [order for order_id in dict.fromkeys(filter(None, candidates)) if (order := ctx.store.load(order_id))]


def _same_email(order, email: str) -> bool:
    return hmac.compare_digest((order.customer.get("email") or "").strip().lower().encode(), email.encode())
