"""The log mask, the metric lines and the correlation of HTTP requests, in isolation."""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

from oms.observability import logs, metrics, tracing

ROOT = Path(__file__).resolve().parents[2]
SHOPIFY_ORDER = json.loads((ROOT / "tests/fixtures/shopify/orders-create-2024-10.json").read_text())


def test_the_mask_hides_people_and_places_but_keeps_what_operators_need():
    record = {"message": "payment for ada.lovelace+shop@example.co.uk failed with pm_1PqRsTuVwXyZ12",
              "order_id": "o-123", "sku": "SKU-1", "amount": 4820, "at": "2026-12-02T01:19:39Z",
              "customer": {"email": "ada@example.com", "first_name": "Ada", "customer_id": "cus_9"},
              "shipping_address": {"name": "Ada Lovelace", "line1": "1 Main St", "city": "New York",
                                   "country": "US"},
              "to_address": {"street1": "12 Analytical Way", "phone": "2125550100", "country": "GB"},
              "contact": {"phone": "+44 20 7946 0958", "note": "call (212) 555-0100 after 5"},
              "lines": [{"sku": "SKU-1", "name": "Linen shirt", "quantity": 2}]}
    masked = logs.mask(record)
    text = json.dumps(masked)
    for personal in ("ada.lovelace+shop@example.co.uk", "pm_1PqRsTuVwXyZ12", "ada@example.com", "Ada", "Lovelace",
                     "1 Main St", "New York", "12 Analytical Way", "2125550100", "+44 20 7946 0958",
                     "(212) 555-0100"):
        assert personal not in text, personal
    assert masked["order_id"] == "o-123" and masked["sku"] == "SKU-1" and masked["amount"] == 4820
    assert masked["at"] == "2026-12-02T01:19:39Z"
    assert masked["customer"]["customer_id"] == "cus_9" and masked["shipping_address"]["country"] == "US"
    assert masked["lines"][0]["name"] == "Linen shirt"  # a product's name is not a person's
    assert record["customer"]["email"] == "ada@example.com"  # a copy: the caller's data is untouched


def test_the_formatter_masks_messages_extra_keys_and_exceptions():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.PersonalDataMaskingFormatter())
    probe = logging.getLogger("test_observability.mask")
    probe.addHandler(handler)
    probe.setLevel(logging.INFO)
    probe.propagate = False
    try:
        raise ValueError("address 1 Main St rejected for ada@example.com")
    except ValueError:
        probe.exception("could not validate", extra={"billing_address": {"line1": "1 Main St"}, "order_id": "o-1"})
    line = json.loads(stream.getvalue())
    assert "ada@example.com" not in stream.getvalue()
    assert line["billing_address"] == {"line1": logs.MASK} and line["order_id"] == "o-1"


def test_a_shopify_order_logged_whole_shows_none_of_its_customer():
    text = json.dumps(logs.mask(SHOPIFY_ORDER))
    customer, shipping = SHOPIFY_ORDER["customer"], SHOPIFY_ORDER["shipping_address"]
    personal = [SHOPIFY_ORDER["email"], customer["first_name"], customer["last_name"], shipping["address1"],
                shipping["phone"], SHOPIFY_ORDER["billing_address"]["address1"]]
    assert all(personal) and not [value for value in personal if value in text]
    assert str(SHOPIFY_ORDER["id"]) in text and SHOPIFY_ORDER["line_items"][0]["sku"] in text


def test_a_metric_is_one_emf_line_with_its_total_and_its_breakdown(capsys, monkeypatch):
    monkeypatch.setenv("OMS_STAGE", "prod")
    metrics.count("OrdersReceived", dimension="shopify")
    metrics.count("Allocations", value=2)
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    (definition,) = first["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "OMS" and definition["Dimensions"] == [["stage"], ["stage", "channel"]]
    assert (first["stage"], first["channel"], first["OrdersReceived"]) == ("prod", "shopify", [1.0])
    assert second["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"]] and second["Allocations"] == [2.0]


def test_committed_events_map_to_their_counters(capsys):
    metrics.count_event("OrderHeld", {"hold_type": "backorder", "detail": "none left"})
    metrics.count_event("OrderValidated", {})
    metrics.count_event("RefundSucceeded", {"amount": 100})
    names = [next(key for key in blob if key in metrics.BY_NAME)
             for blob in map(json.loads, capsys.readouterr().out.splitlines())]
    assert names == ["OrdersHeld", "Backorders", "Refunds"]


def test_every_counted_event_and_metric_is_in_the_catalogue():
    schemas = {path.stem for path in (ROOT / "events/schemas").glob("*.json")}
    assert set(metrics.EVENT_METRICS) <= schemas
    assert {name for name, _ in metrics.EVENT_METRICS.values()} <= set(metrics.BY_NAME)
    source = "\n".join(path.read_text() for path in (ROOT / "layers/oms").rglob("*.py")) + \
        "\n".join(path.read_text() for path in (ROOT / "functions").rglob("*.py"))
    counted = {name for name in metrics.BY_NAME if f'"{name}"' in source.replace(
        (ROOT / "layers/oms/observability/metrics.py").read_text(), "")}
    mapped = {name for name, _ in metrics.EVENT_METRICS.values()} | {"Backorders"}
    assert counted | mapped == set(metrics.BY_NAME), "a catalogued metric nobody emits"


class _Request:
    def __init__(self, headers, context, uri_params=None):
        self.headers, self.context, self.uri_params = headers, context, uri_params


class _Response:
    def __init__(self):
        self.headers = {}


def test_a_request_takes_the_callers_correlation_id_or_the_gateways_request_id():
    seen = {}

    def view(request):
        seen.update(correlation_id=logs.correlation_id(), order_id=logs.order_id())
        return _Response()

    answer = tracing.correlate_request(_Request({"x-correlation-id": "abc-123"}, {"requestId": "r-1"},
                                                {"order_id": "o-9"}), view)
    assert answer.headers["X-Correlation-Id"] == "abc-123" and seen == {"correlation_id": "abc-123",
                                                                        "order_id": "o-9"}
    answer = tracing.correlate_request(_Request({"x-correlation-id": "<script>"}, {"requestId": "r-2"}), view)
    assert answer.headers["X-Correlation-Id"] == "r-2" and seen["order_id"] is None


def test_events_bind_their_correlation_and_old_events_start_one():
    logs.bind_event({"event_id": "o-1:3", "event_type": "OrderAllocated", "order_id": "o-1",
                     "correlation_id": "c-1", "data": {}})
    assert (logs.correlation_id(), logs.order_id()) == ("c-1", "o-1")
    logs.bind_event({"event_id": "r-1:1", "event_type": "ReturnRequested", "data": {"order_id": "o-2"}})
    assert (logs.correlation_id(), logs.order_id()) == ("r-1:1", "o-2")


def test_untraced_invocations_never_load_the_xray_sdk(monkeypatch):
    """The SDK costs about 0.25 s to import: only a traced Lambda pays it."""
    monkeypatch.delenv("AWS_XRAY_DAEMON_ADDRESS", raising=False)
    assert tracing.trace_invocation("event", lambda event: f"handled {event}") == "handled event"
    probe = ("import sys, app; from oms.observability.tracing import trace_invocation; "
             "trace_invocation(None, lambda e: e); print('aws_xray_sdk' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers'}", "PATH": "/usr/bin:/bin",
                              "AWS_DEFAULT_REGION": "us-east-1"})
    assert out.stdout.strip() == "False"


def test_a_traced_invocation_goes_through_powertools_tracer(monkeypatch):
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    tracing.tracer.cache_clear()
    tracing._handler_middleware.cache_clear()
    calls = []

    class Event:
        context = type("Context", (), {"function_name": "f", "aws_request_id": "r"})()

        def to_dict(self):
            return {}

    try:
        result = tracing.trace_invocation(Event(), lambda event: calls.append(event) or "ok")
    finally:
        tracing.tracer.cache_clear()
        tracing._handler_middleware.cache_clear()
    assert result == "ok" and len(calls) == 1


def test_an_event_names_only_its_own_order_and_takes_the_work_s_correlation():
    from oms.adapters.dynamodb_models import history_record
    from oms.domain.events import DomainEvent

    logs.bind_order("o-previous", "c-1")  # the last order a sweep or an import touched
    stock = history_record("SKU-1@WH1", 4, "2026-12-02T00:00:00Z", DomainEvent("InventoryAdjusted", {"sku": "SKU-1"}))
    assert "order_id" not in stock and stock["correlation_id"] == "c-1"
    ret = history_record("r-1", 1, "2026-12-02T00:00:00Z", DomainEvent("ReturnRequested", {"order_id": "o-2"}))
    assert ret["order_id"] == "o-2"
    logs.bind_order("o-old", None)  # an order from before correlation ids
    assert (logs.correlation_id(), logs.order_id()) == ("o-old", "o-old")


def test_a_fresh_invocation_forgets_the_last_one():
    logs.bind_order("o-1", "c-1")
    seen = {}
    logs.start_work("event", lambda event: seen.update(order=logs.order_id(), correlation=logs.correlation_id()))
    assert seen["order"] is None and seen["correlation"] not in (None, "c-1")


def test_a_person_or_a_place_given_as_one_string_is_masked():
    assert logs.mask({"shipping_address": "1 Main St, New York", "customer": "Ada Lovelace"}) == {
        "shipping_address": logs.MASK, "customer": logs.MASK}
