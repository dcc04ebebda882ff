"""The transactional outbox's publisher: history items committed to DynamoDB reach the
EventBridge bus from the table's stream, so no state change can lose its event."""
from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response


class PublishFailed(Exception):
    """EventBridge refused an entry; the stream record is retried."""


def history_record(image: dict) -> dict | None:
    """The history item in a stream image, or None for any other item."""
    if not str(image.get("sk", "")).startswith("H#"):
        return None
    return {"event_id": image["event_id"], "event_type": image["event_type"], "occurred_at": image["occurred_at"],
            "aggregate_id": image["aggregate_id"], "sequence": int(image["sequence"]),
            "data": _json(image["data"])}


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def publish(record) -> None:
    from oms.adapters.eventbus import put_events

    if record.event_name is None or record.event_name.name != "INSERT":
        return
    history = history_record(record.dynamodb.new_image or {})
    if history is None:
        return
    error = put_events([history])[0]
    if error:
        raise PublishFailed(f"{history['event_id']}: {error}")


def handle_table_stream(event) -> dict:
    return process_partial_response(event=event.to_dict(), record_handler=publish,
                                    processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
                                    context=event.context)
