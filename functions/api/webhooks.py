"""Signed webhooks from channels and carriers."""
from __future__ import annotations

import time

from chalice import Blueprint

from .http import ApiError, accept_order, api_errors, json_object, json_response, parsed, raw_body

webhooks = Blueprint(__name__)


def _verified_json(kind: str, source: str) -> dict:
    from oms.adapters.secrets import MissingSecret, webhook_secret
    from oms.adapters.signatures import BadSignature, verify_generic

    request = webhooks.current_request
    body = raw_body(request)
    try:
        verify_generic(webhook_secret(kind, source), body, request.headers.get("x-oms-signature"), time.time())
    except (BadSignature, MissingSecret) as error:
        message = str(error) if isinstance(error, BadSignature) else "no secret is configured for this endpoint"
        raise ApiError(401, "invalid_signature", message) from None
    return json_object(body)


@webhooks.route("/webhooks/orders/generic", methods=["POST"])
@api_errors
def receive_generic_order():
    from oms.bootstrap import context
    from oms.services.canonical import CanonicalOrder

    data = _verified_json("orders", "generic")
    return accept_order(context(), parsed(data, CanonicalOrder), data, "generic")


@webhooks.route("/webhooks/tracking/generic", methods=["POST"])
@api_errors
def receive_generic_tracking():
    from oms.bootstrap import context
    from oms.services.canonical import TrackingUpdate
    from oms.services.orders import apply_tracking_update

    update = parsed(_verified_json("tracking", "generic"), TrackingUpdate)
    outcome = apply_tracking_update(context(), update.as_update())
    return json_response(202, {"tracking_number": update.tracking_number, "result": outcome})
