"""Bad input gets a clear 4xx and writes nothing."""
from __future__ import annotations

import json
import time

import pytest

from tests.support.orders import canonical_order
from tests.support.signing import signed

from .conftest import table_items


@pytest.fixture
def baseline(stocked):
    return stocked, len(table_items())


def _error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.body
    body = response.json_body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_missing_wrong_and_stale_signatures_are_401_and_write_nothing(baseline):
    api, before = baseline
    raw = json.dumps(canonical_order()).encode()
    http = api.http
    _error(http.post("/webhooks/orders/generic", body=raw, headers={"Content-Type": "application/json"}),
           401, "invalid_signature")
    _, wrong = signed(raw, "not-the-secret")
    _error(http.post("/webhooks/orders/generic", body=raw, headers=wrong), 401)
    _, stale = signed(raw, "orders-secret", timestamp=int(time.time()) - 301)
    _error(http.post("/webhooks/orders/generic", body=raw, headers=stale), 401)
    _, good = signed(raw, "orders-secret")
    _error(http.post("/webhooks/orders/generic", body=raw + b" ", headers=good), 401)  # tampered body
    _error(http.post("/webhooks/orders/generic", body=raw, headers={"X-OMS-Signature": "garbage"}), 401)
    assert len(table_items()) == before


@pytest.mark.parametrize("raw, status, code", [
    (b"{not json", 400, "invalid_json"),
    (b"[1, 2]", 400, "invalid_json"),
    (b"\xff\xfe", 400, "invalid_json"),
    (json.dumps({"lines": []}).encode(), 422, "validation_failed"),
])
def test_unparseable_or_unformable_orders(baseline, raw, status, code):
    api, before = baseline
    _, headers = signed(raw, "orders-secret")
    error = _error(api.http.post("/webhooks/orders/generic", body=raw, headers=headers), status, code)
    if status == 422:
        fields = {d["field"] for d in error["details"]}
        assert {"external_id", "lines"} <= fields
    assert len(table_items()) == before


@pytest.mark.parametrize("change", [
    {"lines": [{"sku": "SKU-1", "quantity": "2", "unit_price": "19.99"}]},
    {"lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": 19.99}]},
    {"lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "19.999"}]},
    {"lines": [{"sku": "SKU-1", "quantity": -1, "unit_price": "19.99"}]},
    {"currency": "XYZ"},
    {"placed_at": "yesterday"},
    {"payment": {"method": "cash"}},
    {"customer": "ada@example.com"},
    {"total": 48.18},
])
def test_wrong_types_are_422_with_details(baseline, change):
    api, before = baseline
    error = _error(api.webhook("orders", {**canonical_order(), **change}), 422, "validation_failed")
    assert error["details"]
    assert len(table_items()) == before


def test_bodies_over_one_mebibyte_are_413(baseline):
    api, before = baseline
    body = canonical_order(filler="x" * (1024 * 1024))
    _error(api.webhook("orders", body), 413, "payload_too_large")
    assert len(table_items()) == before


def test_same_external_id_with_another_body_is_409(baseline):
    api, _ = baseline
    body = canonical_order(external_id="WEB-409")
    first = api.webhook("orders", body)
    assert first.status_code == 202
    again = api.webhook("orders", body)
    assert again.status_code == 200 and again.json_body == first.json_body
    _error(api.webhook("orders", {**body, "shipping_method": "express"}), 409, "external_id_conflict")


def test_unknown_routes_are_4xx_in_the_error_shape(api):
    _error(api.http.get("/nothing/here"), 403, "forbidden")
    _error(api.http.post("/webhooks/orders/unknown", body=b"{}"), 403)


def test_ops_api_needs_the_bearer_token(stocked):
    api = stocked
    _error(api.http.get("/inventory/SKU-1"), 401, "unauthorized")
    assert api.http.get("/inventory/SKU-1", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.http.get("/inventory/SKU-1", headers={"Authorization": "Basic ops-test-token"}).status_code == 401
    assert api.ops("GET", "/inventory/SKU-1").status_code == 200


def test_ops_inputs_are_checked(stocked):
    api = stocked
    _error(api.ops("PUT", "/inventory/SKU-9/locations/WH1", {"on_hand": -1}), 422)
    _error(api.ops("PUT", "/inventory/SKU-9/locations/WH1", {"on_hand": "5"}), 422)
    _error(api.ops("PUT", "/inventory/SKU-9/locations/NOWHERE", {"on_hand": 5}), 422, "unknown_location")
    _error(api.ops("PUT", "/locations/WH9", {"name": "x", "type": "spaceship"}), 422)
    _error(api.ops("GET", "/inventory/SKU-9"), 404, "not_found")
    _error(api.ops("GET", "/orders/o-does-not-exist"), 404, "not_found")


def test_an_order_too_large_to_store_is_413_and_writes_nothing(stocked):
    from tests.integration.conftest import table_items
    from tests.support.orders import canonical_order

    items = table_items()
    body = canonical_order(attributes={f"note_{n}": "x" * 2500 for n in range(180)})  # under 1 MiB, over 400 KB
    response = stocked.webhook("orders", body)
    assert response.status_code == 413
    assert response.json_body["error"]["code"] == "order_too_large"
    assert table_items() == items


def test_a_time_before_year_one_in_utc_is_422_not_500(stocked):
    from tests.support.orders import canonical_order

    order = stocked.webhook("orders", canonical_order(placed_at="0001-01-01T00:00:00+01:00"))
    tracking = stocked.webhook("tracking", {"tracking_number": "1Z", "status": "delivered",
                                            "occurred_at": "0001-01-01T00:00:00+01:00"})
    assert (order.status_code, tracking.status_code) == (422, 422)


def test_any_content_type_gets_the_routes_own_answer_never_chalices_415(stocked):
    """Found by the OpenAPI fuzzer: a GET sent with a Content-Type that is not JSON got Chalice's own
    415 ({"Code": "UnsupportedMediaType", ...}, in Lambda too). Every route now takes any body type."""
    from app import app
    from tests.support.harness import OPS

    narrow = [f"{method} {path}" for path, methods in app.routes.items() for method, entry in methods.items()
              if entry.content_types != ["*/*"]]
    assert narrow == []
    for content_type in ("multipart/form-data", "text/plain", "application/x-www-form-urlencoded"):
        response = stocked.http.get("/inventory/SKU-1", headers={**OPS, "Content-Type": content_type})
        assert response.status_code == 200, response.body
        assert stocked.http.get("/health", headers={"Content-Type": content_type}).status_code == 200
        _error(stocked.http.get("/inventory/NO-SUCH-SKU", headers={**OPS, "Content-Type": content_type}), 404)


def test_a_tracking_number_another_order_holds_is_409_not_a_retryable_503(stocked):
    """Found seeding the OpenAPI fuzzer: the write's refusal came back as a lost race, retried,
    then answered 503 temporarily_unavailable, which a client retries for ever."""
    api = stocked
    orders = [api.webhook("orders", canonical_order()).json_body["order_id"] for _ in range(2)]
    api.pipeline.drain()
    fulfillment_orders = [api.ops("GET", f"/orders/{order_id}").json_body["fulfillment_orders"][0]
                          ["fulfillment_order_id"] for order_id in orders]
    body = {"carrier": "ups", "tracking_number": "1ZTAKEN0000000001", "lines": [{"sku": "SKU-1", "quantity": 1}]}
    assert api.ops("POST", f"/fulfillment-orders/{fulfillment_orders[0]}/ship", body).status_code == 201
    before = table_items()
    _error(api.ops("POST", f"/fulfillment-orders/{fulfillment_orders[1]}/ship", body), 409, "tracking_number_in_use")
    assert table_items() == before
    again = api.ops("POST", f"/fulfillment-orders/{fulfillment_orders[0]}/ship", {**body, "lines": None})
    assert again.status_code in (200, 201, 409), again.body  # its own number on its own order: not refused as taken
    assert again.json_body.get("error", {}).get("code") != "tracking_number_in_use"


def test_a_refused_condition_is_told_apart_in_a_transaction_of_puts_and_updates(stocked):
    """PynamoDB sends a transaction's puts before its updates, whatever order they were added
    in: the store must still see that it was the tracking number's condition that failed, not
    the stock's (a lost race, retried, then a 503), even past the route's own check."""
    from oms.bootstrap import context
    from oms.domain.events import DomainEvent
    from oms.services.ports import DuplicateReference, OrderCommit, StockMove

    api = stocked
    orders = [api.webhook("orders", canonical_order()).json_body["order_id"] for _ in range(2)]
    api.pipeline.drain()
    first = api.ops("GET", f"/orders/{orders[0]}").json_body["fulfillment_orders"][0]["fulfillment_order_id"]
    body = {"carrier": "ups", "tracking_number": "1ZTAKEN0000000002", "lines": [{"sku": "SKU-1", "quantity": 1}]}
    assert api.ops("POST", f"/fulfillment-orders/{first}/ship", body).status_code == 201
    store = context().store
    second = store.load(orders[1])
    change = OrderCommit(second, [DomainEvent("ShipmentCreated", {"shipment_id": "x"})],
                         tracking_numbers=["1ZTAKEN0000000002"], stock_moves=[StockMove("SKU-1", "WH1", ship=1)])
    try:
        store.commit(change)
    except DuplicateReference as refused:
        assert "tracking number" in str(refused)
    else:
        raise AssertionError("a tracking number another order holds was written")
