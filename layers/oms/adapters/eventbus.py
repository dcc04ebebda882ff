"""Publishes committed history items to the EventBridge bus (the outbox's far side)."""
from __future__ import annotations

import json
import os
from functools import cache

SOURCE = "oms"


@cache
def _events_client():
    import boto3

    return boto3.client("events")


def bus_entry(record: dict) -> dict:
    detail = {k: record[k] for k in ("event_id", "event_type", "occurred_at", "aggregate_id", "sequence", "data")}
    detail.update({k: record[k] for k in ("order_id", "correlation_id") if record.get(k)})
    return {"Source": SOURCE, "DetailType": record["event_type"], "Detail": json.dumps(detail),
            "EventBusName": os.environ["OMS_EVENT_BUS"]}


def put_events(records: list[dict]) -> list[str | None]:
    """Send up to 10 records (one call); returns, per record, EventBridge's error code or None."""
    response = _events_client().put_events(Entries=[bus_entry(r) for r in records])
    return [entry.get("ErrorCode") and f"{entry['ErrorCode']}: {entry.get('ErrorMessage')}"
            for entry in response["Entries"]]
