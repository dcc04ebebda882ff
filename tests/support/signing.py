"""Signing webhook bodies the way senders do."""
from __future__ import annotations

import json
import time

from oms.adapters.signatures import sign_generic


def signed(body, secret: str, timestamp: int | None = None) -> tuple[bytes, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = sign_generic(secret, raw, int(time.time()) if timestamp is None else timestamp)
    return raw, {"X-OMS-Signature": header, "Content-Type": "application/json"}
