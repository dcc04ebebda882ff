"""The transactional outbox's publisher: history items committed to DynamoDB reach the
EventBridge bus from the table's stream, so no state change can lose its event. A batch's
events go out ten to a PutEvents call. Lambda retries the batch from the first event the bus
refused (ReportBatchItemFailures), so the events after it are published again: consumers are
idempotent by event id and none relies on the order events arrive in."""
from __future__ import annotations

import json

ENVELOPE = ("event_id", "event_type", "occurred_at", "aggregate_id", "sequence", "data")
CORRELATION = ("order_id", "correlation_id")
MAX_ENTRIES = 10  # PutEvents' limit per call
MAX_BYTES = 200_000  # under PutEvents' 256 KB per call, with room for the entries' other fields


def history_record(image: dict) -> dict | None:
    """The history item in a stream image, or None for any other item."""
    if not str(image.get("sk", "")).startswith("H#"):
        return None
    record = {"event_id": image["event_id"], "event_type": image["event_type"], "occurred_at": image["occurred_at"],
              "aggregate_id": image["aggregate_id"], "sequence": int(image["sequence"]),
              "data": json.loads(image["data"]) if isinstance(image["data"], str) else image["data"]}
    record.update({key: image[key] for key in CORRELATION if image.get(key)})
    return record


def _chunks(pending: list[tuple[str, dict]]):
    chunk, size = [], 0
    for sequence_number, history in pending:
        entry_size = len(json.dumps(history, default=str))
        if chunk and (len(chunk) == MAX_ENTRIES or size + entry_size > MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append((sequence_number, history))
        size += entry_size
    if chunk:
        yield chunk


def handle_table_stream(event) -> dict:
    from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

    from oms.adapters.eventbus import put_events
    from oms.observability import logs, metrics

    pending = []
    for record in DynamoDBStreamEvent(event.to_dict()).records:
        if record.event_name is None or record.event_name.name != "INSERT":
            continue
        if (history := history_record(record.dynamodb.new_image or {})) is not None:
            pending.append((record.dynamodb.sequence_number, history))
    first_failure = None  # every chunk is still sent: one refused event holds none of the others back
    for chunk in _chunks(pending):
        try:
            errors = put_events([history for _, history in chunk])
        except Exception:
            logs.logger.exception("the bus refused a batch of events; they are retried")
            errors = ["not sent"] * len(chunk)
        for (sequence_number, history), error in zip(chunk, errors, strict=True):
            logs.bind_event(history)
            if error:
                logs.logger.warning("the bus refused an event; it is retried", extra={"error": error})
                first_failure = first_failure or sequence_number
            elif first_failure is None:  # counted once: what follows a failure is published again
                metrics.count_event(history["event_type"], history["data"])
    return {"batchItemFailures": [{"itemIdentifier": first_failure}] if first_failure else []}
