"""EasyPost trackers as CarrierTracking: a tracker.created / tracker.updated Event, or a bare Tracker.

EasyPost documents its times as UTC; one without an offset is read as UTC."""
from __future__ import annotations

from oms.adapters.carriers import IgnoredEvent, moment, obj, place, problem, text, validated

TRACKER_EVENTS = {"tracker.created", "tracker.updated"}

# EasyPost's tracker statuses in the OMS's words. None: EasyPost does not know yet, so the
# checkpoint says nothing the OMS can act on and is left out.
STATUSES: dict[str, str | None] = {
    "unknown": None,
    "pre_transit": "info_received",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "available_for_pickup": "available_for_pickup",
    "return_to_sender": "returned_to_sender",
    # The parcel will not arrive as planned (lost, refused, label voided, carrier error): someone must look.
    "failure": "exception",
    "cancelled": "exception",
    "error": "exception",
}


def to_tracking(payload: dict) -> dict:
    """The tracker's whole history as checkpoints. Raises IgnoredEvent for other EasyPost
    events and UnmappablePayload for anything it cannot read."""
    tracker, where = _tracker(payload)
    checkpoints = _checkpoints(tracker, where)
    current = _current_status_checkpoint(tracker, where, checkpoints)
    if current:
        checkpoints.append(current)
    return validated({
        "tracking_number": text(tracker, "tracking_code", f"{where}tracking_code", required=True),
        "carrier": text(tracker, "carrier", f"{where}carrier"),
        "checkpoints": checkpoints,
        "estimated_delivery": text(tracker, "est_delivery_date", f"{where}est_delivery_date"),
        "signed_by": text(tracker, "signed_by", f"{where}signed_by"),
        "public_url": text(tracker, "public_url", f"{where}public_url"),
    })


def _tracker(payload) -> tuple[dict, str]:
    """The Tracker and the prefix that names its fields in problems."""
    payload = obj(payload, "body")
    kind = payload.get("object")
    if kind == "Tracker":
        return payload, ""
    if kind != "Event":
        raise problem("object", "must be 'Event' or 'Tracker'")
    description = text(payload, "description", "description", required=True)
    if description not in TRACKER_EVENTS:
        raise IgnoredEvent(f"EasyPost {description[:60]} events carry no tracking")
    result = obj(payload.get("result"), "result")
    if result.get("object") != "Tracker":
        raise problem("result.object", f"a {description} event's result must be a Tracker")
    return result, "result."


def _status(source: dict, field: str) -> str | None:
    status = text(source, "status", field, required=True)
    if status not in STATUSES:
        raise problem(field, f"unknown EasyPost status {status[:40]!r}")
    return STATUSES[status]


def _carrier_status(source: dict, where: str) -> str:
    status = text(source, "status", f"{where}status", required=True)
    detail = text(source, "status_detail", f"{where}status_detail")
    return f"{status}/{detail}" if detail else status


def _checkpoints(tracker: dict, where: str) -> list[dict]:
    details = tracker.get("tracking_details")
    if details is None:
        return []
    if not isinstance(details, list):
        raise problem(f"{where}tracking_details", "must be a list")
    mapped = (_checkpoint(detail, f"{where}tracking_details[{n}]") for n, detail in enumerate(details))
    return [checkpoint for checkpoint in mapped if checkpoint]


def _checkpoint(detail, where: str) -> dict | None:
    detail = obj(detail, where)
    status = _status(detail, f"{where}.status")
    if status is None:
        return None
    return {
        "status": status,
        "occurred_at": moment(detail.get("datetime"), f"{where}.datetime"),
        "description": (text(detail, "message", f"{where}.message")
                        or text(detail, "description", f"{where}.description") or ""),
        "location": _location(detail.get("tracking_location"), f"{where}.tracking_location"),
        "carrier_status": _carrier_status(detail, f"{where}."),
    }


def _location(location, where: str) -> str:
    if location is None:
        return ""
    location = obj(location, where)
    return place(*(text(location, key, f"{where}.{key}") for key in ("city", "state", "country", "zip")))


def _current_status_checkpoint(tracker: dict, where: str, checkpoints: list[dict]) -> dict | None:
    """EasyPost can move a tracker's status without a detail that says so (e.g. delivered with
    no tracking_details): then the status itself is a checkpoint, at the tracker's updated_at."""
    status = _status(tracker, f"{where}status")
    if status is None or any(c["status"] == status for c in checkpoints):
        return None
    return {"status": status, "occurred_at": moment(tracker.get("updated_at"), f"{where}updated_at"),
            "description": "", "location": "", "carrier_status": _carrier_status(tracker, where)}
