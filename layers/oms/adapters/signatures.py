"""Webhook signature schemes."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata

TOLERANCE_SECONDS = 300


class BadSignature(Exception):
    """The webhook is not signed by someone who knows the secret (or is too old)."""


def sign_generic(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_generic(secret: str, body: bytes, header: str | None, now: float,
                   header_name: str = "X-OMS-Signature") -> None:
    """`X-OMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`; several
    v1 values are allowed so a secret can be rotated. Stripe signs the same way (Stripe-Signature)."""
    if not header:
        raise BadSignature(f"missing {header_name} header")
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamps = [v for k, v in parts if k.strip() == "t"]
    macs = [v.strip() for k, v in parts if k.strip() == "v1"]
    # ASCII digits and hex only: str.isdigit() admits "²", and compare_digest refuses non-ASCII str.
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", timestamps[0].strip()) or not macs:
        raise BadSignature(f"malformed {header_name} header")
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("signature timestamp outside the 300 s tolerance")
    expected = sign_generic(secret, body, timestamp).split("v1=", 1)[1].encode()
    if not any(hmac.compare_digest(expected, mac.encode("utf-8", "replace")) for mac in macs):
        raise BadSignature("signature does not match")


# Vendors' own schemes. None carries a timestamp, so a replay is caught by the receiver's
# idempotency (vendor event ids, tracking content), not here.

EASYPOST_PREFIX = "hmac-sha256-hex="


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def _require(secret: str, header: str | None, name: str) -> str:
    if not secret:
        raise BadSignature(f"no secret to check {name} against")
    if not header or not header.strip():
        raise BadSignature(f"missing {name} header")
    return header.strip()


def _base64_mac(header: str, name: str) -> bytes:
    try:
        mac = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature(f"malformed {name} header (not base64)") from None
    if len(mac) != hashlib.sha256().digest_size:
        raise BadSignature(f"malformed {name} header (not an HMAC-SHA256)")
    return mac


def _verify_base64(name: str, secret: str, body: bytes, header: str | None) -> None:
    mac = _base64_mac(_require(secret, header, name), name)
    if not hmac.compare_digest(_mac(secret.encode(), body), mac):
        raise BadSignature("signature does not match")


def sign_shopify(secret: str, body: bytes) -> str:
    return base64.b64encode(_mac(secret.encode(), body)).decode()


def verify_shopify(secret: str, body: bytes, header: str | None) -> None:
    """`X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the raw body, keyed with the app secret>`."""
    _verify_base64("X-Shopify-Hmac-Sha256", secret, body, header)


def sign_aftership(secret: str, body: bytes) -> str:
    return base64.b64encode(_mac(secret.encode(), body)).decode()


def verify_aftership(secret: str, body: bytes, header: str | None) -> None:
    """`aftership-hmac-sha256: <base64 HMAC-SHA256 of the raw body, keyed with the webhook secret>`."""
    _verify_base64("aftership-hmac-sha256", secret, body, header)


def _easypost_key(secret: str) -> bytes:
    # EasyPost's client libraries key the HMAC with the NFKD form of the secret, so "é" typed
    # as one code point or as "e" + accent gives the same key.
    return unicodedata.normalize("NFKD", secret).encode()


def sign_easypost(secret: str, body: bytes) -> str:
    return EASYPOST_PREFIX + hmac.new(_easypost_key(secret), body, hashlib.sha256).hexdigest()


def verify_easypost(secret: str, body: bytes, header: str | None) -> None:
    """`X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>`, keyed with the
    NFKD-normalised webhook secret."""
    name = "X-Hmac-Signature"
    header = _require(secret, header, name)
    if not header.startswith(EASYPOST_PREFIX):
        raise BadSignature(f"malformed {name} header (expected {EASYPOST_PREFIX}<hex>)")
    try:
        mac = bytes.fromhex(header[len(EASYPOST_PREFIX):])
    except ValueError:
        raise BadSignature(f"malformed {name} header (not hex)") from None
    if len(mac) != hashlib.sha256().digest_size:
        raise BadSignature(f"malformed {name} header (not an HMAC-SHA256)")
    if not hmac.compare_digest(_mac(_easypost_key(secret), body), mac):
        raise BadSignature("signature does not match")
