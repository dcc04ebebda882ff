"""Money as integer minor units plus an ISO 4217 currency; decimals only at the edge."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

import iso4217


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def currency_exponent(currency: str) -> int:
    try:
        return iso4217.Currency(currency.upper()).exponent or 0
    except (ValueError, AttributeError):
        raise MoneyError(f"unknown ISO 4217 currency {currency!r}") from None


def to_minor(amount: str | Decimal | int, currency: str) -> int:
    """Parse a decimal string (never a float) into minor units, refusing extra precision."""
    if isinstance(amount, float) or isinstance(amount, bool):
        raise MoneyError("money must be a decimal string, not a JSON number")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise MoneyError(f"{amount!r} is not a decimal amount") from None
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not a finite amount")
    # Enough precision for every digit given, so nothing is silently rounded.
    scaled = value.scaleb(currency_exponent(currency), Context(prec=max(28, len(value.as_tuple().digits) + 4)))
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount!r} has more decimals than {currency} allows")
    return int(scaled)


def to_decimal_string(minor: int, currency: str) -> str:
    exponent = currency_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


@dataclass(frozen=True)
class Money:
    minor: int
    currency: str

    def __str__(self) -> str:
        return to_decimal_string(self.minor, self.currency)
