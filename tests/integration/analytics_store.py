"""The analytics store for integration tests: moto in-process, plus moto's server on a free port
(the same backends) so that DuckDB's S3 reads, which are its own HTTP client, reach it too."""
from __future__ import annotations

import json
import socket
import uuid
from contextlib import contextmanager

BUCKET = "oms-test-analytics-123456789012"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def analytics_store(monkeypatch, provisioned: bool = False):
    """`provisioned`: the template's resources will be made (by the Pipeline), so only the
    environment is set here, to the template's names."""
    import boto3
    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    with mock_aws():
        server = ThreadedMotoServer(port=free_port(), verbose=False)
        server.start()
        try:
            monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server._port}")
            monkeypatch.setenv("OMS_ANALYTICS_BUCKET", BUCKET)
            monkeypatch.setenv("OMS_ANALYTICS_ENGINE", "duckdb")
            sqs = boto3.client("sqs")
            if not provisioned:
                boto3.client("s3").create_bucket(Bucket=BUCKET)
            for name, variable in (("analytics", "OMS_ANALYTICS_QUEUE_URL"),
                                   ("analytics-jobs", "OMS_ANALYTICS_JOBS_QUEUE_URL")):
                url = (f"https://sqs.us-east-1.amazonaws.com/123456789012/oms-test-{name}" if provisioned
                       else sqs.create_queue(QueueName=f"oms-test-{name}")["QueueUrl"])
                monkeypatch.setenv(variable, url)
            yield
        finally:
            server.stop()


def sqs_event(bodies: list[dict], receive_count: int = 1):
    """A Lambda SQS batch as Chalice hands it to a handler."""
    from chalice.app import SQSEvent

    records = [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:oms-test-analytics", "awsRegion": "us-east-1"}
               for body in bodies]
    return SQSEvent({"Records": records}, None)


def bus_event(kind: str, aggregate_id: str, sequence: int, occurred_at: str, data: dict) -> dict:
    """An event as the outbox publishes it to EventBridge."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": kind, "source": "oms",
            "detail": {"event_id": f"{aggregate_id}:{sequence}", "event_type": kind, "occurred_at": occurred_at,
                       "aggregate_id": aggregate_id, "sequence": sequence, "data": data}}


def deliver(events: list[dict]) -> dict:
    from functions.analytics import handle_facts

    return handle_facts(sqs_event(events))


def drain_facts_queue() -> int:
    """Move what the history import queued through the facts writer, as the queue's Lambda would."""
    import os

    import boto3

    sqs, moved = boto3.client("sqs"), 0
    while True:
        messages = sqs.receive_message(QueueUrl=os.environ["OMS_ANALYTICS_QUEUE_URL"], MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return moved
        deliver([json.loads(m["Body"]) for m in messages])
        for message in messages:
            sqs.delete_message(QueueUrl=os.environ["OMS_ANALYTICS_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])
        moved += len(messages)
