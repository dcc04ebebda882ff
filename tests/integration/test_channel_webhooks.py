"""Shopify and Salesforce B2C Commerce orders in through their webhooks, and the channel
told what happened through its API (a recording HTTP server stands in for the vendor)."""
from __future__ import annotations

import copy
import json

import pytest

from tests.integration.conftest import table_items
from tests.support.fixtures import fixture_bytes
from tests.support.recording_server import RecordingServer
from tests.support.vendor_orders import (
    SHOPIFY,
    SHOPIFY_LINE_IDS,
    SHOPIFY_ORDER_ID,
    SHOPIFY_SKUS,
    decimal_json,
    sfcc_two_shipments,
    shopify_paid_order,
)

SHOPIFY_RAW = fixture_bytes("shopify/orders-create-2024-10.json")
LINE_IDS = SHOPIFY_LINE_IDS
V = "/admin/api/2024-10"
SFCC_ORDERS = "/checkout/orders/v1/organizations/f_ecom_zzte_053/orders"


@pytest.fixture
def shop(stocked, monkeypatch):
    for sku in SHOPIFY_SKUS:
        stocked.stock(sku, 10)
    stocked.pipeline.drain()
    with RecordingServer() as server:
        monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SHOPIFY", server.url)
        stocked.server = server
        yield stocked


def requests_to(server, method: str, suffix: str) -> list[dict]:
    return [r for r in server.requests if r["method"] == method and r["path"].split("?")[0].endswith(suffix)]


# ---- Shopify in ----------------------------------------------------------------------------------

def test_the_shopify_fixture_as_sent_is_received_once_however_often_shopify_retries(stocked):
    first = stocked.shopify(SHOPIFY_RAW)
    assert first.status_code == 202, first.body
    for _ in range(3):  # Shopify redelivers the same webhook
        again = stocked.shopify(SHOPIFY_RAW)
        assert again.status_code == 200 and again.json_body["order_id"] == first.json_body["order_id"]
    stocked.pipeline.drain()
    order = stocked.order(first.json_body["order_id"])
    assert (order["channel"], order["external_id"], order["channel_order_number"]) == (
        "shopify", str(SHOPIFY_ORDER_ID), "#9999")
    assert order["totals"]["total"] == "359.97" and order["currency"] == "USD"
    # The documented example was created already cancelled (voided, cancelled_at set).
    assert order["status"] == "cancelled"
    assert [h["event_type"] for h in order["history"]][:3] == ["OrderReceived", "OrderLinesCancelled",
                                                               "OrderCancelled"]
    refs = [i for i in table_items() if i["pk"]["S"].startswith("EXT#shopify#")]
    assert len(refs) == 1


def test_a_tampered_shopify_body_or_a_wrong_secret_is_401_and_writes_nothing(stocked):
    items = table_items()
    from oms.adapters.signatures import sign_shopify

    good = sign_shopify("shopify-app-secret", SHOPIFY_RAW)
    tampered = SHOPIFY_RAW.replace(b'"359.97"', b'"0.01"', 1)
    for response in (stocked.vendor("/webhooks/orders/shopify", tampered, {"X-Shopify-Hmac-Sha256": good}),
                     stocked.shopify(SHOPIFY_RAW, secret="another-app"),
                     stocked.vendor("/webhooks/orders/shopify", SHOPIFY_RAW, {"X-Shopify-Topic": "orders/create"})):
        assert response.status_code == 401, response.body
    assert table_items() == items


def test_a_payload_the_shopify_mapper_cannot_understand_is_422_and_writes_nothing(stocked):
    items = table_items()
    response = stocked.shopify({**SHOPIFY, "line_items": "three things"})
    assert response.status_code == 422
    assert response.json_body["error"]["details"][0]["field"] == "line_items"
    assert table_items() == items


def test_a_shopify_order_without_skus_is_held_not_refused(stocked):
    order = shopify_paid_order()
    order["line_items"][0]["sku"] = None
    response = stocked.shopify(order)
    assert response.status_code == 202
    stocked.pipeline.drain()
    view = stocked.order(response.json_body["order_id"])
    assert view["status"] == "on_hold"
    assert [h["type"] for h in view["holds"]] == ["unknown_sku"]
    assert "L1 have no SKU" in view["holds"][0]["detail"]


def test_a_paid_shopify_order_ships_and_shopify_gets_a_fulfillment_then_delivered(shop):
    server = shop.server
    fulfillment = {"id": 255858046, "order_id": SHOPIFY_ORDER_ID, "status": "success", "shipment_status": None,
                   "tracking_number": "1Z999AA10123456784", "tracking_numbers": ["1Z999AA10123456784"]}
    server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}/fulfillments.json",
                  sequence=[(200, {"fulfillments": []}), (200, {"fulfillments": [fulfillment]})])
    server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}/fulfillment_orders.json", body={"fulfillment_orders": [{
        "id": 1046000778, "order_id": SHOPIFY_ORDER_ID, "assigned_location_id": 24826418, "status": "open",
        "line_items": [{"id": 1058737482 + n, "fulfillment_order_id": 1046000778, "line_item_id": line_id,
                        "quantity": 1, "fulfillable_quantity": 1} for n, line_id in enumerate(LINE_IDS)]}]})
    server.answer("POST", f"{V}/fulfillments.json", status=201, body={"fulfillment": fulfillment})
    server.answer("POST", f"{V}/orders/{SHOPIFY_ORDER_ID}/fulfillments/255858046/events.json", status=201,
                  body={"fulfillment_event": {"id": 944956391, "status": "delivered"}})

    order_id = shop.shopify(shopify_paid_order()).json_body["order_id"]
    shop.pipeline.drain()
    view = shop.order(order_id)
    assert view["status"] == "processing" and view["payments"]["status"] == "paid"
    shop.ship(order_id, "1Z999AA10123456784", carrier="UPS")
    shop.pipeline.drain()

    [created] = requests_to(server, "POST", "/fulfillments.json")
    assert created["headers"]["x-shopify-access-token"] == "shpat_test_token"
    assert created["body"] == {"fulfillment": {
        "line_items_by_fulfillment_order": [{"fulfillment_order_id": 1046000778, "fulfillment_order_line_items": [
            {"id": 1058737482, "quantity": 1}, {"id": 1058737483, "quantity": 1}, {"id": 1058737484, "quantity": 1}]}],
        "tracking_info": {"number": "1Z999AA10123456784", "company": "UPS",
                          "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
        "notify_customer": True}}

    delivered = {"tracking_number": "1Z999AA10123456784", "status": "delivered",
                 "occurred_at": "2026-11-27T15:00:00Z", "description": "Left at front door"}
    assert shop.webhook("tracking", delivered).status_code == 202
    shop.pipeline.drain()
    [event] = requests_to(server, "POST", "/fulfillments/255858046/events.json")
    assert event["body"] == {"event": {"status": "delivered"}}
    assert shop.order(order_id)["status"] == "delivered"


def test_shopify_cancelling_an_unshipped_order_gives_stock_back_and_is_not_echoed_to_shopify(shop):
    order_id = shop.shopify(shopify_paid_order()).json_body["order_id"]
    shop.pipeline.drain()
    assert shop.ops("GET", "/inventory/SKU2006-001").json_body["totals"]["available"] == 9
    cancelled = {**shopify_paid_order(), "cancelled_at": "2026-11-26T12:00:00-05:00", "cancel_reason": "customer"}
    response = shop.shopify(cancelled, topic="orders/cancelled")
    assert response.status_code == 200 and response.json_body["result"] == "cancelled"
    assert shop.shopify(cancelled, topic="orders/cancelled").json_body["result"] == "nothing_to_cancel"
    shop.pipeline.drain()
    assert shop.order(order_id)["status"] == "cancelled"
    assert shop.ops("GET", "/inventory/SKU2006-001").json_body["totals"]["available"] == 10
    assert shop.server.requests == []  # Shopify cancelled it: nothing to tell Shopify


def test_a_cancellation_before_its_order_is_404_so_shopify_sends_it_again_later(stocked):
    response = stocked.shopify(shopify_paid_order(), topic="orders/cancelled")
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "order_not_found"


def test_an_unpaid_shopify_order_waits_for_orders_paid(shop):
    order_id = shop.shopify(shopify_paid_order(financial_status="pending")).json_body["order_id"]
    shop.pipeline.drain()
    view = shop.order(order_id)
    assert [h["type"] for h in view["holds"]] == ["awaiting_payment"]
    assert shop.shopify(shopify_paid_order(), topic="orders/paid").json_body["result"] == "recorded"
    assert shop.shopify(shopify_paid_order(), topic="orders/paid").json_body["result"] == "already_recorded"
    shop.pipeline.drain()
    view = shop.order(order_id)
    assert view["holds"] == [] and view["status"] == "processing" and view["fulfillment_orders"]


def test_an_operator_cancel_is_sent_to_shopify(shop):
    server = shop.server
    server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}.json", body={"order": {
        "id": SHOPIFY_ORDER_ID, "cancelled_at": None}})
    server.answer("POST", f"{V}/orders/{SHOPIFY_ORDER_ID}/cancel.json", body={"order": {"id": SHOPIFY_ORDER_ID}})
    order_id = shop.shopify(shopify_paid_order()).json_body["order_id"]
    shop.pipeline.drain()
    response = shop.ops("POST", f"/orders/{order_id}/cancel", {"reason": "out of stock"})
    assert response.status_code == 200, response.body
    shop.pipeline.drain()
    [cancel] = requests_to(server, "POST", "/cancel.json")
    assert cancel["body"] == {"reason": "inventory", "email": False}
    assert cancel["headers"]["x-shopify-access-token"] == "shpat_test_token"


def test_an_address_an_agent_corrects_reaches_shopify_through_the_queue(shop):
    server = shop.server
    server.answer("POST", f"{V}/graphql.json", body={"data": {"orderUpdate": {
        "order": {"id": f"gid://shopify/Order/{SHOPIFY_ORDER_ID}"}, "userErrors": []}}})
    order_id = shop.shopify(shopify_paid_order()).json_body["order_id"]
    shop.pipeline.drain()
    group = shop.order(order_id)["delivery_groups"][0]["group_id"]
    address = {"name": "Bob Norman", "line1": "1 Infinite Loop", "city": "Cupertino", "region": "CA",
               "postal_code": "95014", "country": "US"}
    response = shop.ops("PATCH", f"/orders/{order_id}/delivery-groups/{group}", {"shipping_address": address})
    assert response.status_code == 200, response.body
    shop.pipeline.drain()
    [update] = requests_to(server, "POST", "/graphql.json")
    assert update["body"]["variables"]["input"]["shippingAddress"]["city"] == "Cupertino"


def test_shopify_down_is_retried_until_it_answers(shop):
    server = shop.server
    server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}/fulfillments.json", body={"fulfillments": []})
    server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}/fulfillment_orders.json", body={"fulfillment_orders": [{
        "id": 1, "order_id": SHOPIFY_ORDER_ID, "assigned_location_id": 2, "status": "open",
        "line_items": [{"id": 10 + n, "fulfillment_order_id": 1, "line_item_id": line_id, "quantity": 1,
                        "fulfillable_quantity": 1} for n, line_id in enumerate(LINE_IDS)]}]})
    server.answer("POST", f"{V}/fulfillments.json", sequence=[
        (503, {"errors": "Service Unavailable"}),
        (429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "0"}),
        (201, {"fulfillment": {"id": 5}})])
    order_id = shop.shopify(shopify_paid_order()).json_body["order_id"]
    shop.pipeline.drain()
    shop.ship(order_id, "1Z999AA10123456784", carrier="UPS")
    shop.pipeline.drain()
    assert [r["path"] for r in requests_to(server, "POST", "/fulfillments.json")] == [f"{V}/fulfillments.json"] * 3
    assert shop.pipeline.queue_depth("ChannelUpdatesDeadLetterQueue") == 0


def test_a_request_shopify_keeps_refusing_ends_in_the_dead_letter_queue(shop):
    order_id = shop.shopify(shopify_paid_order()).json_body["order_id"]
    shop.pipeline.drain()
    shop.ship(order_id, "1Z999AA10123456784", carrier="UPS")  # nothing scripted: Shopify answers 404
    shop.pipeline.drain()
    assert shop.pipeline.queue_depth("ChannelUpdatesDeadLetterQueue") == 1
    assert len(requests_to(shop.server, "GET", "/fulfillments.json")) == 8  # maxReceiveCount


# ---- SFCC in -----------------------------------------------------------------------------------

def test_the_sfcc_fixture_is_received_with_its_totals_and_held_for_its_missing_email(stocked):
    response = stocked.sfcc(fixture_bytes("sfcc/order-create-full.json"))
    assert response.status_code == 202, response.body
    stocked.pipeline.drain()
    order = stocked.order(response.json_body["order_id"])
    assert order["totals"]["total"] == "113.24" and order["totals"]["tax"] == "7.90"
    assert order["channel_order_number"] == "00000041"
    assert "invalid_customer" in [h["type"] for h in order["holds"]]  # the example has no e-mail


def test_an_sfcc_order_posted_again_is_one_order_and_a_changed_one_is_409(stocked):
    raw = fixture_bytes("sfcc/order-create-simple.json")
    first = stocked.sfcc(raw)
    assert first.status_code == 202
    assert stocked.sfcc(raw).json_body["order_id"] == first.json_body["order_id"]
    changed = raw.replace(b"66.91", b"66.92", 1)
    assert stocked.sfcc(changed).status_code == 409


def test_an_sfcc_body_signed_with_another_secret_is_401(stocked):
    items = table_items()
    assert stocked.sfcc(fixture_bytes("sfcc/order-create-simple.json"), secret="nope").status_code == 401
    assert table_items() == items


def test_a_two_shipment_sfcc_order_ships_to_two_addresses_and_sfcc_is_told(stocked, monkeypatch):
    stocked.stock("701643632930", 5)
    stocked.pipeline.drain()
    with RecordingServer() as server:
        monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SFCC", server.url)
        server.answer("GET", f"{SFCC_ORDERS}/00000077", body={
            "orderNo": "00000077", "status": "new", "shippingStatus": "not_shipped"})
        server.answer("PUT", f"{SFCC_ORDERS}/00000077/shipping-status", status=204)
        server.answer("PUT", f"{SFCC_ORDERS}/00000077/external-status", status=204)
        response = stocked.sfcc(decimal_json(sfcc_two_shipments()))
        assert response.status_code == 202, response.body
        order_id = response.json_body["order_id"]
        stocked.pipeline.drain()
        order = stocked.order(order_id)
        assert order["status"] == "processing", order["holds"]
        assert [g["shipping_address"]["city"] for g in order["delivery_groups"]] == ["Burlington", "Portland"]
        assert [fo["delivery_group"] for fo in order["fulfillment_orders"]] == ["00000001", "00000002"]
        assert order["totals"]["total"] == "138.24"
        stocked.ship(order_id, "TRK-1", "F1")
        stocked.pipeline.drain()
        stocked.ship(order_id, "TRK-2", "F2")
        stocked.pipeline.drain()
        puts = [(r["path"].split("?")[0].rsplit("/", 1)[1], r["body"]) for r in server.requests if r["method"] == "PUT"]
        assert puts == [("shipping-status", {"status": "part_shipped"}),
                        ("external-status", {"status": "partially_shipped"}),
                        ("shipping-status", {"status": "shipped"}),
                        ("external-status", {"status": "shipped"})]
        put = next(r for r in server.requests if r["method"] == "PUT")
        assert put["path"].endswith("?siteId=RefArch")
        assert put["headers"]["authorization"] == "Bearer sfcc-bearer-token"


@pytest.mark.parametrize("times", [2, 8])  # Shopify redelivers up to 8 times
def test_a_channel_order_posted_n_times_is_one_order(stocked, times):
    shopify = [stocked.shopify(shopify_paid_order(), webhook_id=f"w{n % 2}") for n in range(times)]
    sfcc = [stocked.sfcc(decimal_json(sfcc_two_shipments())) for _ in range(times)]
    for answers in (shopify, sfcc):
        assert [a.status_code for a in answers] == [202] + [200] * (times - 1)
        assert len({a.json_body["order_id"] for a in answers}) == 1
    stocked.pipeline.drain()
    received = [i for i in table_items() if i["sk"]["S"].startswith("H#") and "OrderReceived" in json.dumps(i)]
    assert len(received) == 2


def test_orders_from_channels_without_an_api_never_reach_the_channel_updates_queue(stocked):
    from tests.support.orders import canonical_order

    [loop] = [loop for loop in stocked.pipeline.loops if loop.name == "sqs:handle_channel_updates"]
    delivered, invoke = [], loop.invoke

    def counting(event):
        delivered.extend(event["Records"])
        return invoke(event)
    loop.invoke = counting
    order_id = stocked.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    stocked.ship(order_id, "1ZGENERIC")
    stocked.pipeline.drain()
    assert stocked.order(order_id)["status"] == "shipped"
    assert delivered == []  # the rule filters on data.channel


def test_an_already_cancelled_order_is_cancelled_even_if_the_first_delivery_failed_after_storing_it(
        stocked, monkeypatch):
    from oms.services import orders

    cancel = orders.cancel_order

    def failing(*args, **kwargs):
        raise orders.ConcurrentModification("DynamoDB is having a bad minute")
    monkeypatch.setattr(orders, "cancel_order", failing)
    first = stocked.shopify(SHOPIFY_RAW)
    assert first.status_code == 503  # stored, not yet cancelled: Shopify will retry
    monkeypatch.setattr(orders, "cancel_order", cancel)
    retry = stocked.shopify(SHOPIFY_RAW)
    assert retry.status_code == 200 and retry.json_body["status"] == "cancelled"
    stocked.pipeline.drain()
    assert stocked.order(retry.json_body["order_id"])["status"] == "cancelled"


def test_stock_a_cancellation_gives_back_goes_to_a_waiting_order_at_once(stocked):
    from tests.support.orders import canonical_order

    stocked.stock("SCARCE-1", 1)
    stocked.pipeline.drain()
    first = stocked.place(canonical_order(lines=[{"sku": "SCARCE-1", "quantity": 1, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    waiting = stocked.place(canonical_order(lines=[{"sku": "SCARCE-1", "quantity": 1, "unit_price": "10.00"}]))
    stocked.pipeline.drain()
    assert [h["type"] for h in stocked.order(waiting)["holds"]] == ["backorder"]
    assert stocked.ops("POST", f"/orders/{first}/cancel", {"reason": "customer asked"}).status_code == 200
    stocked.pipeline.drain()  # no backorder sweep runs in these tests: the cancellation's event did it
    assert stocked.order(waiting)["holds"] == [] and stocked.order(waiting)["fulfillment_orders"]


def test_gift_cards_and_the_same_sku_on_two_lines_flow_through_to_shopify(shop):
    order = shopify_paid_order()
    gift, duplicate = copy.deepcopy(order["line_items"][0]), copy.deepcopy(order["line_items"][0])
    gift.update({"id": 111, "admin_graphql_api_id": "gid://shopify/LineItem/111", "sku": None, "gift_card": True,
                 "requires_shipping": False, "name": "Gift card", "price": "25.00"})
    duplicate.update({"id": 222, "admin_graphql_api_id": "gid://shopify/LineItem/222"})  # SKU2006-001 again
    order["line_items"] += [gift, duplicate]
    order["total_price"] = "474.96"  # 359.97 + 25.00 + 89.99
    fulfillment_order = {"id": 9, "order_id": SHOPIFY_ORDER_ID, "assigned_location_id": 1, "status": "open",
                         "line_items": [{"id": 90 + n, "fulfillment_order_id": 9, "line_item_id": line_id,
                                         "quantity": 1, "fulfillable_quantity": 1}
                                        for n, line_id in enumerate([*LINE_IDS, 222])]}
    shop.server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}/fulfillments.json", body={"fulfillments": []})
    shop.server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}/fulfillment_orders.json",
                       body={"fulfillment_orders": [fulfillment_order]})
    shop.server.answer("POST", f"{V}/fulfillments.json", status=201, body={"fulfillment": {"id": 1}})

    order_id = shop.shopify(order).json_body["order_id"]
    shop.pipeline.drain()
    view = shop.order(order_id)
    assert view["status"] == "processing", view["holds"]
    lines = {line["line_id"]: line for line in view["lines"]}
    assert lines["L4"]["sku"] == "gift-card-111" and lines["L4"]["status"] == "delivered"
    assert [(line["sku"], line["allocated"]) for line in view["lines"] if line["line_id"] in ("L1", "L5")] == [
        ("SKU2006-001", 1), ("SKU2006-001", 1)]
    assert "gift-card-111" not in [fl["sku"] for fo in view["fulfillment_orders"] for fl in fo["lines"]]
    shop.ship(order_id, "1ZGIFT", carrier="UPS")
    shop.pipeline.drain()
    [created] = requests_to(shop.server, "POST", "/fulfillments.json")
    sent = created["body"]["fulfillment"]["line_items_by_fulfillment_order"][0]["fulfillment_order_line_items"]
    assert sorted(item["id"] for item in sent) == [90, 91, 92, 93]  # the two SKU2006-001 lines, no gift card
    assert shop.order(order_id)["status"] == "shipped"
