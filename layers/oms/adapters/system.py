"""The real clock and identifier sources (the domain gets them injected)."""
from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

# Crockford's base32: no I, L, O or U, so a number read over the phone is not misheard.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class SystemClock:
    def now(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def timestamp(self) -> float:
        return time.time()


def new_order_id() -> str:
    """Time-ordered, unguessable: 10 hex digits of milliseconds then 16 random hex digits."""
    return f"o{int(time.time() * 1000):010x}{secrets.token_hex(8)}"


def new_order_number() -> str:
    """Eight Crockford characters in two groups (about 10^12 values), e.g. 7KQ2-M9XD."""
    chars = "".join(secrets.choice(_CROCKFORD) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def new_return_id() -> str:
    return "r" + new_order_id()[1:]


def new_rma_number() -> str:
    return "RMA-" + new_order_number()


def new_case_id() -> str:
    return "c" + new_order_id()[1:]


def new_case_number() -> str:
    return "CS-" + new_order_number()
