"""Holds an operator can see (and mostly release), and the error a request gets when the
order's state does not allow it."""
from __future__ import annotations

from dataclasses import dataclass

VALIDATION_HOLDS = ("invalid_address", "invalid_customer", "unknown_sku", "totals_mismatch", "too_many_skus")
# The card was declined, the processor could not be reached, or the storefront's authorisation
# does not pay for the order: releasing the hold tries the payment again.
PAYMENT_HOLDS = ("payment_declined", "payment_error", "payment_mismatch")
# The authorisation can no longer be captured (a refused capture or re-authorisation, or one
# cancelled or expired at the processor): shipping stops; releasing authorises the rest again.
CAPTURE_HOLDS = ("capture_failed", "authorization_lost")
# The bank disputes the payment (nothing more ships until the dispute is won), or a refund failed
# at the processor: an operator looks; releasing changes nothing else.
DISPUTE_HOLDS = ("payment_disputed",)
REFUND_HOLDS = ("refund_failed",)
# Stock arriving clears a backorder; not an operator's to release.
SELF_CLEARING_HOLDS = ("backorder",)
# A validation hold no release can lift: more SKUs than one shipment can move in one DynamoDB
# transaction (each SKU writes its stock, movement and holding: three of the 100 items).
# Releasing it would fail at sourcing or shipping, so an operator cancels the order and it is
# placed again in parts.
SIZE_HOLDS = ("too_many_skus",)
MAX_SKUS_PER_ORDER = 25
# An exchange order waits for the units it replaces: cleared when they are all back, or by an
# operator who ships it anyway (some never came).
EXCHANGE_HOLDS = ("awaiting_return",)
# The channel has not been paid: cleared when it reports payment (Shopify orders/paid), or by an
# operator who confirms the payment arrived another way (SFCC sends no such event).
CHANNEL_PAYMENT_HOLDS = ("awaiting_payment",)
# Stock held too long for a payment that did not come was given back: cleared (and the order
# sourced again) when the payment arrives, or by an operator.
EXPIRY_HOLDS = ("reservation_expired",)


class OrderRuleViolation(ValueError):
    """A request that the order's current state does not allow (a 409/422 for a caller)."""

    def __init__(self, code: str, message: str, details: list | None = None):
        super().__init__(message)
        self.code = code
        self.details = details or []  # what exactly was wrong, for the caller


@dataclass
class Hold:
    type: str
    detail: str
    since: str | None = None  # when it was placed, where a timer runs from it (awaiting_payment)
