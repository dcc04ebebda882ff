"""Chalice's local API server, made to answer as API Gateway does for a TOKEN authorizer
that raises "Unauthorized": 401 (Chalice local would otherwise crash with a 500)."""
from __future__ import annotations

import chalice.local as chalice_local


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


def emulate_api_gateway() -> None:
    chalice_local.LocalGatewayAuthorizer = ApiGatewayLikeAuthorizer
    # socketserver's default listen backlog of 5 refuses connections under a burst of webhooks.
    chalice_local.ThreadedHTTPServer.request_queue_size = 128
