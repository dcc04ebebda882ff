"""A small JSON-over-HTTPS client for the channels' APIs, on the standard library only
(`requests` is not in the Lambda package).

What the caller sees:
- a 2xx answer: its JSON body (None when the body is empty, e.g. a 204);
- 429, 5xx, a timeout or a network error: ChannelUnavailable, with `retry_after` taken from
  the Retry-After header when the vendor sends one;
- any other answer (4xx, or a redirect, which we never follow so the token never leaves the
  configured host): VendorRejected, a ChannelRejected carrying the status and the vendor's text.

Neither Shopify's REST Admin API nor the SFCC Orders API documents an idempotency-key header,
so none is sent; the adapters read the channel's state before they change it instead."""
from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from oms.services.ports import ChannelRejected, ChannelUnavailable

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "oms-channel-notifier/1.0"


class ChannelNotConfigured(ChannelRejected):
    """The OMS lacks what it needs to call the channel (base URL, token, ids). Retrying
    will not help until someone configures it, so it is a rejection, not an outage."""


class VendorRejected(ChannelRejected):
    """The channel answered with a refusal; `status` and `body` are kept so an adapter can
    recognise a refusal that actually means "already done"."""

    def __init__(self, message: str, status: int, body):
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Answer:
    status: int
    body: object  # parsed JSON, or None for an empty body
    headers: dict[str, str]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_opener = urllib.request.build_opener(_NoRedirects)


def call_json(method: str, url: str, *, channel: str, headers: dict[str, str], body=None,
              timeout: float = DEFAULT_TIMEOUT) -> Answer:
    """Send one request and map the answer as described in the module docstring; a failed or
    refused call is counted (ChannelCallFailures by channel)."""
    try:
        return _call_json(method, url, headers=headers, body=body, timeout=timeout)
    except (ChannelUnavailable, VendorRejected):
        from oms.observability import metrics

        metrics.count("ChannelCallFailures", dimension=channel)
        raise


def _call_json(method: str, url: str, *, headers: dict[str, str], body, timeout: float) -> Answer:
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    request_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **headers}
    if data is not None:
        request_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=request_headers)
    where = f"{method} {_path_of(url)}"
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, raw, answer_headers = response.status, response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as error:
        raise _refusal(where, error.code, _read_quietly(error), error.headers) from None
    except (OSError, http.client.HTTPException) as error:
        # URLError (DNS, refused connection), timeouts and dropped connections: an outage.
        raise ChannelUnavailable(f"{where}: {type(error).__name__}: {error}") from error
    return Answer(status, _parse_success(where, status, raw), answer_headers)


def _refusal(where: str, status: int, raw: bytes, headers) -> Exception:
    message = f"{where}: {status} {vendor_text(raw)}".rstrip()
    if status == 429 or status >= 500:
        return ChannelUnavailable(message, retry_after=retry_after(headers))
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return VendorRejected(message, status, body)


def _parse_success(where: str, status: int, raw: bytes):
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        # A 2xx page that is not JSON is a login or proxy page: the URL or host is wrong.
        raise VendorRejected(f"{where}: {status} with a body that is not JSON: {raw[:200]!r}", status, None) \
            from None


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read() or b""
    except (OSError, http.client.HTTPException):
        return b""


def _path_of(url: str) -> str:
    # Messages name the path, not the host: hosts differ per shop and are in the config anyway.
    after_scheme = url.split("://", 1)[-1]
    return "/" + after_scheme.split("/", 1)[1] if "/" in after_scheme else "/"


def vendor_text(raw: bytes, limit: int = 500) -> str:
    """The vendor's explanation: Shopify's `errors`/`error`, SFCC's RFC 7807 `title`/`detail`,
    or the raw text, shortened."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:limit]
    if isinstance(body, dict):
        for key in ("errors", "error"):
            if key in body:
                value = body[key]
                return (value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))[:limit]
        if "detail" in body or "title" in body:
            return " - ".join(str(body[key]) for key in ("title", "detail") if body.get(key))[:limit]
    return json.dumps(body, separators=(",", ":"))[:limit] if body is not None else ""


def retry_after(headers) -> float | None:
    """Retry-After as seconds: Shopify sends a number ("2.0"); HTTP also allows a date."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass  # not a number of seconds: an HTTP date, read below
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
