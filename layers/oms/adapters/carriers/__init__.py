"""Carrier and aggregator tracking formats mapped to the canonical CarrierTracking."""
from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from oms.services.canonical import CarrierTracking, UnmappablePayload, error_details


class IgnoredEvent(Exception):
    """A well-formed event this endpoint does not act on (the webhook answers 200 {"result": "ignored"})."""


# Small readers shared by the mappers: each names the vendor's field it refuses, so a 422's
# details point at the payload the vendor sent, and junk never escapes as KeyError or TypeError.

def problem(field: str, text: str) -> UnmappablePayload:
    return UnmappablePayload([{"field": field, "problem": text}])


def obj(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise problem(field, "must be an object")
    return value


def text(source: dict, key: str, field: str, *, required: bool = False) -> str | None:
    value = source.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise problem(field, "is required")
        return None
    if not isinstance(value, str):
        raise problem(field, "must be a string")
    return value


def moment(value, field: str) -> datetime:
    """An ISO 8601 time, in UTC. A time without an offset is read as UTC (each mapper says why)."""
    if not isinstance(value, str):
        raise problem(field, "must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise problem(field, "must be an ISO 8601 date-time string") from None


def place(city: str | None, state: str | None, country: str | None, postal_code: str | None) -> str:
    """"CITY, STATE, COUNTRY ZIP", leaving out what the carrier did not say."""
    tail = " ".join(p.strip() for p in (country, postal_code) if p and p.strip())
    return ", ".join(p.strip() for p in (city, state, tail) if p and p.strip())


def validated(tracking: dict) -> dict:
    """The mapped tracking, checked against the canonical model so the webhook can rely on it."""
    try:
        CarrierTracking.model_validate(tracking)
    except ValidationError as error:
        raise UnmappablePayload(error_details(error)) from None
    return tracking
