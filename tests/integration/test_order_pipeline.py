"""The whole pipeline in-process: webhook -> validation -> allocation -> payment ->
fulfilment orders -> ship -> capture -> tracking -> delivered."""
from __future__ import annotations

from tests.support.orders import canonical_order


def _ship(api, order_id: str, tracking: str = "1Z999AA10123456784", lines=None):
    order = api.order(order_id)
    fo = order["fulfillment_orders"][0]["fulfillment_order_id"]
    body = {"carrier": "ups", "tracking_number": tracking, "service": "ground"}
    if lines:
        body["lines"] = lines
    return api.ops("POST", f"/fulfillment-orders/{fo}/ship", body)


def _track(api, tracking: str, status: str, at: str):
    response = api.webhook("tracking", {"tracking_number": tracking, "status": status, "occurred_at": at,
                                        "description": status.replace("_", " "), "location": "New York, NY"})
    assert response.status_code == 202, response.body
    return response.json_body


def test_an_order_goes_from_webhook_to_delivered(stocked):
    api = stocked
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": "19.99"},
                                                {"sku": "SKU-2", "quantity": 1, "unit_price": "5.00"}]))
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "processing"
    assert order["payments"]["authorized"] == order["totals"]["total"] == "53.18"
    assert [fo["location_id"] for fo in order["fulfillment_orders"]] == ["WH1"]
    totals = api.ops("GET", "/inventory/SKU-1").json_body["totals"]
    assert totals == {"on_hand": 100, "reserved": 2, "available": 98, "inbound": 0}

    assert _ship(api, order_id).status_code == 201
    api.pipeline.drain()
    assert api.order(order_id)["payments"]["captured"] == "53.18"
    totals = api.ops("GET", "/inventory/SKU-1").json_body["totals"]
    assert totals == {"on_hand": 98, "reserved": 0, "available": 98, "inbound": 0}

    for n, status in enumerate(["in_transit", "out_for_delivery", "delivered"]):
        assert _track(api, "1Z999AA10123456784", status, f"2026-11-27T1{n}:00:00Z")["result"] == "applied"
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "delivered"
    assert all(line["status"] == "delivered" for line in order["lines"])
    # The customer's e-mails are recorded as they go out, between the steps.
    types = [event["event_type"] for event in order["history"] if event["event_type"] != "NotificationSent"]
    assert types[:6] == ["OrderReceived", "OrderValidated", "InventoryReserved", "OrderAllocated",
                         "PaymentAuthorized", "FulfillmentOrderCreated"]
    assert types.count("PaymentCaptured") == 1 and types[-1] in ("OrderDelivered", "PaymentCaptured")
    mails = [e["data"]["template"] for e in order["history"] if e["event_type"] == "NotificationSent"]
    assert sorted(mails) == ["order_confirmed", "order_delivered", "order_shipped"]
    assert [h["sequence"] for h in order["history"]] == list(range(1, len(order["history"]) + 1))


def test_partial_shipments_capture_what_shipped_and_the_rest_at_the_end(stocked):
    api = stocked
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}]))
    api.pipeline.drain()
    assert _ship(api, order_id, "TRACK-A", lines=[{"sku": "SKU-1", "quantity": 1}]).status_code == 201
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "partially_shipped"
    assert order["payments"]["captured"] == "14.10"  # half of 28.20: merchandise share of the total
    assert _ship(api, order_id, "TRACK-B").status_code == 201
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "shipped"
    assert order["payments"]["captured"] == order["payments"]["authorized"] == "28.20"
    _track(api, "TRACK-A", "delivered", "2026-11-28T10:00:00Z")
    assert api.order(order_id)["status"] == "partially_delivered"
    _track(api, "TRACK-B", "delivered", "2026-11-28T11:00:00Z")
    assert api.order(order_id)["status"] == "delivered"


def test_shipping_the_same_tracking_number_again_is_the_same_shipment(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    first = _ship(api, order_id, "SAME-1")
    again = _ship(api, order_id, "SAME-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json_body["shipment"]["shipment_id"] == again.json_body["shipment"]["shipment_id"]
    api.pipeline.drain()
    order = api.order(order_id)
    assert [e["event_type"] for e in order["history"]].count("ShipmentCreated") == 1
    assert order["payments"]["captured"] == order["payments"]["authorized"]


def test_ship_refuses_more_than_remains_and_unknown_fulfillment_orders(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    too_many = _ship(api, order_id, "T-1", lines=[{"sku": "SKU-1", "quantity": 3}])
    assert too_many.status_code == 409 and too_many.json_body["error"]["code"] == "quantity_exceeds_remaining"
    unknown = api.ops("POST", "/fulfillment-orders/nope-F1/ship", {"carrier": "ups", "tracking_number": "X"})
    assert unknown.status_code == 404
    assert api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"] == 100


def test_tracking_updates_out_of_order_and_twice_keep_one_forward_moving_timeline(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    _ship(api, order_id, "TL-1")
    assert _track(api, "TL-1", "delivered", "2026-11-28T15:00:00Z")["result"] == "applied"
    assert _track(api, "TL-1", "in_transit", "2026-11-27T09:00:00Z")["result"] == "applied"
    assert _track(api, "TL-1", "in_transit", "2026-11-27T09:00:00Z")["result"] == "duplicate"
    shipment = api.order(order_id)["fulfillment_orders"][0]["shipments"][0]
    assert shipment["status"] == "delivered"
    assert [e["status"] for e in shipment["events"]] == ["in_transit", "delivered"]


def test_unknown_tracking_numbers_are_accepted_and_kept(api):
    assert _track(api, "NOBODY-1", "in_transit", "2026-11-27T09:00:00Z")["result"] == "unmatched"


def test_prepaid_orders_are_recorded_not_authorised_and_never_captured(stocked):
    api = stocked
    order_id = api.place(canonical_order(payment={"method": "prepaid", "reference": "shopify-txn-1"}))
    api.pipeline.drain()
    _ship(api, order_id)
    api.pipeline.drain()
    payments = api.order(order_id)["payments"]
    assert payments["status"] == "paid"
    # The channel took the money: the ledger shows it authorised and captured there, once.
    assert [(t["type"], t["processor_reference"]) for t in payments["transactions"]] == [
        ("authorization", "shopify-txn-1"), ("capture", "shopify-txn-1")]
    assert payments["processor"] == "channel" and payments["captured"] == payments["authorized"]


def test_an_unmatched_update_sent_again_is_kept_once(api):
    from .conftest import table_items

    for _ in range(2):
        _track(api, "NOBODY-2", "in_transit", "2026-11-27T09:00:00Z")
    kept = [i for i in table_items() if i["pk"]["S"] == "TRACK#NOBODY-2"]
    assert len(kept) == 1 and kept[0]["sk"]["S"].startswith("UNMATCHED#")
