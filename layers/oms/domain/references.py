"""Order references as customers type them: the OMS number (`7KQ2-M9XD`) in any case, with or
without its dash, Crockford look-alikes forgiven (O for 0, I and L for 1); the channel's
number with or without a leading `#` (Shopify shows `#1001`), percent-encoded or not."""
from __future__ import annotations

from urllib.parse import unquote


def normalise_order_number(text: str) -> str | None:
    """The OMS order number the text names, or None if it cannot be one."""
    cleaned = text.strip().upper().replace("-", "").translate(str.maketrans("OIL", "011"))
    return f"{cleaned[:4]}-{cleaned[4:]}" if len(cleaned) == 8 and cleaned.isalnum() else None


def channel_number_key(text: str) -> str:
    """How a channel's order number is stored and looked up: without `#` and spaces, upper case."""
    return text.strip().lstrip("#").strip().upper()


def reference_keys(reference: str) -> tuple[str | None, str]:
    """(the OMS number it may be, the channel number key it may be) for a reference from a URL."""
    text = unquote(reference)
    return normalise_order_number(text), channel_number_key(text)
