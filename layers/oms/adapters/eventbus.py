"""Publishes committed history items to the EventBridge bus (the outbox's far side)."""
from __future__ import annotations

import json
import os
from functools import cache

SOURCE = "oms"


@cache
def _events_client():
    import boto3
    from botocore.config import Config

    # Well inside the publisher's 30 s: a slow bus fails the batch's rest for a retry, not the
    # whole invocation (which would publish, and count, the events before it again).
    return boto3.client("events", config=Config(connect_timeout=2, read_timeout=5,
                                                retries={"max_attempts": 3, "mode": "standard"}))


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
