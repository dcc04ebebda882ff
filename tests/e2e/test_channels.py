"""Real channel and carrier formats on the local stack: a Shopify order and a two-shipment
SFCC order from their webhooks to delivered, with EasyPost and AfterShip updates, and the
channels' APIs (recording servers) told what happened."""
from __future__ import annotations

import copy
import json
import time

from oms.adapters.signatures import sign_aftership, sign_easypost, sign_generic, sign_shopify
from tests.support.fixtures import fixture
from tests.support.vendor_orders import (
    SHOPIFY_LINE_IDS,
    SHOPIFY_SKUS,
    decimal_json,
    sfcc_two_shipments,
    shopify_paid_order,
)

from .conftest import SECRETS

SHOPIFY_ORDER_ID = 5100000000000000001  # above 2**53: a float would lose it
V = "/admin/api/2024-10"


def _stock(stack, sku: str, on_hand: int = 10):
    stack.ops("PUT", "/locations/WH1", {"name": "Main", "type": "warehouse", "priority": 1, "address": {}})
    assert stack.ops("PUT", f"/inventory/{sku}/locations/WH1", {"on_hand": on_hand}).status_code == 200


def _ship(stack, fulfillment_order: dict, tracking_number: str, carrier: str) -> None:
    response = stack.ops("POST", f"/fulfillment-orders/{fulfillment_order['fulfillment_order_id']}/ship",
                         {"carrier": carrier, "tracking_number": tracking_number}, retry_unavailable=True)
    assert response.status_code == 201, response.text


def _wait_for_requests(server, predicate, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not predicate(server.requests):
        if time.monotonic() > deadline:
            raise AssertionError([(r["method"], r["path"]) for r in server.requests])
        time.sleep(0.1)
    return server.requests


def easypost_delivered(tracking_code: str) -> bytes:
    event = fixture("easypost/tracker-updated-fedex.json")
    tracker = event["result"]
    tracker.update({"tracking_code": tracking_code, "carrier": "UPS", "status": "delivered",
                    "public_url": f"https://track.easypost.com/{tracking_code}",
                    "status_detail": "arrived_at_destination", "signed_by": "STEVE"})
    tracker["tracking_details"].append({**tracker["tracking_details"][-1], "message": "Delivered",
                                        "status": "delivered", "status_detail": "arrived_at_destination",
                                        "datetime": "2024-08-05T15:02:00Z"})
    return json.dumps(event).encode()


def aftership_delivered(tracking_number: str, at: str) -> bytes:
    payload = copy.deepcopy(fixture("aftership/tracking-update-v4.json"))
    msg = payload["msg"]
    msg.update({"tracking_number": tracking_number, "tag": "Delivered", "subtag": "Delivered_001"})
    msg["checkpoints"].append({**msg["checkpoints"][-1], "tag": "Delivered", "subtag": "Delivered_001",
                               "message": "Delivered", "checkpoint_time": at})
    return json.dumps(payload).encode()


def test_a_shopify_order_goes_to_delivered_with_easypost_and_shopify_is_told(stack, channels):
    shopify = channels["shopify"]
    fulfillment = {"id": 255858046, "order_id": SHOPIFY_ORDER_ID, "status": "success", "shipment_status": None,
                   "tracking_number": "1ZE2ESHOPIFY0001", "tracking_numbers": ["1ZE2ESHOPIFY0001"]}
    orders = f"{V}/orders/{SHOPIFY_ORDER_ID}"
    shopify.answer("GET", f"{orders}/fulfillments.json",
                   sequence=[(200, {"fulfillments": []}), (200, {"fulfillments": [fulfillment]})])
    shopify.answer("GET", f"{orders}/fulfillment_orders.json", body={"fulfillment_orders": [{
        "id": 1046000778, "order_id": SHOPIFY_ORDER_ID, "assigned_location_id": 24826418, "status": "open",
        "line_items": [{"id": 1058737482 + n, "fulfillment_order_id": 1046000778, "line_item_id": line_id,
                        "quantity": 1, "fulfillable_quantity": 1} for n, line_id in enumerate(SHOPIFY_LINE_IDS)]}]})
    shopify.answer("POST", f"{V}/fulfillments.json", status=201, body={"fulfillment": fulfillment})
    shopify.answer("POST", f"{orders}/fulfillments/255858046/events.json", status=201,
                   body={"fulfillment_event": {"id": 1, "status": "delivered"}})
    for sku in SHOPIFY_SKUS:
        _stock(stack, sku)

    raw = json.dumps(shopify_paid_order(SHOPIFY_ORDER_ID)).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": "e2e.myshopify.com",
               "X-Shopify-Hmac-Sha256": sign_shopify(SECRETS["OMS_WEBHOOK_SECRET_ORDERS_SHOPIFY"], raw),
               "X-Shopify-Webhook-Id": "e2e-webhook-1"}
    created = stack.post("/webhooks/orders/shopify", raw, headers)
    assert created.status_code == 202, created.text
    assert stack.post("/webhooks/orders/shopify", raw, headers).json()["order_id"] == created.json()["order_id"]
    order_id = created.json()["order_id"]
    order = stack.wait_for(order_id, lambda o: o["fulfillment_orders"])
    assert order["external_id"] == str(SHOPIFY_ORDER_ID)
    _ship(stack, order["fulfillment_orders"][0], "1ZE2ESHOPIFY0001", "UPS")
    _wait_for_requests(shopify, lambda seen: any(r["method"] == "POST" for r in seen))  # told before tracking

    body = easypost_delivered("1ZE2ESHOPIFY0001")
    signature = sign_easypost(SECRETS["OMS_WEBHOOK_SECRET_TRACKING_EASYPOST"], body)
    assert stack.post("/webhooks/tracking/easypost", body, {"X-Hmac-Signature": signature}).status_code == 202
    order = stack.wait_for(order_id, lambda o: o["status"] == "delivered")
    assert order["fulfillment_orders"][0]["shipments"][0]["signed_by"] == "STEVE"

    requests = _wait_for_requests(shopify, lambda seen: any(r["path"].endswith("/events.json") for r in seen))
    [created_fulfillment] = [r for r in requests if r["method"] == "POST" and r["path"] == f"{V}/fulfillments.json"]
    assert created_fulfillment["headers"]["x-shopify-access-token"] == "shpat_e2e"
    assert created_fulfillment["body"]["fulfillment"]["tracking_info"] == {
        "number": "1ZE2ESHOPIFY0001", "company": "UPS", "url": "https://www.ups.com/track?tracknum=1ZE2ESHOPIFY0001"}
    [by_fulfillment_order] = created_fulfillment["body"]["fulfillment"]["line_items_by_fulfillment_order"]
    assert by_fulfillment_order["fulfillment_order_id"] == 1046000778
    assert len(by_fulfillment_order["fulfillment_order_line_items"]) == 3
    delivered = [r for r in requests if r["path"] == f"{orders}/fulfillments/255858046/events.json"]
    assert [r["body"] for r in delivered] == [{"event": {"status": "delivered"}}]


def test_a_two_shipment_sfcc_order_goes_to_delivered_with_aftership_and_sfcc_is_told(stack, channels):
    sfcc = channels["sfcc"]
    path = "/checkout/orders/v1/organizations/f_ecom_e2e/orders/E2E0001"
    sfcc.answer("GET", path, body={"orderNo": "E2E0001", "status": "new", "shippingStatus": "not_shipped"})
    sfcc.answer("PUT", f"{path}/shipping-status", status=204)
    sfcc.answer("PUT", f"{path}/external-status", status=204)
    for sku in ("701643632930", "SKU-2"):
        _stock(stack, sku)

    raw = decimal_json(sfcc_two_shipments("E2E0001"))
    headers = {"X-OMS-Signature": sign_generic(SECRETS["OMS_WEBHOOK_SECRET_ORDERS_SFCC"], raw, int(time.time()))}
    created = stack.post("/webhooks/orders/sfcc", raw, headers)
    assert created.status_code == 202, created.text
    order_id = created.json()["order_id"]
    order = stack.wait_for(order_id, lambda o: len(o["fulfillment_orders"]) == 2)
    assert [g["shipping_address"]["city"] for g in order["delivery_groups"]] == ["Burlington", "Portland"]
    for n, fulfillment_order in enumerate(order["fulfillment_orders"], start=1):
        _ship(stack, fulfillment_order, f"E2E-SFCC-{n}", "DHL")
    for n, at in ((1, "2026-11-28T10:00:00+00:00"), (2, "2026-11-28T11:00:00+00:00")):
        body = aftership_delivered(f"E2E-SFCC-{n}", at)
        signature = sign_aftership(SECRETS["OMS_WEBHOOK_SECRET_TRACKING_AFTERSHIP"], body)
        response = stack.post("/webhooks/tracking/aftership", body, {"aftership-hmac-sha256": signature})
        assert response.status_code == 202 and response.json()["result"] == "applied", response.text
    stack.wait_for(order_id, lambda o: o["status"] == "delivered")

    def told(seen):
        return any(r["method"] == "PUT" and r["body"] == {"status": "delivered"} for r in seen)
    puts = [(r["path"].split("?")[0].rsplit("/", 1)[1], r["body"]["status"])
            for r in _wait_for_requests(sfcc, told) if r["method"] == "PUT"]
    assert ("shipping-status", "shipped") in puts
    assert ("external-status", "delivered") in puts
    assert all(r["headers"]["authorization"] == "Bearer e2e-sfcc-bearer" for r in sfcc.requests)
