"""The stack's dead-letter queues in SQS, found at run time, and their redrive.

The queues are found from SQS itself, so the same code serves AWS and the local stack: every
queue named `oms-<stage>-...`, and among them the dead-letter queues: those a queue's
RedrivePolicy names (`deadLetterTargetArn`), plus any other `...-dlq`, which is the outbox's, the
DynamoDB stream's on-failure destination.

A consumer's DLQ holds EventBridge envelopes and goes back to its source queue: in AWS by SQS's
own message move task (`OMS_DLQ_REDRIVE=move_task`, the default); where SQS lacks it (moto has
no StartMessageMoveTask) by receiving, sending each body with its attributes to the source
queue and deleting it here (`OMS_DLQ_REDRIVE=copy`). The outbox's DLQ holds Lambda's failure
records of stream batches (shard, first and last sequence numbers): its redrive reads those
records from the stream again and publishes their history events to the bus, as the outbox
publisher would have."""
from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from oms.services.dead_letters import DeadLetter, DeadLetterQueue, Redrive, RedriveInProgress, order_concerned

REDRIVE_MODES = ("move_task", "copy")
# Errors that mean the stream no longer holds a batch (past its 24 hours, or the stream replaced).
STREAM_GONE = {"ResourceNotFoundException", "TrimmedDataAccessException", "ExpiredIteratorException",
               "ValidationException"}
QUEUE_GONE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
STREAM_ARN = re.compile(r"arn:[\w-]+:dynamodb:[\w-]+:\d{12}:table/[\w.-]{3,255}/stream/[\w:.-]{1,64}")
MAX_BATCH_BYTES = 240 * 1024  # SendMessageBatch takes 256 KiB in all; leave room for the attributes' names

# Redrives done here (copies, the outbox) running in this process: a second one is refused.
_running: set[str] = set()
_running_lock = threading.Lock()


def _error_code(error) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _text(value) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _sent_at(message: dict) -> str | None:
    try:
        millis = int(message.get("Attributes", {})["SentTimestamp"])
    except (KeyError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_object(body: str) -> dict | None:
    try:
        value = json.loads(body)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _batch_info(body: str) -> dict | None:
    """The stream batch a Lambda failure record names, if it names one."""
    info = (_json_object(body) or {}).get("DDBStreamBatchInfo")
    if not isinstance(info, dict) or not isinstance(info.get("streamArn"), str) or not STREAM_ARN.fullmatch(
            info["streamArn"]):
        return None
    start = info.get("startSequenceNumber")
    end = info.get("endSequenceNumber") or start  # the local runner gives up on one record at a time
    if not (isinstance(start, str) and isinstance(end, str) and start.isdigit() and end.isdigit()):
        return None
    return {**info, "startSequenceNumber": start, "endSequenceNumber": end}


def _attributes_to_send(message: dict) -> dict:
    """The message's own attributes, as SendMessage takes them (the list values SQS does not support yet)."""
    return {name: {k: v for k, v in attribute.items() if k in ("DataType", "StringValue", "BinaryValue")}
            for name, attribute in message.get("MessageAttributes", {}).items()}


def _size(message: dict) -> int:
    attributes = message.get("MessageAttributes", {})
    return len(message["Body"].encode()) + sum(
        len(name) + len(str(a.get("DataType", ""))) + len(a.get("StringValue") or a.get("BinaryValue") or b"")
        for name, a in attributes.items())


class SqsDeadLetterQueues:
    """oms.services.dead_letters.DeadLetterQueues over SQS (and the table's stream, for the outbox)."""

    PEEK_VISIBILITY_S = 5  # a peeked message is hidden at most this long, if putting it back fails
    MOVE_VISIBILITY_S = 60  # a message being redriven comes back after this if the redrive dies

    def __init__(self, stage: str, history: Callable[[dict], dict | None], *, sqs=None, streams=None,
                 publish: Callable[[list[dict]], list[str | None]] | None = None, mode: str = "move_task",
                 budget_s: float = 20.0):
        import boto3

        if mode not in REDRIVE_MODES:
            raise ValueError(f"OMS_DLQ_REDRIVE={mode}: expected one of {', '.join(REDRIVE_MODES)}")
        self.prefix = f"oms-{stage}-"
        self.history, self.mode, self.budget_s = history, mode, budget_s
        self.sqs = sqs or boto3.client("sqs")
        self._streams = streams
        self._publish = publish

    @classmethod
    def from_environment(cls, history: Callable[[dict], dict | None]) -> SqsDeadLetterQueues:
        return cls(os.environ["OMS_STAGE"], history, mode=os.environ.get("OMS_DLQ_REDRIVE") or "move_task")

    @property
    def streams(self):
        if self._streams is None:
            import boto3

            self._streams = boto3.client("dynamodbstreams")
        return self._streams

    def publish(self, records: list[dict]) -> list[str | None]:
        if self._publish is not None:
            return self._publish(records)
        from oms.adapters import eventbus

        return eventbus.put_events(records)

    # ---- finding the queues ----------------------------------------------------------------

    def all(self) -> list[DeadLetterQueue]:
        from botocore.exceptions import ClientError

        queues: dict[str, tuple[str, dict]] = {}  # ARN -> (URL, attributes)
        for page in self.sqs.get_paginator("list_queues").paginate(QueueNamePrefix=self.prefix):
            for url in page.get("QueueUrls", []):
                try:
                    attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                        "QueueArn", "RedrivePolicy", "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                except ClientError as error:
                    if _error_code(error) in QUEUE_GONE:  # deleted since it was listed
                        continue
                    raise
                queues[attributes["QueueArn"]] = (url, attributes)
        sources: dict[str, list[str]] = {}  # DLQ ARN -> the ARNs of the queues that send to it
        for arn, (_, attributes) in queues.items():
            target = (_json_object(attributes.get("RedrivePolicy") or "") or {}).get("deadLetterTargetArn")
            if target in queues:
                sources.setdefault(target, []).append(arn)
        found = []
        for arn, (url, attributes) in queues.items():
            name = arn.rsplit(":", 1)[-1]
            if arn not in sources and not name.endswith("-dlq"):
                continue
            # One source per DLQ in this stack's template; were there several, the first by name.
            source = min(sources.get(arn, []), key=lambda a: a.rsplit(":", 1)[-1], default=None)
            found.append(DeadLetterQueue(
                name=name[len(self.prefix):].removesuffix("-dlq"), dlq=name, dlq_url=url, dlq_arn=arn,
                source=source.rsplit(":", 1)[-1] if source else None, source_url=queues[source][0] if source else None,
                source_arn=source, depth=int(attributes.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))))
        return sorted(found, key=lambda q: q.name)

    def _depth(self, queue: DeadLetterQueue) -> int:
        return int(self.sqs.get_queue_attributes(QueueUrl=queue.dlq_url, AttributeNames=[
            "ApproximateNumberOfMessages"])["Attributes"].get("ApproximateNumberOfMessages", 0))

    # ---- the oldest message ----------------------------------------------------------------

    def oldest(self, queue: DeadLetterQueue) -> DeadLetter | None:
        # SQS keeps no order and a receive returns a sample, so "oldest" can only be looked for:
        # receive a batch (10, SQS's most) and take the smallest SentTimestamp; exact for up to
        # 10 messages, the oldest of a sample beyond. A receive with VisibilityTimeout=0 would
        # leave them visible, so repeated or concurrent receives (another peek, a redrive) keep
        # getting the same few; instead they are hidden for a few seconds (back by themselves
        # if we fail half-way) and made visible again at once (ChangeMessageVisibility 0).
        # WaitTimeSeconds=1: a short poll asks only some of SQS's servers and may find none.
        messages = self.sqs.receive_message(
            QueueUrl=queue.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=self.PEEK_VISIBILITY_S,
            WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return None
        self._make_visible(queue, messages)
        message = min(messages, key=lambda m: int(m.get("Attributes", {}).get("SentTimestamp", 0)))
        if queue.from_stream:
            return self._stream_dead_letter(message)
        envelope = _json_object(message["Body"]) or {}
        detail = envelope.get("detail") if isinstance(envelope.get("detail"), dict) else {}
        return DeadLetter(event_type=_text(detail.get("event_type")) or _text(envelope.get("detail-type")),
                          order_id=order_concerned(detail), event_id=_text(detail.get("event_id")),
                          sent_at=_sent_at(message))

    def _make_visible(self, queue: DeadLetterQueue, messages: list[dict]) -> None:
        for start in range(0, len(messages), 10):
            self.sqs.change_message_visibility_batch(QueueUrl=queue.dlq_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(messages[start:start + 10])])

    def _stream_dead_letter(self, message: dict) -> DeadLetter:
        """The first history event of the failed batch, if the stream still holds it."""
        for image in self._history_images(self._stream_records(_batch_info(message["Body"])) or []):
            try:
                history = self.history(image)
            except (KeyError, TypeError, ValueError):
                continue
            if history is not None:
                return DeadLetter(event_type=_text(history.get("event_type")),
                                  order_id=order_concerned({**history, "order_id": image.get("order_id")}),
                                  event_id=_text(history.get("event_id")), sent_at=_sent_at(message))
        return DeadLetter(event_type=None, order_id=None, event_id=None, sent_at=_sent_at(message))

    # ---- reading the stream again -----------------------------------------------------------

    def _stream_records(self, info: dict | None) -> list[dict] | None:
        """The batch's records, from its first sequence number to its last; None when the
        stream no longer holds them."""
        from botocore.exceptions import ClientError, ParamValidationError

        if info is None:
            return None
        arn, start, end = info["streamArn"], int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        try:
            if isinstance(info.get("shardId"), str):  # Lambda names the shard; the local runner does not
                shards = [info["shardId"]]
            else:
                description = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]
                shards = [s["ShardId"] for s in description["Shards"]]
        except ParamValidationError:  # not a shard or sequence number DynamoDB Streams would know
            return None
        except ClientError as error:
            if _error_code(error) in STREAM_GONE:
                return None
            raise
        for shard in shards:
            records: list[dict] = []
            try:
                iterator = self.streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
                for _ in range(100):  # pages; a failed batch is at most 10,000 records
                    page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                    batch = page.get("Records", [])
                    records += [r for r in batch if start <= int(r["dynamodb"]["SequenceNumber"]) <= end]
                    iterator = page.get("NextShardIterator")
                    if not batch or not iterator or int(batch[-1]["dynamodb"]["SequenceNumber"]) >= end:
                        break
            except ParamValidationError:
                return None
            except ClientError as error:
                if _error_code(error) not in STREAM_GONE:
                    raise
            if records and int(records[0]["dynamodb"]["SequenceNumber"]) == start:
                return records
        return None

    @staticmethod
    def _history_images(records: list[dict]) -> list[dict]:
        """The new images of the inserts, as the outbox publisher reads them (plain values)."""
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        return [{k: deserializer.deserialize(v) for k, v in r["dynamodb"].get("NewImage", {}).items()}
                for r in records if r.get("eventName") == "INSERT"]

    # ---- redrive ----------------------------------------------------------------------------

    def redrive(self, queue: DeadLetterQueue) -> Redrive:
        if queue.from_stream:
            return self._alone(queue, self._publish_again)
        if self.mode == "move_task":
            return self._start_move_task(queue)
        return self._alone(queue, self._move_back)

    def _start_move_task(self, queue: DeadLetterQueue) -> Redrive:
        tasks = self.sqs.list_message_move_tasks(SourceArn=queue.dlq_arn, MaxResults=10).get("Results", [])
        if any(task.get("Status") == "RUNNING" for task in tasks):
            raise RedriveInProgress(queue.name)
        handle = self.sqs.start_message_move_task(SourceArn=queue.dlq_arn,
                                                  DestinationArn=queue.source_arn)["TaskHandle"]
        return Redrive(queue, task_handle=handle)

    @staticmethod
    def _alone(queue: DeadLetterQueue, work: Callable[[DeadLetterQueue], Redrive]) -> Redrive:
        with _running_lock:
            if queue.dlq_arn in _running:
                raise RedriveInProgress(queue.name)
            _running.add(queue.dlq_arn)
        try:
            return work(queue)
        finally:
            with _running_lock:
                _running.discard(queue.dlq_arn)

    def _receive(self, queue: DeadLetterQueue) -> list[dict]:
        """Up to 10 messages, hidden while they are redriven."""
        args = {"QueueUrl": queue.dlq_url, "MaxNumberOfMessages": 10, "VisibilityTimeout": self.MOVE_VISIBILITY_S,
                "AttributeNames": ["All"], "MessageAttributeNames": ["All"]}
        messages = self.sqs.receive_message(WaitTimeSeconds=0, **args).get("Messages", [])
        if not messages and self._depth(queue):  # a short poll asks some servers only: ask them all
            messages = self.sqs.receive_message(WaitTimeSeconds=1, **args).get("Messages", [])
        return messages

    def _delete(self, queue: DeadLetterQueue, messages: list[dict]) -> None:
        for start in range(0, len(messages), 10):
            self.sqs.delete_message_batch(QueueUrl=queue.dlq_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages[start:start + 10])])

    def _move_back(self, queue: DeadLetterQueue) -> Redrive:
        """Each message to the source queue (body and attributes), then off the DLQ; a message
        sent but not deleted (a crash between) is delivered twice, which consumers absorb."""
        deadline, moved = time.monotonic() + self.budget_s, 0
        while time.monotonic() < deadline:
            messages = self._receive(queue)
            if not messages:
                break
            sent = []
            for batch in self._batches(messages):
                result = self.sqs.send_message_batch(QueueUrl=queue.source_url, Entries=[
                    {"Id": str(n), "MessageBody": m["Body"], "MessageAttributes": _attributes_to_send(m)}
                    for n, m in enumerate(batch)])
                ok = {entry["Id"] for entry in result.get("Successful", [])}
                sent += [m for n, m in enumerate(batch) if str(n) in ok]
            self._delete(queue, sent)
            moved += len(sent)
            if len(sent) < len(messages):  # the source queue refused some: they stay, visible, for the next try
                self._make_visible(queue, [m for m in messages if m not in sent])
                break
        return Redrive(queue, moved=moved, remaining=self._depth(queue))

    @staticmethod
    def _batches(messages: list[dict]) -> list[list[dict]]:
        batches: list[list[dict]] = [[]]
        for message in messages:
            if batches[-1] and sum(map(_size, batches[-1])) + _size(message) > MAX_BATCH_BYTES:
                batches.append([])
            batches[-1].append(message)
        return batches

    def _publish_again(self, queue: DeadLetterQueue) -> Redrive:
        """Each failed batch's history events to the bus again, then its record off the DLQ.
        Batches the stream no longer holds, or the bus refused, stay on the DLQ."""
        deadline, moved, published = time.monotonic() + self.budget_s, 0, 0
        left: dict[str, dict] = {}
        try:
            while time.monotonic() < deadline:
                messages = [m for m in self._receive(queue) if m["MessageId"] not in left]
                if not messages:
                    break
                done = []
                for message in messages:
                    records = self._stream_records(_batch_info(message["Body"]))
                    events = None if records is None else [
                        h for h in map(self.history, self._history_images(records)) if h is not None]
                    if events is None or not self._published(events):
                        left[message["MessageId"]] = message
                        continue
                    published += len(events)
                    done.append(message)
                self._delete(queue, done)
                moved += len(done)
        finally:
            self._make_visible(queue, list(left.values()))  # for the list, and the next redrive
        return Redrive(queue, moved=moved, events_published=published, left=len(left),
                       remaining=self._depth(queue))

    def _published(self, events: list[dict]) -> bool:
        """All of them put on the bus, ten (and under PutEvents' 256 KB) to a call."""
        chunks: list[list[dict]] = [[]]
        size = 0
        for event in events:
            event_size = len(json.dumps(event, default=str))
            if chunks[-1] and (len(chunks[-1]) == 10 or size + event_size > MAX_BATCH_BYTES):
                chunks.append([])
                size = 0
            chunks[-1].append(event)
            size += event_size
        return not any(error for chunk in chunks if chunk for error in self.publish(chunk))
