"""Stripe's webhook events, read into what the OMS acts on. Pure: no SDK, no I/O.

An Event is `{"id": "evt_...", "object": "event", "type", "created", "data": {"object": ...}}`.
The OMS handles disputes (`charge.dispute.*`), a refund that changed later
(`charge.refund.updated`), an authorisation cancelled or expired outside the OMS
(`payment_intent.canceled`) and a failed payment (`payment_intent.payment_failed`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from oms.adapters.stripe_payments import OWN_CANCELLATION, refund_status
from oms.services.canonical import UnmappablePayload

DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
                  "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated")
HANDLED = (*DISPUTE_EVENTS, "charge.refund.updated", "payment_intent.canceled", "payment_intent.payment_failed")


@dataclass(frozen=True)
class StripeEvent:
    event_id: str
    type: str
    created: int
    # The processor's ids the event is about, in the order to look them up (intent, then charge).
    references: list[str]
    order_id: str | None = None  # the OMS's own metadata on an intent it created
    dispute: dict | None = None
    refund: dict | None = None
    intent: dict = field(default_factory=dict)


class IgnoredStripeEvent(Exception):
    """An event type the OMS does not act on (acknowledged, so Stripe stops sending it)."""


def _id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def _moment(unix) -> str | None:
    if not isinstance(unix, int) or isinstance(unix, bool):
        return None
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


def _require(condition: bool, field_name: str, problem: str) -> None:
    if not condition:
        raise UnmappablePayload([{"field": field_name, "problem": problem}])


def read_event(data: dict) -> StripeEvent:
    event_id, kind, created = data.get("id"), data.get("type"), data.get("created")
    _require(isinstance(event_id, str) and event_id.startswith("evt_"), "id", "an event id (evt_...) is required")
    _require(isinstance(kind, str), "type", "an event type is required")
    _require(isinstance(created, int) and not isinstance(created, bool), "created", "a unix time is required")
    obj = (data.get("data") or {}).get("object") if isinstance(data.get("data"), dict) else None
    if kind not in HANDLED:
        raise IgnoredStripeEvent(kind)
    _require(isinstance(obj, dict), "data.object", "the event's object is required")
    if kind in DISPUTE_EVENTS:
        dispute = dispute_report(obj)
        refs = [r for r in (dispute["payment_intent_id"], dispute["charge_id"]) if r]
        return StripeEvent(event_id, kind, created, refs, dispute=dispute)
    if kind == "charge.refund.updated":
        refund = refund_report(obj)
        refs = [r for r in (refund["payment_intent_id"], refund["charge_id"]) if r]
        return StripeEvent(event_id, kind, created, refs, refund=refund)
    _require(isinstance(obj.get("id"), str), "data.object.id", "a payment intent id is required")
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    error = obj.get("last_payment_error") if isinstance(obj.get("last_payment_error"), dict) else {}
    return StripeEvent(event_id, kind, created, [obj["id"]], order_id=metadata.get("oms_order_id"), intent={
        "payment_intent_id": obj["id"], "key": metadata.get("oms_key"),
        "cancellation_reason": obj.get("cancellation_reason"),
        "cancelled_by_oms": obj.get("cancellation_reason") == OWN_CANCELLATION,
        "decline_code": error.get("decline_code") or error.get("code")})


def dispute_report(obj: dict) -> dict:
    """A Dispute object in the shape the order keeps (money in minor units, times in ISO)."""
    _require(isinstance(obj.get("id"), str), "data.object.id", "a dispute id is required")
    _require(isinstance(obj.get("amount"), int), "data.object.amount", "an amount in minor units is required")
    _require(isinstance(obj.get("status"), str), "data.object.status", "a status is required")
    _require(isinstance(obj.get("currency"), str), "data.object.currency", "a currency is required")
    charge, intent = _id(obj.get("charge")), _id(obj.get("payment_intent"))
    _require(bool(charge or intent), "data.object.charge", "the disputed charge or payment intent is required")
    balance = []
    for n, item in enumerate(obj.get("balance_transactions") or []):
        _require(isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("amount"), int),
                 f"data.object.balance_transactions[{n}]", "an id and an amount are required")
        fee = item.get("fee") if isinstance(item.get("fee"), int) else 0
        balance.append({"id": item["id"], "amount": item["amount"], "fee": fee,
                        "created": _moment(item.get("created"))})
    details = obj.get("evidence_details") if isinstance(obj.get("evidence_details"), dict) else {}
    return {"dispute_id": obj["id"], "status": obj["status"], "reason": obj.get("reason"), "amount": obj["amount"],
            "currency": obj["currency"].upper(), "evidence_due_by": _moment(details.get("due_by")),
            "opened_at": _moment(obj.get("created")), "charge_id": charge, "payment_intent_id": intent,
            "balance_transactions": balance}


def refund_report(obj: dict) -> dict:
    _require(isinstance(obj.get("id"), str), "data.object.id", "a refund id is required")
    _require(obj.get("status") in ("pending", "succeeded", "failed", "canceled", "requires_action"),
             "data.object.status", "a refund status is required")
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    status = refund_status(obj["status"])
    return {"refund_id": obj["id"], "status": status, "failure_reason": obj.get("failure_reason"),
            "payment_intent_id": _id(obj.get("payment_intent")), "charge_id": _id(obj.get("charge")),
            "key": metadata.get("oms_key")}
