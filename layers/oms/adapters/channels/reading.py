"""Careful readers shared by the channel mappers. Each names the vendor's field it refuses, so
a 422's details point at what the vendor sent, and junk never escapes as KeyError or TypeError."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from oms.domain.money import MoneyError, currency_exponent, to_decimal_string, to_minor
from oms.services.canonical import CanonicalOrder, UnmappablePayload, error_details


def unmappable(field: str, problem: str) -> UnmappablePayload:
    return UnmappablePayload([{"field": field, "problem": problem}])


def currency(value) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise unmappable("currency", "missing or not a three-letter currency code")
    try:
        currency_exponent(value)
    except MoneyError:
        raise unmappable("currency", "not an ISO 4217 currency") from None
    return value.upper()


def minor(value, where: str, currency_code: str) -> int:
    """An amount in minor units from a decimal string (Shopify) or the Decimal / int the JSON
    parser gave (SFCC). A float has already lost cents: refused, never rounded; so is anything
    too large or too precise to be money."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise unmappable(where, "missing or not a decimal amount (JSON numbers must be read as Decimal)")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise unmappable(where, "not a decimal amount") from None
    if not amount.is_finite() or amount.adjusted() > 15 or amount.as_tuple().exponent < -15:
        raise unmappable(where, "not a plausible amount")
    try:
        return to_minor(amount, currency_code)
    except MoneyError:
        raise unmappable(where, f"more decimals than {currency_code} allows") from None


def amount(minor_units: int, currency_code: str) -> str:
    return to_decimal_string(minor_units, currency_code)


def text(value, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)  # e.g. a postal code or order number sent as a number
    raise unmappable(where, "not text")


def obj(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise unmappable(where, "missing or not an object")
    return value


def obj_or_empty(value, where: str) -> dict:
    return {} if value is None else obj(value, where)


def items(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise unmappable(where, "not a list")
    return value


def json_safe(value, where: str, depth: int = 0):
    """Attributes are stored as JSON: Decimals become strings (as given), never floats."""
    if depth > 20:
        raise unmappable(where, "nested too deeply")
    if isinstance(value, dict):
        return {str(k): json_safe(v, where, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v, where, depth + 1) for v in value]
    if isinstance(value, Decimal | float):
        return str(value)
    return value


def checked(canonical: dict) -> dict:
    """The mapped order, guaranteed to parse as a CanonicalOrder; otherwise the payload was unmappable."""
    try:
        CanonicalOrder.model_validate(canonical)
    except ValidationError as error:
        raise UnmappablePayload(error_details(error)) from None
    return canonical
