"""What every HTTP handler shares: the error shape, JSON bodies, the size limit."""
from __future__ import annotations

import functools
import json

from chalice import Response

MAX_BODY_BYTES = 1024 * 1024
# Bodies are read as JSON whatever Content-Type says: vendors and scripts differ (`curl -d`
# sends application/x-www-form-urlencoded), and Chalice would answer 415 in its own shape.
ANY_BODY = ["*/*"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, details: list | None = None) -> Response:
    return Response(status_code=status, headers={"Content-Type": "application/json"},
                    body={"error": {"code": code, "message": message, "details": details or []}})


def json_response(status: int, body: dict) -> Response:
    return Response(status_code=status, headers={"Content-Type": "application/json"}, body=body)


def api_errors(view):
    """Turn a caller's mistake into its 4xx answer, whatever layer noticed it."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except ApiError as error:
            response = error_response(error.status, error.code, error.message, error.details)
            response.headers.update(error.headers)
            return response
        except Exception as error:
            from oms.services.ports import OrderTooLarge  # imported here: app.py's cold start stays small

            if isinstance(error, OrderTooLarge):
                return error_response(413, "order_too_large", "the order is larger than one order can be stored")
            if not _is_dependency_failure(error):
                raise
            # Our database or bus failed, not the caller: a retryable 503, nothing half-written
            # (every write is one transaction).
            response = error_response(503, "temporarily_unavailable", "please retry shortly")
            response.headers["Retry-After"] = "2"
            return response
    return wrapped


def _is_dependency_failure(error: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    from oms.adapters.secrets import SecretsUnavailable
    from oms.services.ports import ConcurrentModification

    return isinstance(error, BotoCoreError | ClientError | PynamoDBException | ConcurrentModification
                      | SecretsUnavailable)


def raw_body(request) -> bytes:
    body = request.raw_body or b""
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    return body


def json_object(body: bytes, parse_float=float) -> dict:
    try:
        data = json.loads(body, parse_float=parse_float)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def parsed(data: dict, model):
    """The body as a Powertools Parser model, or a 422 saying which fields are wrong."""
    from aws_lambda_powertools.utilities.parser import ValidationError, parse

    from oms.services.canonical import error_details

    try:
        return parse(event=data, model=model)
    except ValidationError as error:
        raise ApiError(422, "validation_failed", "the request cannot be processed", error_details(error)) from None


def accept_order(ctx, canonical, data: dict, channel: str):
    """Receive a canonical order: 202 when new, 200 with the same ids when a retry, 409 when
    the channel reused the external id for another order."""
    from oms.services.intake import ExternalIdConflict, body_fingerprint, receive_order

    try:
        received = receive_order(ctx, canonical, channel=channel, fingerprint=body_fingerprint(data))
    except ExternalIdConflict:
        raise ApiError(409, "external_id_conflict",
                       "this external_id was already received with a different body") from None
    return json_response(202 if received.created else 200, {
        "order_id": received.order_id, "order_number": received.order_number, "status": "received"})


class Documented:
    """What the OpenAPI document (functions/api/openapi.py) says of a route beyond Chalice's own
    route table: the pydantic model that parses its body, named here and imported only when the
    document is built (pydantic is not free at cold start), its answers and its parameters.
    tests/unit/test_openapi.py reads each view and fails when it parses a model, or answers a
    success status, that its declaration does not name."""

    __slots__ = ("body", "optional", "described", "mapped_to", "media_type", "actions", "ok", "errors", "query",
                 "required_query", "headers", "signature", "security", "produces")

    def __init__(self, body: str | None = None, *, optional: bool = False, described: str | None = None,
                 mapped_to: str | None = None, media_type: str = "application/json",
                 actions: dict[str, Documented] | None = None, ok: tuple[int, ...] = (200,),
                 errors: tuple[int, ...] = (), query: tuple[str, ...] = (), required_query: tuple[str, ...] = (),
                 headers: tuple[str, ...] = (), signature: str | None = None, security: str | None = None,
                 produces: str = "application/json"):
        self.body, self.optional, self.described, self.mapped_to = body, optional, described, mapped_to
        self.media_type, self.actions, self.ok, self.errors = media_type, actions, ok, errors
        self.query, self.required_query, self.headers = query, required_query, headers
        self.signature, self.security, self.produces = signature, security, produces

    def __call__(self, view):
        view.documented = self
        return view


def documented(body: str | None = None, **declared) -> Documented:
    """Declare a route for the OpenAPI document, under its `@<blueprint>.route(...)`:
    - `body`: the name of the model its body is parsed with (in functions/api/ops_inputs.py or
      oms/services/canonical.py), `optional=True` if an empty body is accepted too; or
      `described`: a JSON object the route reads itself (a vendor's own payload), with
      `mapped_to` the model it is parsed as once mapped; `media_type` if it is not JSON;
    - `actions`: for a route ending in `{action}`, each action's own `documented(...)`;
    - `ok` its success statuses, `errors` the 4xx it answers beyond those the rest implies
      (400/413/422 with a body, 401 with a token or a signature, 503 under @api_errors);
    - `query`, `required_query`, `headers`: the parameters it reads; `signature`: the webhook's
      signature header; `security="customer"`: a signed-in customer's token;
    - `produces`: the media type of its success answer."""
    return Documented(body, **declared)
