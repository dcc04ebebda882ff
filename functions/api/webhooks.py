"""Signed webhooks from channels and carriers."""
from __future__ import annotations

import time

from chalice import Blueprint

from .http import ApiError, api_errors, json_object, json_response, raw_body, validation_error

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
    from aws_lambda_powertools.utilities.parser import ValidationError, parse

    from oms.bootstrap import context
    from oms.services.canonical import CanonicalOrder
    from oms.services.intake import ExternalIdConflict, body_fingerprint, receive_order

    data = _verified_json("orders", "generic")
    try:
        canonical = parse(event=data, model=CanonicalOrder)
    except ValidationError as error:
        raise validation_error(error) from None
    try:
        received = receive_order(context(), canonical, channel="generic", fingerprint=body_fingerprint(data))
    except ExternalIdConflict:
        raise ApiError(409, "external_id_conflict",
                       "this external_id was already received with a different body") from None
    return json_response(202 if received.created else 200, {
        "order_id": received.order_id, "order_number": received.order_number, "status": "received"})


@webhooks.route("/webhooks/tracking/generic", methods=["POST"])
@api_errors
def receive_generic_tracking():
    from aws_lambda_powertools.utilities.parser import ValidationError, parse

    from oms.bootstrap import context
    from oms.services.canonical import TrackingUpdate
    from oms.services.orders import apply_tracking_update

    data = _verified_json("tracking", "generic")
    try:
        update = parse(event=data, model=TrackingUpdate)
    except ValidationError as error:
        raise validation_error(error) from None
    outcome = apply_tracking_update(context(), update.as_update())
    return json_response(202, {"tracking_number": update.tracking_number, "result": outcome})
