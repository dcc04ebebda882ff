"""Webhook signature schemes."""
from __future__ import annotations

import hashlib
import hmac

TOLERANCE_SECONDS = 300


class BadSignature(Exception):
    """The webhook is not signed by someone who knows the secret (or is too old)."""


def sign_generic(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_generic(secret: str, body: bytes, header: str | None, now: float) -> None:
    """`X-OMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`; several
    v1 values are allowed so a secret can be rotated."""
    if not header:
        raise BadSignature("missing X-OMS-Signature header")
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamps = [v for k, v in parts if k.strip() == "t"]
    macs = [v.strip() for k, v in parts if k.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit() or not macs:
        raise BadSignature("malformed X-OMS-Signature header")
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("signature timestamp outside the 300 s tolerance")
    expected = sign_generic(secret, body, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, mac) for mac in macs):
        raise BadSignature("signature does not match")
