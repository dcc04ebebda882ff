"""A merchant's past orders, as JSON Lines: one `{"order_id", "customer_id", "placed_at",
"total", "currency", "channel"}` a line. Checked whole: one bad line refuses the request."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from oms.domain.money import MoneyError, to_minor

FIELDS = ("order_id", "customer_id", "placed_at", "total", "currency", "channel")
ID = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable, no spaces
CUSTOMER = re.compile(r"^[\x21-\x7e]{1,200}$")
CHANNEL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_ERRORS = 20
MAX_TOTAL = 10**15  # minor units: far above any order, far below where a sum of them could overflow
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


class InvalidHistory(ValueError):
    def __init__(self, message: str, details: list[dict]):
        super().__init__(message)
        self.details = details


def parse_history(body: bytes, now: datetime) -> list[dict]:
    """Each order once (the first line of an order id wins), with `total` in minor units."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidHistory("the body is not UTF-8", []) from None
    orders: dict[str, dict] = {}
    errors: list[dict] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            order = _order(line, now)
        except ValueError as error:
            errors.append({"line": number, "message": str(error)})
            if len(errors) >= MAX_ERRORS:
                break
            continue
        orders.setdefault(order["order_id"], order)
    if errors:
        raise InvalidHistory(f"{len(errors)}{'+' if len(errors) >= MAX_ERRORS else ''} lines are not orders; "
                             "nothing was imported", errors)
    if not orders:
        raise InvalidHistory("the body has no orders", [])
    return list(orders.values())


def _order(line: str, now: datetime) -> dict:
    try:
        data = json.loads(line, parse_float=Decimal)
    except ValueError:
        raise ValueError("not a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    missing = [name for name in FIELDS if data.get(name) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown fields {', '.join(sorted(unknown))}")
    for name, pattern in (("order_id", ID), ("customer_id", CUSTOMER), ("channel", CHANNEL)):
        if not isinstance(data[name], str) or not pattern.match(data[name]):
            most = 200 if name == "customer_id" else 64
            raise ValueError(f"{name} is not an id (printable, no spaces, at most {most} characters)")
    placed_at = _moment(data["placed_at"], now)
    currency = str(data["currency"]).upper()
    if isinstance(data["total"], bool) or not isinstance(data["total"], str | int | Decimal):
        raise ValueError("total must be a decimal amount")
    try:
        total = to_minor(data["total"], currency)
    except MoneyError as error:
        raise ValueError(str(error)) from None
    if not 0 <= total <= MAX_TOTAL:
        raise ValueError("total is negative or implausibly large")
    return {"order_id": data["order_id"], "customer_id": data["customer_id"], "placed_at": placed_at,
            "total": total, "currency": currency, "channel": data["channel"]}


def _moment(value, now: datetime) -> str:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("placed_at is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError("placed_at needs a time zone (Z or an offset)")
    if not EARLIEST <= moment <= now + timedelta(minutes=5):  # history is past: a later one is a mistake
        raise ValueError("placed_at is in the future or before 1990")
    return moment.isoformat()
