"""What the on-call engineer reads: log lines tied to an order by its id and a correlation id
from its webhook on, the metrics the alarms and the dashboard are built from, and neither
carrying the customer's personal data."""
from __future__ import annotations

import io
import json
import logging

import boto3
import pytest

from tests.support.harness import TEST_ENV
from tests.support.orders import canonical_order

from .test_order_pipeline import _ship, _track

PERSONAL = ["ada@example.com", "Ada", "Lovelace", "+1 212 555 0100", "1 Main St", "tok_visa"]


@pytest.fixture
def log_lines():
    """The structured logger's lines at INFO, as CloudWatch Logs would receive them."""
    from oms.observability.logs import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    level = logger.log_level
    logger.setLevel("INFO")
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.setLevel(level)
    logger._logger.removeHandler(handler)


def _emf(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def _counts(blobs: list[dict], name: str, **dimensions) -> int:
    return sum(int(sum(blob[name])) for blob in blobs if name in blob
               and all(blob.get(key) == value for key, value in dimensions.items()))


def _history_items(order_id: str) -> list[dict]:
    items = boto3.client("dynamodb").scan(TableName=TEST_ENV["OMS_TABLE"])["Items"]
    return [{key: next(iter(value.values())) for key, value in item.items()} for item in items
            if item["sk"]["S"].startswith("H#") and item.get("order_id", {}).get("S") == order_id]


def test_a_correlation_id_follows_the_order_from_its_webhook_through_every_event_and_log_line(
        stocked, log_lines, capsys):
    api = stocked
    response = api.webhook("orders", canonical_order(), headers={"X-Correlation-Id": "checkout-7f3a"})
    assert response.status_code == 202 and response.headers["X-Correlation-Id"] == "checkout-7f3a"
    order_id = response.json_body["order_id"]
    api.pipeline.drain()
    # Later work on the order comes from other requests and queues; it stays on the order's thread.
    assert _ship(api, order_id).status_code == 201
    api.pipeline.drain()
    _track(api, "1Z999AA10123456784", "delivered", "2026-11-27T10:00:00Z")
    api.pipeline.drain()
    assert api.order(order_id)["status"] == "delivered"

    items = _history_items(order_id)
    types = {item["event_type"] for item in items}
    assert {"OrderReceived", "OrderAllocated", "PaymentAuthorized", "ShipmentCreated", "PaymentCaptured",
            "OrderDelivered"} <= types
    assert {item["correlation_id"] for item in items} == {"checkout-7f3a"}

    handled = [line for line in log_lines() if line["message"] == "event handled"]
    about_order = [line for line in handled if line["order_id"] == order_id]
    assert {line["event_type"] for line in about_order} >= {"OrderReceived", "OrderValidated", "ShipmentCreated"}
    assert {line["correlation_id"] for line in about_order} == {"checkout-7f3a"}
    assert all(line.get("correlation_id") for line in handled)

    output = capsys.readouterr().out
    everything = output + json.dumps(log_lines())
    assert not [value for value in PERSONAL if value in everything]
    blobs = _emf(output)
    assert {tuple(map(tuple, blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"])) for blob in blobs
            if "OrdersReceived" in blob} == {(("stage",), ("stage", "channel"))}
    assert _counts(blobs, "OrdersReceived", stage="test", channel="generic") == 1
    for name in ("Allocations", "PaymentAuthorizations", "Shipments", "PaymentCaptures", "Deliveries"):
        assert _counts(blobs, name, stage="test") == 1, name


def test_an_order_received_twice_counts_once_and_a_bad_signature_counts_as_a_failure(stocked, capsys):
    api = stocked
    body = canonical_order()
    assert api.webhook("orders", body).status_code == 202
    assert api.webhook("orders", body).status_code == 200
    assert api.webhook("orders", body, secret="not-the-secret").status_code == 401
    api.pipeline.drain()
    blobs = _emf(capsys.readouterr().out)
    assert _counts(blobs, "OrdersReceived") == 1
    assert _counts(blobs, "WebhookSignatureFailures", webhook="orders/generic") == 1


def test_a_caller_correlation_id_that_is_not_an_id_is_replaced(stocked):
    response = stocked.webhook("orders", canonical_order(), headers={"X-Correlation-Id": "ada@example.com\n"})
    assert response.status_code == 202
    assert response.headers["X-Correlation-Id"] not in ("", "ada@example.com\n")
    assert "@" not in response.headers["X-Correlation-Id"]
