"""Validate domain events against the catalogue in events/schemas.

    from tests.support.event_schemas import validate_event
    validate_event(detail)   # the EventBridge `detail` dict; raises jsonschema.ValidationError

Schemas are loaded once. Two things are stricter than a stock Draft 2020-12 validator:
`integer` refuses floats such as 100.0 (money is integer minor units, never a float), and
`date-time` is always checked (RFC 3339 with an offset), without needing an optional package.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "events" / "schemas"
ENVELOPE = "envelope.json"

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class UnknownEventType(ValidationError):
    """The event's type has no schema in events/schemas."""


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # `type` judges non-strings
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # raises ValueError on e.g. month 13
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    return checker


_StrictValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)),
)


def load_schemas() -> dict[str, dict]:
    """Every schema file by its file stem (event name, plus `envelope`)."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(SCHEMA_DIR.glob("*.json"))}


@cache
def _catalogue() -> tuple[dict, dict]:
    schemas = load_schemas()
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values())
    checker = _format_checker()
    validators_by_name = {name: _StrictValidator(schema, registry=registry, format_checker=checker)
                          for name, schema in schemas.items()}
    envelope = validators_by_name.pop(ENVELOPE.removesuffix(".json"))
    return envelope, validators_by_name


def event_types() -> set[str]:
    """The event names the catalogue has a schema for."""
    return set(_catalogue()[1])


def _raise(errors: list[ValidationError], what: str, schema_file: str) -> None:
    if not errors:
        return
    errors.sort(key=lambda e: [str(p) for p in e.absolute_path])
    lines = [f"  at {e.json_path}: {e.message}" for e in errors]
    message = f"{what} does not match events/schemas/{schema_file}:\n" + "\n".join(lines)
    worst = best_match(errors)
    raise ValidationError(message, validator=worst.validator, path=worst.absolute_path, instance=worst.instance,
                          schema_path=worst.absolute_schema_path, validator_value=worst.validator_value,
                          schema=worst.schema)


def validate_event(detail: dict) -> None:
    """Check one event `detail` (event_id, event_type, occurred_at, aggregate_id, sequence,
    data) against the envelope and its event's schema; raise ValidationError listing every
    problem, or UnknownEventType when the catalogue has no schema for it."""
    envelope, by_type = _catalogue()
    event_type = detail.get("event_type") if isinstance(detail, dict) else None
    label = f"{event_type or 'event'} {detail.get('event_id', '')}".strip() if isinstance(detail, dict) else "event"
    _raise(list(envelope.iter_errors(detail)), label, ENVELOPE)
    validator = by_type.get(event_type)
    if validator is None:
        raise UnknownEventType(
            f"no schema for event type {event_type!r}: add events/schemas/{event_type}.json "
            f"(known: {', '.join(sorted(by_type))})", instance=detail)
    _raise(list(validator.iter_errors(detail)), label, f"{event_type}.json")
