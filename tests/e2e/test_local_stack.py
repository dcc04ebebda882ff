"""The contract over HTTP against the local stack: real queues, the stream outbox, the runner."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support.orders import canonical_order
from tests.support.signing import signed

from .conftest import SECRETS


def _stock(stack, sku: str, on_hand: int, location: str = "WH1"):
    assert stack.ops("PUT", f"/locations/{location}", {"name": "Main warehouse", "type": "warehouse",
                                                       "priority": 1, "address": {}}).status_code == 200
    response = stack.ops("PUT", f"/inventory/{sku}/locations/{location}", {"on_hand": on_hand, "safety_stock": 0})
    assert response.status_code == 200, response.text


def test_health_and_unknown_routes(stack):
    assert requests.get(f"{stack.url}/health").json() == {"status": "ok"}
    assert 400 <= requests.get(f"{stack.url}/no/such/route").status_code < 500
    assert requests.get(f"{stack.url}/orders/x").status_code == 401


def test_an_order_goes_from_webhook_to_delivered_and_every_event_matches_its_schema(stack):
    from tests.support.event_schemas import validate_event

    tap = stack.tap()
    for sku in ("E2E-A", "E2E-B", "E2E-C"):
        _stock(stack, sku, 10)
    body = canonical_order(lines=[{"sku": "E2E-A", "quantity": 1, "unit_price": "10.00"},
                                  {"sku": "E2E-B", "quantity": 2, "unit_price": "5.50"},
                                  {"sku": "E2E-C", "quantity": 1, "unit_price": "1.25"}])
    created = stack.webhook("orders", body)
    assert created.status_code == 202, created.text
    assert set(created.json()) == {"order_id", "order_number", "status"} and created.json()["status"] == "received"
    order_id = created.json()["order_id"]
    order = stack.wait_for(order_id, lambda o: o["fulfillment_orders"])
    assert order["status"] == "processing"

    fo = order["fulfillment_orders"][0]["fulfillment_order_id"]
    shipped = stack.ops("POST", f"/fulfillment-orders/{fo}/ship",
                        {"carrier": "ups", "tracking_number": "1ZE2E0000000000001", "service": "ground"})
    assert shipped.status_code == 201, shipped.text
    for n, status in enumerate(("in_transit", "out_for_delivery", "delivered")):
        response = stack.webhook("tracking", {"tracking_number": "1ZE2E0000000000001", "status": status,
                                              "occurred_at": f"2026-11-27T0{n}:00:00Z", "description": status,
                                              "location": "Newark, NJ", "estimated_delivery": "2026-11-27"})
        assert response.status_code == 202
    order = stack.wait_for(order_id, lambda o: o["status"] == "delivered"
                           and o["payments"]["captured"] == o["totals"]["total"])
    assert order["payments"]["authorized"] == order["totals"]["total"] == "30.45"

    tracked = requests.get(f"{stack.url}/track/{order['order_number']}", params={"email": "ada@example.com"}).json()
    assert tracked["status"] == "delivered" and tracked["shipments"][0]["estimated_delivery"] == "2026-11-27"

    expected = {"OrderReceived", "OrderValidated", "InventoryReserved", "OrderAllocated", "PaymentAuthorized",
                "FulfillmentOrderCreated", "ShipmentCreated", "PaymentCaptured", "ShipmentTrackingUpdated",
                "ShipmentDelivered", "OrderDelivered", "InventoryAdjusted"}
    emitted = stack.tapped(tap, until=lambda seen: {e["detail-type"] for e in seen} >= expected)
    assert len(emitted) >= len(order["history"])
    for event in emitted:
        assert event["detail-type"] == event["detail"]["event_type"] and event["source"] == "oms"
        validate_event(event["detail"])


def test_the_same_webhook_delivered_twice_is_one_order(stack):
    raw, headers = signed(canonical_order(), SECRETS["OMS_WEBHOOK_SECRET_ORDERS_GENERIC"])
    first = requests.post(f"{stack.url}/webhooks/orders/generic", data=raw, headers=headers)
    second = requests.post(f"{stack.url}/webhooks/orders/generic", data=raw, headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json() == second.json()
    history = stack.order(first.json()["order_id"])["history"]
    assert [e["event_type"] for e in history].count("OrderReceived") == 1


def test_fifty_concurrent_orders_for_twenty_units_never_oversell(stack):
    _stock(stack, "RACE-1", 20)
    bodies = [canonical_order(lines=[{"sku": "RACE-1", "quantity": 1, "unit_price": "3.00"}]) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda body: stack.webhook("orders", body), bodies))
    assert [r.status_code for r in responses] == [202] * 50
    ids = [r.json()["order_id"] for r in responses]
    settled = [stack.wait_for(order_id, lambda o: o["status"] == "processing"
                              or {h["type"] for h in o["holds"]} == {"backorder"}) for order_id in ids]
    processing = [o for o in settled if o["status"] == "processing"]
    backordered = [o for o in settled if o["status"] == "on_hold"]
    assert (len(processing), len(backordered)) == (20, 30)
    assert all(o["lines"][0]["allocated"] == 0 for o in backordered)
    stock = stack.ops("GET", "/inventory/RACE-1").json()
    assert stock["totals"] == {"on_hand": 20, "reserved": 20, "available": 0, "inbound": 0}
