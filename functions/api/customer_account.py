"""Signed-in customers: their orders, newest first, with the storefront's token as the proof
(see oms.adapters.customer_tokens). One 401 body for every token that does not prove anyone."""
from __future__ import annotations

from chalice import Blueprint

from .http import ANY_BODY, ApiError, api_errors, documented, json_response

customer_account = Blueprint(__name__)
PAGE = 20


def _unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "a valid customer token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="customers"'})


def signed_in_email() -> str:
    from oms.adapters.customer_tokens import InvalidCustomerToken, TokenKeysUnavailable, customer_email

    header = (customer_account.current_request.headers or {}).get("authorization") or ""
    scheme, _, token = header.partition(" ")
    try:
        return customer_email(token.strip() if scheme.lower() == "bearer" else None)
    except InvalidCustomerToken:
        raise _unauthorized() from None
    except TokenKeysUnavailable:
        raise ApiError(503, "temporarily_unavailable", "please retry shortly", headers={"Retry-After": "2"}) from None


@customer_account.route("/customers/me/orders", methods=["GET"], content_types=ANY_BODY)
@documented(security="customer", query=("cursor",), errors=(422,))
@api_errors
def my_orders():
    from oms.bootstrap import context

    from .views import customer_order_view

    email = signed_in_email()
    ctx = context()
    cursor = (customer_account.current_request.query_params or {}).get("cursor")
    try:
        order_ids, following = ctx.store.orders_of_customer(email, cursor, PAGE)
    except ValueError as error:
        raise ApiError(422, "invalid_cursor", str(error)) from None
    orders = ctx.store.load_many(order_ids)
    return json_response(200, {"orders": [customer_order_view(order) for order in orders], "next_cursor": following})


@customer_account.route("/customers/me/orders/{order_ref}", methods=["GET"], content_types=ANY_BODY)
@documented(security="customer", errors=(404,))
@api_errors
def my_order(order_ref: str):
    from .customers import NOT_FOUND, find_customer_order
    from .views import customer_order_view

    order = find_customer_order(order_ref, signed_in_email())
    if order is None:
        raise ApiError(404, *NOT_FOUND)
    return json_response(200, customer_order_view(order))
