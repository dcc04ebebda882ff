"""Signed webhooks from channels and carriers. Each verifies its vendor's signature over the
raw body, maps the vendor's payload to the canonical shape with one mapper module per vendor,
and from there takes the same path as the generic webhook."""
from __future__ import annotations

import time
from decimal import Decimal

from chalice import Blueprint

from .http import ANY_BODY, ApiError, accept_order, api_errors, documented, json_object, json_response, parsed, raw_body

webhooks = Blueprint(__name__)


def _verified_body(kind: str, source: str, verify) -> bytes:
    """The raw body once `verify(secret, body)` accepted it; 401 and nothing written otherwise."""
    from oms.adapters.secrets import MissingSecret, webhook_secret
    from oms.adapters.signatures import BadSignature

    body = raw_body(webhooks.current_request)
    try:
        verify(webhook_secret(kind, source), body)
    except (BadSignature, MissingSecret) as error:
        from oms.observability import metrics

        metrics.count("WebhookSignatureFailures", dimension=f"{kind}/{source}")
        message = str(error) if isinstance(error, BadSignature) else "no secret is configured for this endpoint"
        raise ApiError(401, "invalid_signature", message) from None
    return body


def _header(name: str) -> str | None:
    return webhooks.current_request.headers.get(name)


def _oms_signed_body(kind: str, source: str) -> bytes:
    """Our own scheme (X-OMS-Signature), used by the generic channel and by SFCC hooks."""
    from oms.adapters.signatures import verify_generic

    return _verified_body(kind, source, lambda secret, body: verify_generic(
        secret, body, _header("x-oms-signature"), time.time()))


def _mapped(mapper, *args, **kwargs):
    """A vendor payload its mapper cannot understand is the caller's problem: 422 with details."""
    from oms.services.canonical import UnmappablePayload

    try:
        return mapper(*args, **kwargs)
    except UnmappablePayload as error:
        raise ApiError(422, "unmappable_payload", "the payload cannot be mapped", error.details) from None


# ---- orders -------------------------------------------------------------------------------------

@webhooks.route("/webhooks/orders/generic", methods=["POST"], content_types=ANY_BODY)
@documented("CanonicalOrder", signature="X-OMS-Signature", ok=(202, 200), errors=(409,))
@api_errors
def receive_generic_order():
    from oms.bootstrap import context
    from oms.services.canonical import CanonicalOrder

    data = json_object(_oms_signed_body("orders", "generic"))
    return accept_order(context(), parsed(data, CanonicalOrder), data, "generic")


@webhooks.route("/webhooks/orders/shopify", methods=["POST"], content_types=ANY_BODY)
@documented(described="Shopify's order webhook payload (the REST Admin API order)", mapped_to="CanonicalOrder",
            signature="X-Shopify-Hmac-Sha256", headers=("X-Shopify-Topic", "X-Shopify-Shop-Domain"),
            ok=(202, 200), errors=(404, 409))
@api_errors
def receive_shopify_order():
    """Shopify topics orders/create, orders/cancelled and orders/paid on one address (the
    X-Shopify-Topic header says which). Shopify retries any non-2xx answer for 48 hours, so an
    event about an order not received yet answers 404 and arrives again later."""
    from oms.adapters.signatures import verify_shopify

    body = _verified_body("orders", "shopify", lambda secret, raw: verify_shopify(
        secret, raw, _header("x-shopify-hmac-sha256")))
    data = json_object(body)  # Python's json keeps 64-bit ids as exact ints
    topic = (_header("x-shopify-topic") or "orders/create").strip().lower()
    if topic == "orders/create":
        return _receive_shopify_create(data)
    if topic in ("orders/cancelled", "orders/paid"):
        return _shopify_order_changed(topic, data)
    return json_response(200, {"result": "ignored", "topic": topic})


def _receive_shopify_create(data: dict):
    from oms.adapters.channels import shopify_orders
    from oms.bootstrap import context
    from oms.services.canonical import CanonicalOrder
    from oms.services.orders import cancel_order

    canonical = parsed(_mapped(shopify_orders.to_canonical, data, shop_domain=_header("x-shopify-shop-domain")),
                       CanonicalOrder)
    # One order per Shopify order id: a redelivery (even with a refreshed body) is the same order.
    response = accept_order(context(), canonical, {"shopify_order_id": canonical.external_id}, "shopify")
    if canonical.channel_context.get("cancelled_at"):
        # Created already cancelled (Shopify sends both states in one payload): record, then
        # cancel; on every delivery, so a retry after a failure here still cancels (once).
        reason = canonical.channel_context.get("cancel_reason") or "cancelled in Shopify"
        cancel_order(context(), response.body["order_id"], None, reason=reason, source="channel")
        response.body["status"] = "cancelled"
    return response


def _shopify_order_changed(topic: str, data: dict):
    from oms.adapters.channels import shopify_orders
    from oms.bootstrap import context
    from oms.services.orders import cancel_order
    from oms.services.payments import record_channel_paid

    ctx = context()
    external_id = _mapped(shopify_orders.order_id, data)
    ref = ctx.store.find_external("shopify", external_id)
    if ref is None:
        raise ApiError(404, "order_not_found", f"Shopify order {external_id} has not been received (yet)")
    if topic == "orders/cancelled":
        reason = str(data.get("cancel_reason") or "cancelled in Shopify")
        events = cancel_order(ctx, ref.order_id, None, reason=reason, source="channel")
        result = "cancelled" if events else "nothing_to_cancel"
    else:
        result = "recorded" if record_channel_paid(ctx, ref.order_id) else "already_recorded"
    return json_response(200, {"order_id": ref.order_id, "order_number": ref.order_number, "result": result})


@webhooks.route("/webhooks/orders/sfcc", methods=["POST"], content_types=ANY_BODY)
@documented(described="A Salesforce B2C Commerce (SCAPI Orders API) order document", mapped_to="CanonicalOrder",
            signature="X-OMS-Signature", ok=(202, 200), errors=(409,))
@api_errors
def receive_sfcc_order():
    from oms.adapters.channels import sfcc_orders
    from oms.bootstrap import context
    from oms.services.canonical import CanonicalOrder

    # SFCC sends money as JSON numbers: read them as Decimal, never float.
    data = json_object(_oms_signed_body("orders", "sfcc"), parse_float=Decimal)
    ctx = context()
    mapped = _mapped(sfcc_orders.to_canonical, data, received_at=ctx.clock.now())
    return accept_order(ctx, parsed(mapped, CanonicalOrder), data, "sfcc")


# ---- tracking -----------------------------------------------------------------------------------

def _apply_tracking(mapped: dict):
    from oms.bootstrap import context
    from oms.services.canonical import CarrierTracking
    from oms.services.orders import apply_tracking_update

    tracking = parsed(mapped, CarrierTracking)
    outcome = apply_tracking_update(context(), tracking.as_update())
    return json_response(202, {"tracking_number": tracking.tracking_number, "result": outcome})


@webhooks.route("/webhooks/tracking/generic", methods=["POST"], content_types=ANY_BODY)
@documented("TrackingUpdate", mapped_to="CarrierTracking", signature="X-OMS-Signature", ok=(202,))
@api_errors
def receive_generic_tracking():
    from oms.services.canonical import TrackingUpdate

    update = parsed(json_object(_oms_signed_body("tracking", "generic")), TrackingUpdate)
    return _apply_tracking(update.as_update())


def _carrier_tracking(source: str, verify, header: str, mapper):
    """A carrier aggregator's webhook: its signature, its mapper, then the generic path. Events
    it sends that carry no tracking are acknowledged (200) so it stops sending them."""
    from oms.adapters.carriers import IgnoredEvent

    body = _verified_body("tracking", source, lambda secret, raw: verify(secret, raw, _header(header)))
    try:
        mapped = _mapped(mapper, json_object(body))
    except IgnoredEvent as event:
        return json_response(200, {"result": "ignored", "reason": str(event)})
    return _apply_tracking(mapped)


@webhooks.route("/webhooks/tracking/easypost", methods=["POST"], content_types=ANY_BODY)
@documented(described="An EasyPost Event (tracker.created, tracker.updated)", mapped_to="CarrierTracking",
            signature="X-Hmac-Signature", ok=(202, 200))
@api_errors
def receive_easypost_tracking():
    from oms.adapters.carriers import easypost
    from oms.adapters.signatures import verify_easypost

    return _carrier_tracking("easypost", verify_easypost, "x-hmac-signature", easypost.to_tracking)


@webhooks.route("/webhooks/tracking/aftership", methods=["POST"], content_types=ANY_BODY)
@documented(described="An AfterShip tracking_update webhook (v4 or a dated version)",
            mapped_to="CarrierTracking", signature="aftership-hmac-sha256", ok=(202, 200))
@api_errors
def receive_aftership_tracking():
    from oms.adapters.carriers import aftership
    from oms.adapters.signatures import verify_aftership

    return _carrier_tracking("aftership", verify_aftership, "aftership-hmac-sha256", aftership.to_tracking)


# ---- payments -----------------------------------------------------------------------------------

@webhooks.route("/webhooks/payments/stripe", methods=["POST"], content_types=ANY_BODY)
@documented(described="A Stripe Event", signature="Stripe-Signature", ok=(200, 202))
@api_errors
def receive_stripe_event():
    """Stripe's events: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
    (several v1 during a secret's rotation, 300 s either way), our own scheme's twin."""
    from oms.adapters.signatures import verify_generic
    from oms.adapters.stripe_events import IgnoredStripeEvent, read_event
    from oms.bootstrap import context
    from oms.services.disputes import apply_payment_event

    body = _verified_body("payments", "stripe", lambda secret, raw: verify_generic(
        secret, raw, _header("stripe-signature"), time.time(), header_name="Stripe-Signature"))
    data = json_object(body)
    try:
        event = _mapped(read_event, data)
    except IgnoredStripeEvent as ignored:
        return json_response(200, {"result": "ignored", "type": str(ignored)})
    result = apply_payment_event(context(), event, data)
    return json_response(202 if result == "unmatched" else 200, {"event_id": event.event_id, "result": result})
