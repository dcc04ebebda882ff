"""What every HTTP handler shares: the error shape, JSON bodies, the size limit."""
from __future__ import annotations

import functools
import json

from chalice import Response

MAX_BODY_BYTES = 1024 * 1024


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


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
            return error_response(error.status, error.code, error.message, error.details)
        except Exception as error:
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

    from oms.services.ports import ConcurrentModification

    return isinstance(error, BotoCoreError | ClientError | PynamoDBException | ConcurrentModification)


def raw_body(request) -> bytes:
    body = request.raw_body or b""
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    return body


def json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return data


def validation_error(error) -> ApiError:
    from oms.services.canonical import error_details

    return ApiError(422, "validation_failed", "the request cannot be processed", error_details(error))
