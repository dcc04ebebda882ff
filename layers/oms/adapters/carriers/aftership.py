"""AfterShip tracking webhooks as CarrierTracking: API v4 and the dated versions (2024-04 on).

Body: {"event": "tracking_update", "event_id", "is_tracking_first_tag", "msg": <Tracking>, "ts": <unix s>}.
Both versions are read by one mapper: where a field was renamed, either name is accepted.

Times: a checkpoint_time is the carrier's local time as the carrier gave it: "YYYY-MM-DD",
"YYYY-MM-DDTHH:mm:ss" (no offset) or with an offset. Without an offset it is read as UTC,
deliberately: the wall-clock time the customer sees on the carrier's page is kept, the error is
at most the place's UTC offset, and a parcel's checkpoints keep their order (a carrier sends them
all in one form). The alternatives are worse: the checkpoint's created_at or the webhook's ts
say when AfterShip heard, which for a carrier that reports in batches is hours later and gives
a whole batch one instant."""
from __future__ import annotations

from datetime import UTC, datetime

from oms.adapters.carriers import IgnoredEvent, moment, obj, place, problem, text, validated

TRACKING_EVENTS = {"tracking_update"}

# AfterShip's delivery statuses (tags) in the OMS's words. None: AfterShip has no tracking
# from the carrier yet, so there is nothing to record.
TAGS: dict[str, str | None] = {
    "Pending": None,
    "InfoReceived": "info_received",
    "InTransit": "in_transit",
    "OutForDelivery": "out_for_delivery",
    "AttemptFail": "attempt_failed",
    "Delivered": "delivered",
    "AvailableForPickup": "available_for_pickup",
    "Exception": "exception",
    "Expired": "expired",
}

# The Exception subtags AfterShip documents as returns: Exception_010 "Returning to sender" (on
# its way back) and Exception_011 "Returned to sender" (received back). Either way the parcel will
# not reach the customer, as with EasyPost's return_to_sender. Other subtags are not checked, so
# new ones (AfterShip adds them) map by their tag.
RETURN_SUBTAGS = {"Exception_010", "Exception_011"}


def to_tracking(payload: dict) -> dict:
    """The tracking's checkpoints (AfterShip sends the whole history). Raises IgnoredEvent for
    other AfterShip events and UnmappablePayload for anything it cannot read."""
    msg = _tracking(payload)
    checkpoints = _checkpoints(msg)
    current = _current_status_checkpoint(payload, msg, checkpoints)
    if current:
        checkpoints.append(current)
    return validated({
        "tracking_number": text(msg, "tracking_number", "msg.tracking_number", required=True),
        "carrier": text(msg, "slug", "msg.slug"),
        "checkpoints": checkpoints,
        "estimated_delivery": _estimated_delivery(msg),
        "signed_by": text(msg, "signed_by", "msg.signed_by"),
        "public_url": text(msg, "courier_tracking_link", "msg.courier_tracking_link"),
    })


def _tracking(payload) -> dict:
    payload = obj(payload, "body")
    event = text(payload, "event", "event", required=True)
    if event not in TRACKING_EVENTS:
        raise IgnoredEvent(f"AfterShip {event[:60]} events are not acted on")
    return obj(payload.get("msg"), "msg")


def _status(source: dict, where: str) -> tuple[str | None, str]:
    """The OMS status and AfterShip's own code (the subtag, else the tag)."""
    tag = text(source, "tag", f"{where}tag", required=True)
    if tag not in TAGS:
        raise problem(f"{where}tag", f"unknown AfterShip tag {tag[:40]!r}")
    subtag = text(source, "subtag", f"{where}subtag")
    status = "returned_to_sender" if tag == "Exception" and subtag in RETURN_SUBTAGS else TAGS[tag]
    return status, subtag or tag


def _checkpoints(msg: dict) -> list[dict]:
    raw = msg.get("checkpoints")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise problem("msg.checkpoints", "must be a list")
    mapped = (_checkpoint(checkpoint, f"msg.checkpoints[{n}].") for n, checkpoint in enumerate(raw))
    return [checkpoint for checkpoint in mapped if checkpoint]


def _checkpoint(checkpoint, where: str) -> dict | None:
    checkpoint = obj(checkpoint, where.rstrip("."))
    status, carrier_status = _status(checkpoint, where)
    if status is None:
        return None
    return {
        "status": status,
        "occurred_at": moment(checkpoint.get("checkpoint_time"), f"{where}checkpoint_time"),
        "description": (text(checkpoint, "message", f"{where}message")
                        or text(checkpoint, "subtag_message", f"{where}subtag_message") or ""),
        "location": _location(checkpoint, where),
        "carrier_status": carrier_status,
    }


def _first_text(source: dict, keys: tuple[str, ...], where: str) -> str | None:
    return next((value for key in keys if (value := text(source, key, f"{where}{key}"))), None)


def _location(checkpoint: dict, where: str) -> str:
    """From the structured fields (v4 names, then the renamed ones), else the carrier's own text."""
    structured = place(text(checkpoint, "city", f"{where}city"), text(checkpoint, "state", f"{where}state"),
                       _first_text(checkpoint, ("country_iso3", "country_region", "country_name",
                                                "country_region_name"), where),
                       _first_text(checkpoint, ("zip", "postal_code"), where))
    return structured or (text(checkpoint, "location", f"{where}location") or "")


def _estimated_delivery(msg: dict) -> str | None:
    """v4's expected_delivery; the dated versions' latest_estimated_delivery (its end when a range)."""
    expected = text(msg, "expected_delivery", "msg.expected_delivery")
    if expected or msg.get("latest_estimated_delivery") is None:
        return expected
    latest = obj(msg["latest_estimated_delivery"], "msg.latest_estimated_delivery")
    return _first_text(latest, ("datetime", "datetime_max"), "msg.latest_estimated_delivery.")


def _current_status_checkpoint(payload: dict, msg: dict, checkpoints: list[dict]) -> dict | None:
    """A tracking whose tag no checkpoint shows (none yet, or Expired) gets one checkpoint for
    the tag, at msg.updated_at, else at the webhook's ts."""
    status, carrier_status = _status(msg, "msg.")
    if status is None or any(c["status"] == status for c in checkpoints):
        return None
    return {"status": status, "occurred_at": _updated_at(payload, msg), "description": "",
            "location": "", "carrier_status": carrier_status}


def _updated_at(payload: dict, msg: dict) -> datetime:
    if msg.get("updated_at") is not None:
        return moment(msg["updated_at"], "msg.updated_at")
    ts = payload.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise problem("ts", "msg.updated_at or ts (unix seconds) is required")
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        raise problem("ts", "must be unix seconds") from None
