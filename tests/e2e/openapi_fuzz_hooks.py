"""Schemathesis hooks for tests/e2e/test_openapi_fuzz.py (loaded by the `hooks` of its config)."""
from __future__ import annotations

import schemathesis

# The history import's JSON Lines go on the wire as the text they are.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")


@schemathesis.check
def error_shape(ctx, response, case):
    """Every 4xx and 5xx is {"error": {"code": str, "message": str, "details": list}} and nothing else,
    whether the document declares that status or not."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"a {response.status_code} whose body is not JSON: {response.text[:200]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(body, dict) and set(body) == {"error"} and isinstance(error, dict), \
        f"a {response.status_code} not in the error shape: {response.text[:200]}"
    assert set(error) == {"code", "message", "details"}, f"error fields {sorted(error)}"
    assert isinstance(error["code"], str) and isinstance(error["message"], str) \
        and isinstance(error["details"], list), f"error field types: {response.text[:200]}"
    return True
