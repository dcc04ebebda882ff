"""Dead-letter queues for operators: `GET /ops/dead-letters` lists every DLQ of the stack (found
in SQS at run time) with its depth and its oldest message; `POST /ops/dead-letters/{queue}/redrive`
puts the messages back: a consumer's into its queue, the outbox's failed stream batches onto the
bus. Failures reach the DLQs the real way: the queues' redrive policies from template.yaml, and the
runner's on-failure destination for the stream."""
from __future__ import annotations

import json
import time

import boto3
import pytest

from tests.support.harness import OPS
from tests.support.orders import canonical_order


def _listing(api) -> dict[str, dict]:
    response = api.ops("GET", "/ops/dead-letters")
    assert response.status_code == 200, response.body
    return {queue["queue"]: queue for queue in response.json_body["dead_letters"]}


def _redrive(api, queue: str, status: int = 200) -> dict:
    response = api.ops("POST", f"/ops/dead-letters/{queue}/redrive")
    assert response.status_code == status, response.body
    return response.json_body


def _envelope(event_type: str, aggregate_id: str, data: dict | None = None, **extra) -> str:
    """A message as EventBridge puts an outbox event on a consumer's queue."""
    detail = {"event_id": f"{aggregate_id}:1", "event_type": event_type, "occurred_at": "2026-11-26T10:00:00Z",
              "aggregate_id": aggregate_id, "sequence": 1, "data": data or {}, **extra}
    return json.dumps({"version": "0", "id": "8b3e7c5e-0000-4000-8000-000000000000", "detail-type": event_type,
                       "source": "oms", "account": "123456789012", "time": "2026-11-26T10:00:00Z",
                       "region": "us-east-1", "resources": [], "detail": detail})


def _stream_poller(api):
    return next(loop for loop in api.pipeline.loops if loop.name.startswith("stream:"))


def _stream_records(api) -> list[dict]:
    streams = boto3.client("dynamodbstreams")
    arn = _stream_poller(api).stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [{**r, "shardId": shard} for r in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]]


@pytest.fixture
def published(monkeypatch):
    """Every event put on the bus, as it goes."""
    from oms.adapters import eventbus

    events, real = [], eventbus.put_events

    def recording(records):
        events.extend(records)
        return real(records)

    monkeypatch.setattr(eventbus, "put_events", recording)
    return events


# ---- the list ------------------------------------------------------------------------------

def test_every_dead_letter_queue_of_the_template_is_listed_empty(api):
    resources = api.pipeline.template["Resources"]
    expected = {api.pipeline.resolver.get_att(logical_id, "QueueName") for logical_id, resource in resources.items()
                if resource["Type"] == "AWS::SQS::Queue" and logical_id.endswith("DeadLetterQueue")}
    listing = _listing(api)
    assert {queue["dlq"] for queue in listing.values()} == expected
    assert {"validation", "payments", "channel-updates", "imports", "analytics-jobs", "outbox"} <= set(listing)
    assert listing["validation"] == {"queue": "validation", "dlq": "oms-test-validation-dlq",
                                     "source": "oms-test-validation", "depth": 0, "in_flight": 0, "oldest": None}
    assert listing["channel-updates"]["source"] == "oms-test-channel-updates"
    assert listing["outbox"]["source"] is None  # a stream's on-failure destination, not a queue's
    assert all(queue["depth"] == 0 and queue["oldest"] is None for queue in listing.values())


def test_the_oldest_message_says_its_event_and_order_and_stays_on_the_queue(api):
    sqs = boto3.client("sqs")
    payments = api.pipeline.resolver.ref("PaymentsDeadLetterQueue")
    oldest_order, newer_order = "o019a0000000000aaaaaaaaaaaaaaaa"[:27], "o019a0000000000bbbbbbbbbbbbbbbb"[:27]
    sqs.send_message(QueueUrl=payments, MessageBody=_envelope("OrderAllocated", oldest_order))
    time.sleep(0.01)  # SentTimestamp is in milliseconds
    for _ in range(3):
        sqs.send_message(QueueUrl=payments, MessageBody=_envelope("PaymentAuthorized", newer_order))
    # Other shapes: a stock event (no order), a return's (its order in data), not an event at all.
    sqs.send_message(QueueUrl=api.pipeline.resolver.ref("AllocationDeadLetterQueue"),
                     MessageBody=_envelope("InventoryAdjusted", "SKU-1@WH1", {"sku": "SKU-1"}))
    sqs.send_message(QueueUrl=api.pipeline.resolver.ref("ReturnsDeadLetterQueue"),
                     MessageBody=_envelope("ReturnRequested", "r019a0000000000cccccccccccccccc"[:27],
                                           {"order_id": oldest_order}))
    sqs.send_message(QueueUrl=api.pipeline.resolver.ref("ImportsDeadLetterQueue"),
                     MessageBody=json.dumps({"Records": [{"eventSource": "aws:s3"}]}))
    sqs.send_message(QueueUrl=api.pipeline.resolver.ref("ServiceDeadLetterQueue"), MessageBody="not json {")

    listing = _listing(api)
    assert listing["payments"]["depth"] == 4
    oldest = listing["payments"]["oldest"]
    assert {k: oldest[k] for k in ("event_type", "order_id", "event_id")} == {
        "event_type": "OrderAllocated", "order_id": oldest_order, "event_id": f"{oldest_order}:1"}
    assert oldest["sent_at"].endswith("Z")
    assert listing["allocation"]["oldest"]["event_type"] == "InventoryAdjusted"
    assert listing["allocation"]["oldest"]["order_id"] is None
    assert listing["returns"]["oldest"]["order_id"] == oldest_order
    for queue in ("imports", "service"):  # messages that do not say
        assert listing[queue]["depth"] == 1
        assert {k: v for k, v in listing[queue]["oldest"].items() if k != "sent_at"} == {
            "event_type": None, "order_id": None, "event_id": None}
    # Looking consumed nothing and hid nothing: the messages are visible again at once.
    assert _listing(api) == listing
    attributes = sqs.get_queue_attributes(QueueUrl=payments, AttributeNames=["All"])["Attributes"]
    visible, hidden = attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]
    assert (visible, hidden) == ("4", "0")


# ---- a consumer's DLQ ------------------------------------------------------------------------

def test_a_message_that_failed_until_the_fault_was_fixed_is_redriven_and_processed(stocked, monkeypatch):
    from oms.services import orders

    api = stocked
    real = orders.validate_order

    def broken(ctx, order_id):
        raise RuntimeError("injected: validation is broken")

    monkeypatch.setattr(orders, "validate_order", broken)
    order_id = api.place(canonical_order())
    api.pipeline.drain()  # received 5 times, then moved to the DLQ by the queue's redrive policy
    assert api.order(order_id)["status"] == "received"
    assert api.pipeline.queue_depth("ValidationQueue") == 0
    assert api.pipeline.queue_depth("ValidationDeadLetterQueue") == 1

    validation = _listing(api)["validation"]
    assert validation["depth"] == 1
    assert validation["oldest"]["event_type"] == "OrderReceived"
    assert validation["oldest"]["order_id"] == order_id

    monkeypatch.setattr(orders, "validate_order", real)  # the fault is fixed
    assert _redrive(api, "validation") == {"queue": "validation", "dlq": "oms-test-validation-dlq",
                                           "source": "oms-test-validation", "task_handle": None, "moved": 1,
                                           "remaining": 0}
    assert api.pipeline.queue_depth("ValidationDeadLetterQueue") == 0
    api.pipeline.drain()
    assert api.order(order_id)["status"] == "processing"
    assert _listing(api)["validation"]["depth"] == 0
    # Twice is once: nothing left to move.
    assert _redrive(api, "validation")["moved"] == 0
    api.pipeline.drain()
    history = [e["event_type"] for e in api.order(order_id)["history"]]
    assert history.count("OrderValidated") == 1 and history.count("InventoryReserved") == 1


def test_a_redrive_moves_every_message_with_its_attributes(api):
    sqs = boto3.client("sqs")
    resolver = api.pipeline.resolver
    bodies = [_envelope("ShipmentDelivered", f"o019a{n:022x}") for n in range(23)]  # more than two receives
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=resolver.ref("ChannelUpdatesDeadLetterQueue"), Entries=[
            {"Id": str(n), "MessageBody": body,
             "MessageAttributes": {"attempt": {"DataType": "Number", "StringValue": "8"}}}
            for n, body in enumerate(bodies[start:start + 10])])
    result = _redrive(api, "channel-updates")
    assert (result["moved"], result["remaining"]) == (23, 0)
    moved = []
    while messages := sqs.receive_message(QueueUrl=resolver.ref("ChannelUpdatesQueue"), MaxNumberOfMessages=10,
                                          VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages"):
        moved += messages
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    assert {m["MessageAttributes"]["attempt"]["StringValue"] for m in moved} == {"8"}
    assert api.pipeline.queue_depth("ChannelUpdatesDeadLetterQueue") == 0


def test_messages_the_source_queue_refuses_stay_on_the_dead_letter_queue_visible(api):
    sqs = boto3.client("sqs")
    dlq = api.pipeline.resolver.ref("FulfillmentDeadLetterQueue")
    for n in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=_envelope("PaymentAuthorized", f"o019a{n:022x}"))

    def refuse_the_first(parsed, **_):  # SQS answers one entry of the batch with a failure
        first = parsed["Successful"].pop(0)
        parsed.setdefault("Failed", []).append({"Id": first["Id"], "SenderFault": False, "Code": "InternalError"})

    events = boto3._get_default_session().events
    events.register("after-call.sqs.SendMessageBatch", refuse_the_first)
    try:
        result = _redrive(api, "fulfillment")
    finally:
        events.unregister("after-call.sqs.SendMessageBatch", refuse_the_first)
    assert (result["moved"], result["remaining"]) == (2, 1)
    assert _listing(api)["fulfillment"]["depth"] == 1  # visible at once, not after the redrive's timeout
    assert _redrive(api, "fulfillment")["moved"] == 1


# ---- the outbox's DLQ: stream batches the publisher gave up on -------------------------------

def test_a_stream_batch_the_outbox_gave_up_on_is_published_again(stocked, monkeypatch, published):
    from oms.adapters import eventbus

    api = stocked
    _stream_poller(api).max_retries = 0  # give up at the first failure (Lambda: MaximumRetryAttempts)
    recording = eventbus.put_events

    def refusing(records):  # the bus refuses OrderReceived, takes the rest
        taken = iter(recording([r for r in records if r["event_type"] != "OrderReceived"]) if any(
            r["event_type"] != "OrderReceived" for r in records) else [])
        return ["InternalFailure: injected" if r["event_type"] == "OrderReceived" else next(taken)
                for r in records]

    monkeypatch.setattr(eventbus, "put_events", refusing)
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    assert api.order(order_id)["status"] == "received"  # its OrderReceived never reached the bus
    assert api.pipeline.queue_depth("OutboxDeadLetterQueue") == 1

    outbox = _listing(api)["outbox"]
    assert (outbox["depth"], outbox["source"]) == (1, None)
    assert outbox["oldest"]["event_type"] == "OrderReceived"
    assert outbox["oldest"]["order_id"] == order_id
    assert outbox["oldest"]["event_id"] == f"{order_id}:1"

    monkeypatch.setattr(eventbus, "put_events", recording)  # the bus is back
    published.clear()
    result = _redrive(api, "outbox")
    assert result == {"queue": "outbox", "dlq": "oms-test-outbox-dlq", "source": None, "task_handle": None,
                      "moved": 1, "remaining": 0, "events_published": 1, "left": 0}
    assert [(e["event_type"], e["event_id"]) for e in published] == [("OrderReceived", f"{order_id}:1")]
    api.pipeline.drain()
    assert api.order(order_id)["status"] == "processing"
    assert _redrive(api, "outbox")["moved"] == 0  # twice is once
    assert _listing(api)["outbox"]["depth"] == 0


def test_a_lambda_failure_record_over_many_records_publishes_their_history_events(stocked, published):
    """The record Lambda itself sends to the on-failure destination: a shard and a range of
    sequence numbers, every history event among them published (the order's other items not)."""
    api = stocked
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    before = api.order(order_id)
    records = _stream_records(api)
    ours = [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == f"ORDER#{order_id}"]
    first, last = ours[0], ours[-1]
    batch = [r for r in records if int(first["dynamodb"]["SequenceNumber"]) <= int(r["dynamodb"]["SequenceNumber"])
             <= int(last["dynamodb"]["SequenceNumber"])]
    expected = [r["dynamodb"]["NewImage"]["event_id"]["S"] for r in batch
                if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["sk"]["S"].startswith("H#")]
    assert len(expected) >= 4 and len(batch) > len(expected)
    failure = {
        "requestContext": {"requestId": "c9d5b4b4-0000-4000-8000-000000000000", "condition": "RetryAttemptsExhausted",
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:oms-test-handle_table_stream",
                           "approximateInvokeCount": 11},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2026-11-26T10:00:05.021Z",
        "DDBStreamBatchInfo": {"shardId": first["shardId"], "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                               "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                               "approximateArrivalOfFirstRecord": "2026-11-26T10:00:00Z",
                               "approximateArrivalOfLastRecord": "2026-11-26T10:00:01Z", "batchSize": len(batch),
                               "streamArn": _stream_poller(api).stream_arn}}
    boto3.client("sqs").send_message(QueueUrl=api.pipeline.resolver.ref("OutboxDeadLetterQueue"),
                                     MessageBody=json.dumps(failure))
    assert _listing(api)["outbox"]["oldest"]["event_id"] == expected[0]

    published.clear()
    concurrent = []
    from oms.adapters import eventbus

    recording = eventbus.put_events

    def publishing_while_asked_again(records):
        if not concurrent:  # an operator presses the button again while this redrive runs
            concurrent.append(api.ops("POST", "/ops/dead-letters/outbox/redrive"))
        return recording(records)

    eventbus.put_events = publishing_while_asked_again
    try:
        result = _redrive(api, "outbox")
    finally:
        eventbus.put_events = recording
    assert concurrent[0].status_code == 409
    assert concurrent[0].json_body["error"]["code"] == "redrive_in_progress"
    assert (result["moved"], result["events_published"], result["left"]) == (1, len(expected), 0)
    assert [e["event_id"] for e in published] == expected
    api.pipeline.drain()  # the consumers have seen every one of them: nothing changes
    after = api.order(order_id)
    assert (after["status"], after["history"]) == (before["status"], before["history"])


def test_batches_the_stream_no_longer_holds_stay_on_the_dead_letter_queue(api):
    sqs = boto3.client("sqs")
    outbox = api.pipeline.resolver.ref("OutboxDeadLetterQueue")
    gone = "arn:aws:dynamodb:us-east-1:123456789012:table/oms-gone/stream/2026-11-01T00:00:00.000"
    sqs.send_message(QueueUrl=outbox, MessageBody=json.dumps({"DDBStreamBatchInfo": {
        "shardId": "shardId-00000001764000000000-4f1c2b3a", "startSequenceNumber": "100000000000000000001",
        "endSequenceNumber": "100000000000000000009", "streamArn": gone}}))
    sqs.send_message(QueueUrl=outbox, MessageBody=json.dumps({"DDBStreamBatchInfo": {  # no such shard or number
        "shardId": "s-1", "startSequenceNumber": "100", "streamArn": _stream_poller(api).stream_arn}}))
    sqs.send_message(QueueUrl=outbox, MessageBody=json.dumps({"DDBStreamBatchInfo": {"streamArn": "junk"}}))
    sqs.send_message(QueueUrl=outbox, MessageBody="[1, 2")
    listed = _listing(api)["outbox"]
    assert listed["depth"] == 4
    assert listed["oldest"]["event_type"] is None and listed["oldest"]["sent_at"]
    result = _redrive(api, "outbox")
    assert (result["moved"], result["events_published"], result["left"], result["remaining"]) == (0, 0, 4, 4)
    assert _listing(api)["outbox"]["depth"] == 4  # visible again, for an operator to look at


# ---- what the caller got wrong ----------------------------------------------------------------

@pytest.mark.parametrize("queue", ["nope", "VALIDATION", "validation-dlq", "x" * 300, "%2E%2E", "-"])
def test_an_unknown_queue_is_404(api, queue):
    response = api.ops("POST", f"/ops/dead-letters/{queue}/redrive")
    assert response.status_code == 404, response.body
    error = response.json_body["error"]
    assert error["code"] == "not_found" and error["details"] == [] and error["message"]


def test_without_the_ops_token_it_is_401(api):
    for method, path in (("GET", "/ops/dead-letters"), ("POST", "/ops/dead-letters/validation/redrive")):
        for headers in ({}, {**OPS, "Authorization": "Bearer wrong"}):
            response = api.http.request(method, path, headers=headers, body=b"")
            assert response.status_code == 401, (method, path, response.body)
            assert response.json_body["error"]["code"] == "unauthorized"


# ---- AWS: SQS's own message move task -----------------------------------------------------------

def test_in_aws_the_redrive_is_sqs_message_move_task_from_the_dlq_to_its_queue(api):
    """moto has no StartMessageMoveTask: the queues come from moto, the move task's two calls
    from botocore's Stubber, as AWS documents their answers."""
    from botocore.stub import Stubber

    from functions.outbox import history_record
    from oms.adapters.dead_letters import SqsDeadLetterQueues
    from oms.services.dead_letters import RedriveInProgress

    queue = next(q for q in SqsDeadLetterQueues("test", history_record).all() if q.name == "payments")
    assert (queue.dlq_arn, queue.source_arn) == ("arn:aws:sqs:us-east-1:123456789012:oms-test-payments-dlq",
                                                 "arn:aws:sqs:us-east-1:123456789012:oms-test-payments")
    sqs = boto3.client("sqs")
    in_aws = SqsDeadLetterQueues("test", history_record, sqs=sqs, mode="move_task")
    with Stubber(sqs) as stub:
        stub.add_response("list_message_move_tasks", {"Results": [
            {"TaskHandle": "old", "Status": "COMPLETED", "SourceArn": queue.dlq_arn,
             "ApproximateNumberOfMessagesMoved": 3, "StartedTimestamp": 1764000000000}]},
            {"SourceArn": queue.dlq_arn, "MaxResults": 10})
        stub.add_response("start_message_move_task", {"TaskHandle": "eyJ0YXNrSWQiOiJkYzE2"},
                          {"SourceArn": queue.dlq_arn, "DestinationArn": queue.source_arn})
        result = in_aws.redrive(queue)
        stub.assert_no_pending_responses()
    assert (result.task_handle, result.moved) == ("eyJ0YXNrSWQiOiJkYzE2", None)

    with Stubber(sqs) as stub:  # one is running already: refused, nothing started
        stub.add_response("list_message_move_tasks", {"Results": [
            {"TaskHandle": "eyJ0YXNrSWQiOiJkYzE2", "Status": "RUNNING", "SourceArn": queue.dlq_arn,
             "DestinationArn": queue.source_arn, "ApproximateNumberOfMessagesMoved": 1,
             "ApproximateNumberOfMessagesToMove": 9, "StartedTimestamp": 1764000000000}]},
            {"SourceArn": queue.dlq_arn, "MaxResults": 10})
        with pytest.raises(RedriveInProgress):
            in_aws.redrive(queue)
        stub.assert_no_pending_responses()


@pytest.fixture
def aws_move_tasks(monkeypatch):
    """The API in AWS mode: SQS's move-task calls answered as AWS answers them, every other
    SQS call still to moto."""
    from botocore.awsrequest import AWSResponse

    monkeypatch.setenv("OMS_DLQ_REDRIVE", "move_task")
    state = {"calls": [], "status": "COMPLETED"}

    def record(params, model, **_):
        state["calls"].append((model.name, dict(params)))

    def answer(model, **_):
        body = ({"TaskHandle": "eyJ0YXNrSWQiOiJhYmMi"} if model.name == "StartMessageMoveTask" else
                {"Results": [{"TaskHandle": "eyJ0YXNrSWQiOiJhYmMi", "Status": state["status"]}]})
        return AWSResponse("https://sqs.us-east-1.amazonaws.com/", 200, {}, None), body

    events = boto3._get_default_session().events
    hooks = [(f"{stage}.sqs.{op}", handler) for op in ("ListMessageMoveTasks", "StartMessageMoveTask")
             for stage, handler in (("before-parameter-build", record), ("before-call", answer))]
    for name, handler in hooks:
        events.register(name, handler)
    yield state
    for name, handler in hooks:
        events.unregister(name, handler)


def test_in_aws_the_api_answers_202_with_the_task_and_409_while_it_runs(api, aws_move_tasks):
    body = _redrive(api, "payments", 202)
    assert body == {"queue": "payments", "dlq": "oms-test-payments-dlq", "source": "oms-test-payments",
                    "task_handle": "eyJ0YXNrSWQiOiJhYmMi", "moved": None, "remaining": None}
    assert aws_move_tasks["calls"][-1] == ("StartMessageMoveTask", {
        "SourceArn": "arn:aws:sqs:us-east-1:123456789012:oms-test-payments-dlq",
        "DestinationArn": "arn:aws:sqs:us-east-1:123456789012:oms-test-payments"})
    aws_move_tasks["status"] = "RUNNING"
    response = api.ops("POST", "/ops/dead-letters/payments/redrive")
    assert response.status_code == 409
    assert response.json_body["error"]["code"] == "redrive_in_progress"
    assert aws_move_tasks["calls"][-1][0] == "ListMessageMoveTasks"
