"""X-Ray traces (Powertools Tracer) and the HTTP side of the correlation: a request's
correlation id is the caller's X-Correlation-Id, or API Gateway's request id, and the answer
echoes it.

The Tracer is made on the first traced invocation, not at import: the X-Ray SDK builds its
sampling clients when imported (about 0.25 s here), which a function that is not traced (the
local stack, the tests) should not pay, and which a traced one pays once per instance."""
from __future__ import annotations

import os
import re
from functools import cache

from .logs import bind, new_correlation_id

HEADER = "X-Correlation-Id"
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:/=+-]{1,128}")  # what a log search and an annotation can carry


def tracing_active() -> bool:
    """Lambda with active tracing runs an X-Ray daemon and says where (POWERTOOLS_TRACE_DISABLED wins)."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true")
    return bool(os.environ.get("AWS_XRAY_DAEMON_ADDRESS")) and not disabled


@cache
def tracer():
    from aws_lambda_powertools import Tracer

    return Tracer(service="oms")


@cache
def _handler_middleware():
    from chalice import ConvertToMiddleware

    # No responses or exception texts in the traces: they may hold personal data the logs mask.
    return ConvertToMiddleware(tracer().capture_lambda_handler(capture_response=False, capture_error=False))


def trace_invocation(event, get_response):
    """Chalice middleware for every handler: Powertools' capture_lambda_handler when traced."""
    if not tracing_active():
        return get_response(event)
    return _handler_middleware()(event, get_response)


def request_correlation_id(headers, request_context: dict | None) -> str:
    given = (headers or {}).get(HEADER.lower()) or ""
    if _ACCEPTABLE.fullmatch(given):
        return given
    return (request_context or {}).get("requestId") or new_correlation_id()


def correlate_request(event, get_response):
    """Chalice HTTP middleware: bind the request's correlation (and the order a path names)."""
    correlation_id = request_correlation_id(event.headers, event.context)
    bind(correlation_id=correlation_id, order_id=(event.uri_params or {}).get("order_id"))
    if tracing_active():
        tracer().put_annotation(key="correlation_id", value=correlation_id)
    response = get_response(event)
    response.headers[HEADER] = correlation_id
    return response
