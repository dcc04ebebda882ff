"""The local event-source runner: what Lambda's event-source mappings and EventBridge
schedules do in AWS, done against moto. It polls every queue and stream that template.yaml
maps to a handler declared in app.py and invokes that handler with a Lambda-shaped event:
SQS batches with distinct messageIds (failed records stay on the queue, reappear after the
visibility timeout and go to the DLQ by the queue's redrive policy), stream batches retried
from the first failed record then sent to the on-failure destination, and schedules fired
on their rate."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import boto3
from botocore.config import Config
from chalice.app import Rate

from .cfn import camel, logical_id_of

log = logging.getLogger("oms.local.runner")


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, timeout_s: int = 30):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    name: str
    handler: Callable

    def __call__(self, event: dict) -> dict | None:
        return self.handler(event, LambdaContext(self.name))


class _Loop(threading.Thread):
    def __init__(self, name: str, stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self.stop = stop

    def run(self) -> None:
        # Idle pollers back off (50 ms doubling to 400 ms), as Lambda's long polling would,
        # so that empty receives do not take the serialised moto server's time from real work.
        pause = 0.05
        try:
            while not self.stop.is_set():
                try:
                    busy = self.tick()
                except Exception:  # a broken poll must not kill the stack; log and go on
                    log.exception("%s failed", self.name)
                    busy = False
                pause = 0.05 if busy else min(0.4, pause * 2)
                if not busy:
                    self.stop.wait(pause)
        finally:
            if not self.stop.is_set():
                log.error("%s stopped unexpectedly", self.name)

    @abstractmethod
    def tick(self) -> bool:
        """Do one round of work; say whether there was any (idle loops back off)."""


class SqsPoller(_Loop):
    RECEIVE_MAX = 10  # SQS's most messages per ReceiveMessage

    def __init__(self, stop, invoke: Invocation, queue_url: str, queue_arn: str, batch_size: int, region: str,
                 sqs=None):
        super().__init__(f"sqs:{invoke.name}", stop)
        self.invoke, self.queue_url, self.queue_arn, self.batch_size = invoke, queue_url, queue_arn, batch_size
        self.region = region
        self.sqs = sqs or boto3.client("sqs", region_name=region)
        # A batch larger than one receive is gathered over several, as Lambda's poller does; but
        # with no visibility timeout (the integration tests') a second receive would only give
        # the same messages again, and count another receive of each towards the DLQ.
        self.gathers = batch_size > self.RECEIVE_MAX and int(self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"]) > 0

    def _receive(self) -> list[dict]:
        """Up to the batch size: receive again while the queue keeps giving as many as asked for."""
        batch: dict[str, dict] = {}
        while True:
            wanted = min(self.RECEIVE_MAX, self.batch_size - len(batch))
            # No long polling: the local moto server handles one request at a time.
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=wanted,
                                                AttributeNames=["All"], MessageAttributeNames=["All"],
                                                WaitTimeSeconds=0).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in batch]
            batch.update((m["MessageId"], m) for m in messages)  # a message seen again: its newest receipt
            if not self.gathers or len(fresh) < wanted or len(batch) >= self.batch_size:
                return list(batch.values())

    def tick(self) -> bool:
        messages = self._receive()
        if not messages:
            return False
        event = {"Records": [self._record(m) for m in messages]}
        try:
            result = self.invoke(event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            log.exception("%s raised; the whole batch will be redelivered", self.invoke.name)
            return True
        if failed:
            log.warning("%s: %d of %d records failed and will be redelivered", self.invoke.name, len(failed),
                        len(messages))
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[start:start + 10])])
        return True

    def _record(self, message: dict) -> dict:
        return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"], "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}), "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn, "awsRegion": self.region}


class StreamPoller(_Loop):
    def __init__(self, stop, invoke: Invocation, stream_arn: str, batch_size: int, region: str,
                 max_retries: int = 10, failure_queue_url: str | None = None, sqs=None):
        super().__init__(f"stream:{invoke.name}", stop)
        self.invoke, self.stream_arn, self.batch_size, self.region = invoke, stream_arn, batch_size, region
        self.max_retries, self.failure_queue_url = max_retries, failure_queue_url
        self.streams = boto3.client("dynamodbstreams", region_name=region)
        self.sqs = sqs or boto3.client("sqs", region_name=region)
        self.checkpoints: dict[str, str] = {}

    def tick(self) -> bool:
        # Each round starts from a fresh iterator after the last delivered record, as Lambda
        # does from its checkpoint (moto swaps a table's stream shard object when it rolls a
        # cancelled transaction back, which strands an old iterator).
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        busy = False
        for shard in shards:
            shard_id = shard["ShardId"]
            position = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.checkpoints[shard_id]}
                        if shard_id in self.checkpoints else {"ShardIteratorType": "TRIM_HORIZON"})
            iterator = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                       **position)["ShardIterator"]
            page = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = [{**r, "eventSourceARN": self.stream_arn} for r in page.get("Records", [])]
            if records:
                self._deliver(records)
                self.checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                busy = True
        return busy

    def _deliver(self, records: list[dict]) -> None:
        attempts = 0
        while records:
            try:
                result = self.invoke({"Records": records}) or {}
                failed = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
            except Exception:
                log.exception("%s raised", self.invoke.name)
                failed = [records[0]["dynamodb"]["SequenceNumber"]]
            if not failed:
                return
            log.warning("%s: records from %s failed and will be retried", self.invoke.name, min(failed))
            sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
            first_failed = min(sequence.index(s) for s in failed if s in sequence)
            records = records[first_failed:]
            attempts = 1 if first_failed else attempts + 1  # the checkpoint moved: a new batch
            if attempts > self.max_retries:
                self._give_up(records[0])
                records, attempts = records[1:], 0
            else:
                self.stop.wait(min(2.0, 0.05 * 2 ** attempts))

    def _give_up(self, record: dict) -> None:
        log.error("stream record %s sent to the on-failure destination", record["dynamodb"]["SequenceNumber"])
        if self.failure_queue_url:
            self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(
                {"requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.invoke.name},
                 "DDBStreamBatchInfo": {"streamArn": self.stream_arn,
                                        "startSequenceNumber": record["dynamodb"]["SequenceNumber"]}}))


class ScheduleFirer(_Loop):
    def __init__(self, stop, invoke: Invocation, every_s: float, region: str):
        super().__init__(f"schedule:{invoke.name}", stop)
        self.invoke, self.every_s, self.region = invoke, every_s, region
        self.next_at = time.monotonic() + every_s

    def tick(self) -> bool:
        if time.monotonic() < self.next_at:
            self.stop.wait(min(1.0, self.next_at - time.monotonic()))
            return True
        self.next_at += self.every_s
        self.invoke({"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                     "source": "aws.events", "account": "123456789012",
                     "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": self.region,
                     "resources": [f"arn:aws:events:{self.region}:123456789012:rule/{self.invoke.name}"],
                     "detail": {}})
        return True


# Schedules whose local rate a setting may change (the SLA sweep runs every minute in AWS).
LOCAL_RATES = {"handle_sla_sweep": "OMS_SLA_SWEEP_SECONDS", "handle_reservation_sweep": "OMS_RESERVATION_SWEEP_SECONDS",
               "handle_availability_sweep": "OMS_AVAILABILITY_SWEEP_SECONDS"}


def rate_seconds(expression) -> float:
    if isinstance(expression, Rate):
        unit = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}[expression.unit]
        return expression.value * unit
    raise ValueError(f"the local runner fires rate schedules only, not {expression!r}")


def build_pollers(app_module, template: dict, resolver, region: str, stop: threading.Event,
                  concurrency: int = 2) -> list[_Loop]:
    """Match template.yaml's event sources to app.py's handlers by Chalice's logical ids."""
    sources = {camel(s.name): s for s in app_module.app.event_sources}
    loops: list[_Loop] = []
    # One client for every poller (clients are thread-safe, and slow to make), with a connection each.
    sqs = boto3.client("sqs", region_name=region, config=Config(max_pool_connections=64))
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        events = resource.get("Properties", {}).get("Events", {})
        for event in events.values():
            props = event.get("Properties", {})
            source = sources[logical_id]
            invoke = Invocation(source.name, getattr(app_module, source.name))
            if "Queue" in props:
                queue = logical_id_of(props["Queue"])
                for _ in range(concurrency):
                    loops.append(SqsPoller(stop, invoke, resolver.ref(queue), resolver.get_att(queue, "Arn"),
                                           source.batch_size, region, sqs))
            elif "Stream" in props:
                table = logical_id_of(props["Stream"])
                destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                loops.append(StreamPoller(stop, invoke, resolver.get_att(table, "StreamArn"), source.batch_size,
                                          region, props.get("MaximumRetryAttempts", 10),
                                          resolver.ref(logical_id_of(destination)) if destination else None, sqs))
    for source in app_module.app.event_sources:
        if hasattr(source, "schedule_expression"):
            invoke = Invocation(source.name, getattr(app_module, source.name))
            setting = os.environ.get(LOCAL_RATES.get(source.name, ""))
            every = float(setting) if setting else rate_seconds(source.schedule_expression)
            loops.append(ScheduleFirer(stop, invoke, every, region))
    return loops
