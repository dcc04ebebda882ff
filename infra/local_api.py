"""Chalice's local API server, made to answer as our API Gateway does: a TOKEN authorizer that
raises "Unauthorized" gives a 401 (Chalice local would crash with a 500), and the gateway's own
errors (unknown route, no token) use the API's error shape, as template.yaml's gateway
responses make them do in AWS."""
from __future__ import annotations

import json

import chalice.local as chalice_local

GATEWAY_CODES = {401: "unauthorized", 403: "forbidden"}


class ApiGatewayLikeAuthorizer(chalice_local.LocalGatewayAuthorizer):
    def authorize(self, raw_path, lambda_event, lambda_context):
        try:
            return super().authorize(raw_path, lambda_event, lambda_context)
        except Exception as error:
            if str(error) != "Unauthorized":
                raise
            raise chalice_local.NotAuthorizedError(
                {"x-amzn-RequestId": lambda_context.aws_request_id, "x-amzn-ErrorType": "UnauthorizedException"},
                b'{"message":"Unauthorized"}') from None


class ApiGatewayLikeGateway(chalice_local.LocalGateway):
    def handle_request(self, method, path, headers, body):
        try:
            return super().handle_request(method, path, headers, body)
        except chalice_local.LocalGatewayException as error:
            error.body = gateway_error_body(error.CODE, error.body)
            error.headers = {**error.headers, "Content-Type": "application/json"}
            raise


def gateway_error_body(status: int, body: bytes | None) -> bytes:
    try:
        message = next(iter(json.loads(body or b"{}").values()), None)
    except ValueError:
        message = None
    return json.dumps({"error": {"code": GATEWAY_CODES.get(status, "gateway_error"),
                                 "message": message or "request refused", "details": []}}).encode()


def emulate_api_gateway() -> None:
    chalice_local.LocalGatewayAuthorizer = ApiGatewayLikeAuthorizer
    chalice_local.LocalGateway = ApiGatewayLikeGateway
    import chalice.test as chalice_test

    chalice_test.LocalGateway = ApiGatewayLikeGateway
    # socketserver's default listen backlog of 5 refuses connections under a burst of webhooks.
    chalice_local.ThreadedHTTPServer.request_queue_size = 128
