"""The outbox publisher over a stream batch: ten events a PutEvents call, a refused event
reported for Lambda to retry from, and the others still sent and counted once."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "events/samples/dynamodb-stream-history-insert.json").read_text())["Records"][0]


class _Event:
    def __init__(self, records):
        self.records = records

    def to_dict(self):
        return {"Records": self.records}


def _batch(count: int) -> list[dict]:
    records = []
    for n in range(1, count + 1):
        record = copy.deepcopy(SAMPLE)
        image = record["dynamodb"]["NewImage"]
        image["sk"]["S"], image["sequence"]["N"] = f"H#{n:08d}", str(n)
        image["event_id"]["S"] = f"o192fca31a409c3e5b7d1f2a4c6e:{n}"
        record["dynamodb"]["SequenceNumber"] = f"{1000 + n}"
        records.append(record)
    records.append({**copy.deepcopy(SAMPLE), "eventName": "MODIFY"})  # the order item itself: not an event
    return records


def test_a_refused_event_is_retried_from_and_the_rest_still_go_out(monkeypatch, capsys):
    from functions import outbox
    from oms.adapters import eventbus

    monkeypatch.setenv("OMS_EVENT_BUS", "oms-test")
    calls = []

    def put_events(records):
        calls.append([r["event_id"] for r in records])
        return ["ThrottlingException: slow down" if r["sequence"] == 3 else None for r in records]

    monkeypatch.setattr(eventbus, "put_events", put_events)
    assert DynamoDBStreamEvent({"Records": _batch(12)})  # the shape Lambda gives
    answer = outbox.handle_table_stream(_Event(_batch(12)))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "1003"}]}
    assert [len(call) for call in calls] == [10, 2]  # every event was sent, ten to a call
    counted = [line for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert len(counted) == 2  # the two before the refusal; the rest are counted when published again


def test_a_bus_that_does_not_answer_fails_the_batch_from_its_first_event(monkeypatch):
    from functions import outbox
    from oms.adapters import eventbus

    def down(records):
        raise ConnectionError("the bus is not answering")

    monkeypatch.setattr(eventbus, "put_events", down)
    assert outbox.handle_table_stream(_Event(_batch(3))) == {"batchItemFailures": [{"itemIdentifier": "1001"}]}
    assert outbox.handle_table_stream(_Event([])) == {"batchItemFailures": []}
