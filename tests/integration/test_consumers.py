"""Event handlers on their own: partial batch failures, duplicates and reordering."""
from __future__ import annotations

import json
import uuid

from tests.support.orders import ADDRESS, canonical_order


def _sqs_event(details: list[dict]) -> dict:
    records = []
    for detail in details:
        envelope = {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail["event_type"], "source": "oms",
                    "account": "123456789012", "time": "2026-11-26T10:00:00Z", "region": "us-east-1",
                    "resources": [], "detail": detail}
        records.append({"messageId": str(uuid.uuid4()), "receiptHandle": "rh", "body": json.dumps(envelope),
                        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1",
                                       "SenderId": "x", "ApproximateFirstReceiveTimestamp": "1"},
                        "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:oms-test-validation",
                        "awsRegion": "us-east-1"})
    return {"Records": records}


def _detail(event_type: str, order_id: str, sequence: int = 1, data=None) -> dict:
    return {"event_id": f"{order_id}:{sequence}", "event_type": event_type, "occurred_at": "2026-11-26T10:00:00Z",
            "aggregate_id": order_id, "sequence": sequence, "data": data or {}}


def _types(api, order_id):
    return [e["event_type"] for e in api.order(order_id)["history"]]


def test_one_failing_record_in_a_batch_is_reported_alone(stocked):
    api = stocked
    good = [api.place(canonical_order()) for _ in range(2)]
    event = _sqs_event([_detail("OrderReceived", good[0]), _detail("OrderReceived", "o-missing"),
                        _detail("OrderReceived", good[1])])
    result = api.pipeline.client.lambda_.invoke("handle_validation", event).payload
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert all("OrderValidated" in _types(api, order_id) for order_id in good)


def test_the_same_event_delivered_twice_changes_nothing_the_second_time(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    event = _sqs_event([_detail("OrderReceived", order_id)])
    invoke = api.pipeline.client.lambda_.invoke
    assert invoke("handle_validation", event).payload == {"batchItemFailures": []}
    after_first = api.order(order_id)["history"]
    assert invoke("handle_validation", event).payload == {"batchItemFailures": []}
    assert api.order(order_id)["history"] == after_first
    api.pipeline.drain()
    api.pipeline.drain()
    assert _types(api, order_id).count("InventoryReserved") == 1
    assert api.ops("GET", "/inventory/SKU-1").json_body["totals"]["reserved"] == 2


def test_events_that_arrive_before_their_turn_do_nothing(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    invoke = api.pipeline.client.lambda_.invoke
    # Payment and fulfilment events for an order that is not validated yet: no effect.
    invoke("handle_payments", _sqs_event([_detail("OrderAllocated", order_id)]))
    invoke("handle_fulfillment", _sqs_event([_detail("PaymentAuthorized", order_id)]))
    invoke("handle_allocation", _sqs_event([_detail("OrderValidated", order_id)]))
    assert _types(api, order_id) == ["OrderReceived"]
    api.pipeline.drain()
    assert api.order(order_id)["status"] == "processing"


def test_a_poison_message_goes_to_the_dead_letter_queue(stocked):
    import boto3

    api = stocked
    sqs = boto3.client("sqs")
    queue = api.pipeline.resolver.ref("ValidationQueue")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"detail": _detail("OrderReceived", "o-missing")}))
    api.pipeline.drain()
    assert api.pipeline.queue_depth("ValidationQueue") == 0
    assert api.pipeline.queue_depth("ValidationDeadLetterQueue") == 1


def test_an_outbox_publish_failure_is_retried_from_the_failed_record(stocked, monkeypatch):
    from oms.adapters import eventbus

    api = stocked
    real = eventbus.put_events
    failures = {"left": 2}

    def flaky(records):
        if records[0]["event_type"] == "OrderReceived" and failures["left"]:
            failures["left"] -= 1
            return ["InternalFailure: injected"]
        return real(records)

    monkeypatch.setattr(eventbus, "put_events", flaky)
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    assert failures["left"] == 0
    assert api.order(order_id)["status"] == "processing"


def test_delivery_groups_become_separate_fulfilment_orders(stocked):
    api = stocked
    body = canonical_order(lines=[
        {"sku": "SKU-1", "quantity": 1, "unit_price": "10.00", "delivery_group": "home"},
        {"sku": "SKU-2", "quantity": 1, "unit_price": "10.00", "delivery_group": "office"}])
    del body["shipping_address"], body["shipping_method"]
    body["delivery_groups"] = [
        {"group_id": "home", "shipping_address": ADDRESS, "shipping_method": "standard", "shipping_total": "5.00"},
        {"group_id": "office", "shipping_address": {**ADDRESS, "line1": "2 Work Ave"},
         "shipping_method": "express", "shipping_total": "0.00"}]
    body["total"] = "28.20"
    order_id = api.place(body)
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "processing", order["holds"]
    assert sorted(fo["delivery_group"] for fo in order["fulfillment_orders"]) == ["home", "office"]


def test_customers_track_by_either_number_and_see_no_personal_data(stocked):
    api = stocked
    order_id = api.place(canonical_order(channel_order_number="SHOP-77"))
    api.pipeline.drain()
    number = api.order(order_id)["order_number"]
    by_ours = api.http.get(f"/track/{number}?email=ADA@example.com")
    by_theirs = api.http.get("/track/SHOP-77?email=ada@example.com")
    assert by_ours.status_code == by_theirs.status_code == 200
    assert by_ours.json_body == by_theirs.json_body
    assert set(by_ours.json_body) == {"order_number", "status", "placed_at", "lines", "shipments"}
    text = json.dumps(by_ours.json_body)
    for secret in ("ada@example.com", "Main St", "212", "tok_visa", "Lovelace"):
        assert secret not in text
    wrong_email = api.http.get(f"/track/{number}?email=eve@example.com")
    unknown = api.http.get("/track/NOPE-NOPE?email=ada@example.com")
    malformed = api.http.get(f"/track/{'x' * 200}?email=ada@example.com")
    assert wrong_email.status_code == unknown.status_code == malformed.status_code == 404
    assert wrong_email.body == unknown.body == malformed.body


def test_a_customer_tracks_an_order_by_any_spelling_of_its_numbers(stocked):
    api = stocked
    order_id = api.place(canonical_order(channel_order_number="#1001"))
    api.pipeline.drain()
    number = api.order(order_id)["order_number"]
    # "#1001" travels percent-encoded (a raw "#" starts a URL's fragment)
    spellings = [number, number.lower(), number.replace("-", ""), "1001", "%231001", "%23%201001"]
    answers = [api.http.get(f"/track/{ref}?email=ada@example.com") for ref in spellings]
    assert [a.status_code for a in answers] == [200] * len(spellings)
    assert {a.json_body["order_number"] for a in answers} == {number}
