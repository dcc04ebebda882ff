"""The outbound channel clients (Shopify REST Admin API, SFCC SCAPI Orders API) against a
recording HTTP server: the exact requests they send, how they stay idempotent by reading the
channel first, and how the vendors' answers map to ChannelUnavailable / ChannelRejected.

The scripted Shopify answers follow the documented 2024-10 examples (fulfillment_orders.json,
fulfillments.json, refunds.json); the ids are those of the orders/create fixture, which are
64-bit integers and must reach Shopify as JSON integers."""
from __future__ import annotations

import socket

import pytest

from oms.adapters import secrets
from oms.adapters.channels.http import ChannelNotConfigured, VendorRejected, call_json, retry_after
from oms.adapters.channels.notifiers import notifier_for
from oms.adapters.channels.sfcc_orders_api import SfccOrders
from oms.adapters.channels.shopify_admin import ShopifyAdmin, shopify_reason, tracking_company, tracking_url
from oms.services.ports import ChannelItem, ChannelOrder, ChannelRejected, ChannelShipment, ChannelUnavailable
from tests.support.fixtures import fixture

SHOPIFY_ORDER = fixture("shopify/orders-create-2024-10.json")
ORDER_ID = SHOPIFY_ORDER["id"]
LINE_A, LINE_B, LINE_C = (line["id"] for line in SHOPIFY_ORDER["line_items"])
SHOP = "jsmith.myshopify.com"
V = "/admin/api/2024-10"
TOKEN = "shpat_test_token"
LOCATION = 24826418






def shopify_order(status="shipped", shipping_status="shipped", **context) -> ChannelOrder:
    return ChannelOrder(channel="shopify", external_id=str(ORDER_ID), channel_order_number="#9999",
                        context={"shop_domain": SHOP, "order_id": str(ORDER_ID), **context},
                        status=status, shipping_status=shipping_status)


def parcel(*items: ChannelItem, carrier="UPS", tracking="1Z999AA10123456784", url=None) -> ChannelShipment:
    return ChannelShipment(shipment_id="SHP-1", carrier=carrier, tracking_number=tracking, tracking_url=url,
                           service="ground", items=list(items))


def fulfillment_orders(*orders: dict) -> dict:
    """GET orders/{id}/fulfillment_orders.json, shaped like Shopify's documented example."""
    return {"fulfillment_orders": [{
        "id": fo["id"], "shop_id": 548380009, "order_id": ORDER_ID,
        "assigned_location_id": fo.get("location", LOCATION),
        "request_status": "unsubmitted", "status": fo.get("status", "open"),
        "supported_actions": ["create_fulfillment", "move"],
        "destination": {"id": 1046000807, "address1": "Chestnut Street 92", "address2": "", "city": "Louisville",
                        "company": None, "country": "United States", "email": "bob.norman@mail.example.com",
                        "first_name": "Bob", "last_name": "Norman", "phone": "+1(502)-459-2181",
                        "province": "Kentucky", "zip": "40202"},
        "line_items": [{"id": line_id, "shop_id": 548380009, "fulfillment_order_id": fo["id"], "quantity": quantity,
                        "line_item_id": line_item_id, "inventory_item_id": 49148385,
                        "fulfillable_quantity": fulfillable, "variant_id": 49148385}
                       for line_id, line_item_id, quantity, fulfillable in fo["lines"]],
        "international_duties": None, "fulfill_at": None, "fulfill_by": None, "fulfillment_holds": [],
        "created_at": "2024-10-02T09:11:25-05:00", "updated_at": "2024-10-02T09:11:25-05:00",
        "delivery_method": None,
        "assigned_location": {"address1": None, "address2": None, "city": None, "country_code": "US",
                              "location_id": fo.get("location", LOCATION), "name": "Main warehouse", "phone": None,
                              "province": None, "zip": None},
        "merchant_requests": []} for fo in orders]}


def fulfillments(*parcels: dict) -> dict:
    """GET orders/{id}/fulfillments.json, shaped like Shopify's documented example."""
    return {"fulfillments": [{
        "id": p["id"], "order_id": ORDER_ID, "status": p.get("status", "success"),
        "created_at": "2024-10-02T09:02:00-05:00", "service": "manual", "updated_at": "2024-10-02T09:02:00-05:00",
        "tracking_company": "UPS", "shipment_status": p.get("shipment_status"), "location_id": LOCATION,
        "origin_address": None,
        "line_items": [{"id": LINE_A, "variant_id": 49148385, "title": "IPod Nano - 8gb", "quantity": 1,
                        "sku": "SKU2006-001", "fulfillment_service": "manual", "requires_shipping": True,
                        "fulfillable_quantity": 0, "fulfillment_status": "fulfilled"}],
        "tracking_number": p["tracking"], "tracking_numbers": [p["tracking"]],
        "tracking_url": f"https://www.ups.com/track?tracknum={p['tracking']}",
        "tracking_urls": [f"https://www.ups.com/track?tracknum={p['tracking']}"],
        "receipt": {}, "name": "#9999.1", "admin_graphql_api_id": f"gid://shopify/Fulfillment/{p['id']}"}
        for p in parcels]}


def created_fulfillment(fulfillment_id=1069019884) -> dict:
    return {"fulfillment": fulfillments({"id": fulfillment_id, "tracking": "1Z999AA10123456784"})["fulfillments"][0]}


def assert_shopify_headers(request: dict) -> None:
    assert request["headers"]["x-shopify-access-token"] == TOKEN
    assert request["headers"]["accept"] == "application/json"
    if request["method"] in ("POST", "PUT"):
        assert request["headers"]["content-type"] == "application/json"
    assert "idempotency-key" not in request["headers"]  # Shopify's REST API documents none


def sent(server) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in server.requests]


# ---- Shopify: shipped ---------------------------------------------------------------------

def test_shipped_creates_one_fulfillment_over_the_open_fulfillment_orders(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments())
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json", body=fulfillment_orders(
        {"id": 1046000801, "status": "closed", "lines": [(1058737500, LINE_A, 2, 2)]},  # not fulfillable any more
        {"id": 1046000823, "lines": [(1058737564, LINE_A, 1, 1), (1058737565, LINE_B, 1, 1)]},
        {"id": 1046000824, "lines": [(1058737570, LINE_A, 2, 2)]}))  # the same line, split by the merchant
    server.answer("POST", f"{V}/fulfillments.json", status=201, body=created_fulfillment())

    shopify.shipment_shipped(shopify_order(), parcel(
        ChannelItem(str(LINE_A), "SKU2006-001", 3), ChannelItem(None, "GIFT-WRAP", 1)), "ship-SHP-1")

    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json?limit=250"),
                            ("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json"),
                            ("POST", f"{V}/fulfillments.json")]
    for request in server.requests:
        assert_shopify_headers(request)
    assert server.requests[-1]["body"] == {"fulfillment": {
        "line_items_by_fulfillment_order": [
            {"fulfillment_order_id": 1046000823, "fulfillment_order_line_items": [{"id": 1058737564, "quantity": 1}]},
            {"fulfillment_order_id": 1046000824, "fulfillment_order_line_items": [{"id": 1058737570, "quantity": 2}]}],
        "tracking_info": {"number": "1Z999AA10123456784", "company": "UPS",
                          "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
        "notify_customer": True}}
    assert '"fulfillment_order_id":1046000823' in server.requests[-1]["raw"].decode()  # integers, not strings


def test_shipped_uses_the_fulfillment_orders_of_one_location(server, shopify):
    # Shopify fulfils fulfillment orders of a single location per request: the one taking most units.
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments())
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json", body=fulfillment_orders(
        {"id": 1046000823, "location": 655441491, "lines": [(1058737564, LINE_A, 1, 1)]},
        {"id": 1046000824, "lines": [(1058737570, LINE_A, 1, 1), (1058737571, LINE_B, 2, 2)]}))
    server.answer("POST", f"{V}/fulfillments.json", status=201, body=created_fulfillment())

    shopify.shipment_shipped(shopify_order(), parcel(
        ChannelItem(str(LINE_A), "SKU2006-001", 1), ChannelItem(str(LINE_B), "SKU2006-020", 2)), "ship-SHP-1")

    assert server.requests[-1]["body"]["fulfillment"]["line_items_by_fulfillment_order"] == [
        {"fulfillment_order_id": 1046000824, "fulfillment_order_line_items": [
            {"id": 1058737570, "quantity": 1}, {"id": 1058737571, "quantity": 2}]}]


def test_shipped_again_sends_nothing_once_shopify_has_the_tracking_number(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json",
                  body=fulfillments({"id": 255858046, "tracking": "1Z999AA10123456784"}))

    shopify.shipment_shipped(shopify_order(), parcel(ChannelItem(str(LINE_A), "SKU2006-001", 1)), "ship-SHP-1")

    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json?limit=250")]


def test_a_retry_after_a_lost_answer_does_not_post_a_second_fulfillment(server, shopify):
    # The first POST reached Shopify but its answer was a 503; the retry finds the parcel.
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", sequence=[
        (200, fulfillments()), (200, fulfillments({"id": 1069019884, "tracking": "1Z999AA10123456784"}))])
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json",
                  body=fulfillment_orders({"id": 1046000823, "lines": [(1058737564, LINE_A, 1, 1)]}))
    server.answer("POST", f"{V}/fulfillments.json", status=503, body={"errors": "Service Unavailable"})
    item = ChannelItem(str(LINE_A), "SKU2006-001", 1)

    with pytest.raises(ChannelUnavailable):
        shopify.shipment_shipped(shopify_order(), parcel(item), "ship-SHP-1")
    shopify.shipment_shipped(shopify_order(), parcel(item), "ship-SHP-1")

    assert [m for m, path in sent(server) if m == "POST"] == ["POST"]


def test_shipped_ignores_a_cancelled_fulfillment_with_the_same_tracking_number(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json",
                  body=fulfillments({"id": 255858046, "tracking": "1Z999AA10123456784", "status": "cancelled"}))
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json",
                  body=fulfillment_orders({"id": 1046000823, "lines": [(1058737564, LINE_A, 1, 1)]}))
    server.answer("POST", f"{V}/fulfillments.json", status=201, body=created_fulfillment())

    shopify.shipment_shipped(shopify_order(), parcel(ChannelItem(str(LINE_A), "SKU2006-001", 1)), "ship-SHP-1")

    assert sent(server)[-1] == ("POST", f"{V}/fulfillments.json")


def test_shipped_is_rejected_when_no_open_fulfillment_order_has_the_lines(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments())
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json", body=fulfillment_orders(
        {"id": 1046000823, "status": "closed", "lines": [(1058737564, LINE_A, 1, 0)]},
        {"id": 1046000824, "lines": [(1058737570, LINE_B, 1, 1)]}))

    with pytest.raises(ChannelRejected, match="no open fulfillment order line"):
        shopify.shipment_shipped(shopify_order(), parcel(ChannelItem(str(LINE_A), "SKU2006-001", 1)), "k")
    assert "POST" not in [m for m, _ in sent(server)]


def test_shipped_is_rejected_when_no_line_carries_a_shopify_id(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments())

    with pytest.raises(ChannelRejected, match="Shopify line item id"):
        shopify.shipment_shipped(shopify_order(), parcel(ChannelItem(None, "SKU2006-001", 1)), "k")
    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json?limit=250")]


def test_a_given_tracking_url_is_kept_and_an_unknown_carrier_is_sent_as_given(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments())
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json",
                  body=fulfillment_orders({"id": 1046000823, "lines": [(1058737564, LINE_A, 1, 1)]}))
    server.answer("POST", f"{V}/fulfillments.json", status=201, body=created_fulfillment())
    item = ChannelItem(str(LINE_A), "SKU2006-001", 1)

    shopify.shipment_shipped(shopify_order(), parcel(item, carrier="Royal Mail", tracking="RM1",
                                                     url="https://track.example/RM1"), "k1")
    shopify.shipment_shipped(shopify_order(), parcel(item, carrier="Pony Express", tracking="PX1"), "k2")

    posts = [r["body"]["fulfillment"]["tracking_info"] for r in server.requests if r["method"] == "POST"]
    assert posts == [{"number": "RM1", "company": "Royal Mail", "url": "https://track.example/RM1"},
                     {"number": "PX1", "company": "Pony Express"}]


def test_tracking_urls_and_company_names_for_the_big_carriers():
    carriers = ("ups", "USPS", "FedEx", "DHL", "dhl express")
    assert [(tracking_company(c), tracking_url(c, "12 34")) for c in carriers] == [
        ("UPS", "https://www.ups.com/track?tracknum=12%2034"),
        ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels=12%2034"),
        ("FedEx", "https://www.fedex.com/fedextrack/?trknbr=12%2034"),
        ("DHL Express", "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id=12%2034"),
        ("DHL Express", "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id=12%2034")]
    assert (tracking_company("Canada Post"), tracking_url("Canada Post", "1")) == ("Canada Post", None)


# ---- Shopify: delivered -------------------------------------------------------------------

def test_delivered_posts_a_delivered_event_on_the_fulfillment_with_the_tracking_number(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments(
        {"id": 255858046, "tracking": "OTHER1", "shipment_status": "in_transit"},
        {"id": 1069019884, "tracking": "1Z999AA10123456784", "shipment_status": "in_transit"}))
    server.answer("POST", f"{V}/orders/{ORDER_ID}/fulfillments/1069019884/events.json", status=201,
                  body={"fulfillment_event": {"id": 944956394, "fulfillment_id": 1069019884, "status": "delivered"}})

    shopify.shipment_delivered(shopify_order(status="delivered"), parcel(), "delivered-SHP-1")

    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json?limit=250"),
                            ("POST", f"{V}/orders/{ORDER_ID}/fulfillments/1069019884/events.json")]
    assert server.requests[-1]["body"] == {"event": {"status": "delivered"}}
    assert_shopify_headers(server.requests[-1])


def test_delivered_again_sends_nothing(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments(
        {"id": 1069019884, "tracking": "1Z999AA10123456784", "shipment_status": "delivered"}))

    shopify.shipment_delivered(shopify_order(status="delivered"), parcel(), "delivered-SHP-1")

    assert len(server.requests) == 1


def test_delivered_before_the_fulfillment_exists_is_retried_later(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments())

    with pytest.raises(ChannelUnavailable, match="no fulfillment with tracking number 1Z999AA10123456784"):
        shopify.shipment_delivered(shopify_order(status="delivered"), parcel(), "delivered-SHP-1")


# ---- Shopify: cancellations ---------------------------------------------------------------

def order_body(cancelled_at=None) -> dict:
    return {"order": {"id": ORDER_ID, "cancelled_at": cancelled_at}}


def test_whole_order_cancel_posts_cancel_once(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}.json", body=order_body())
    server.answer("POST", f"{V}/orders/{ORDER_ID}/cancel.json",
                  body={"order": {"id": ORDER_ID, "cancelled_at": "2024-10-02T09:00:00-05:00"}})

    shopify.order_cancelled(shopify_order(status="cancelled"), [], whole_order=True, reason="Customer",
                            idempotency_key="cancel-1")

    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}.json?fields=id,cancelled_at"),
                            ("POST", f"{V}/orders/{ORDER_ID}/cancel.json")]
    assert server.requests[-1]["body"] == {"reason": "customer", "email": False}
    assert_shopify_headers(server.requests[-1])


def test_whole_order_cancel_of_a_cancelled_order_sends_nothing(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}.json", body=order_body("2024-10-02T09:00:00-05:00"))

    shopify.order_cancelled(shopify_order(status="cancelled"), [], whole_order=True, reason="other",
                            idempotency_key="cancel-1")

    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}.json?fields=id,cancelled_at")]


def test_a_422_from_cancel_is_done_when_the_order_turns_out_cancelled(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}.json",
                  sequence=[(200, order_body()), (200, order_body("2024-10-02T09:00:00-05:00"))])
    server.answer("POST", f"{V}/orders/{ORDER_ID}/cancel.json", status=422,
                  body={"error": "Cannot cancel an order that has already been cancelled"})

    shopify.order_cancelled(shopify_order(status="cancelled"), [], whole_order=True, reason="fraud",
                            idempotency_key="cancel-1")

    assert server.requests[1]["body"] == {"reason": "fraud", "email": False}


def test_a_422_from_cancel_of_an_open_order_is_a_rejection_with_shopifys_words(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}.json", body=order_body())
    server.answer("POST", f"{V}/orders/{ORDER_ID}/cancel.json", status=422,
                  body={"error": "Cannot cancel an order that has been fulfilled"})

    with pytest.raises(ChannelRejected, match="422 Cannot cancel an order that has been fulfilled") as refused:
        shopify.order_cancelled(shopify_order(), [], whole_order=True, reason="x", idempotency_key="c")
    assert refused.value.status == 422


def test_cancel_reasons_map_to_shopifys():
    assert [shopify_reason(r) for r in ("customer", "INVENTORY", "out_of_stock", "payment_declined", "typo")] == [
        "customer", "inventory", "inventory", "declined", "other"]


def test_partial_cancel_records_a_refund_of_the_lines_with_our_key_as_its_note(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/refunds.json", body={"refunds": [
        {"id": 509562969, "order_id": ORDER_ID, "note": "it broke during shipping", "restock": True,
         "refund_line_items": [], "transactions": [], "order_adjustments": []}]})
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json", body=fulfillment_orders(
        {"id": 1046000823, "lines": [(1058737564, LINE_A, 2, 2), (1058737565, LINE_B, 1, 1)]}))
    server.answer("POST", f"{V}/orders/{ORDER_ID}/refunds.json", status=201,
                  body={"refund": {"id": 929361466, "order_id": ORDER_ID, "note": "cancel-lines-1"}})

    shopify.order_cancelled(shopify_order(status="processing"),
                            [ChannelItem(str(LINE_A), "SKU2006-001", 1), ChannelItem(str(LINE_C), "SKU2006-035", 1),
                             ChannelItem(None, "NO-ID", 1)],
                            whole_order=False, reason="customer", idempotency_key="cancel-lines-1")

    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}/refunds.json?limit=250"),
                            ("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json"),
                            ("POST", f"{V}/orders/{ORDER_ID}/refunds.json")]
    assert server.requests[-1]["body"] == {"refund": {"note": "cancel-lines-1", "notify": False, "refund_line_items": [
        {"line_item_id": LINE_A, "quantity": 1, "restock_type": "cancel", "location_id": LOCATION},
        {"line_item_id": LINE_C, "quantity": 1, "restock_type": "cancel"}]}}
    assert_shopify_headers(server.requests[-1])


def test_partial_cancel_again_sends_nothing_once_the_refund_is_there(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/refunds.json", body={"refunds": [
        {"id": 929361466, "order_id": ORDER_ID, "note": "cancel-lines-1", "refund_line_items": []}]})

    shopify.order_cancelled(shopify_order(), [ChannelItem(str(LINE_A), "SKU2006-001", 1)], whole_order=False,
                            reason="customer", idempotency_key="cancel-lines-1")

    assert sent(server) == [("GET", f"{V}/orders/{ORDER_ID}/refunds.json?limit=250")]


# ---- Shopify: answers, configuration ------------------------------------------------------

def test_429_with_retry_after_is_unavailable_for_that_long(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", status=429,
                  body={"errors": "Exceeded 2 calls per second for api client. "
                                  "Reduce request rates to resume uninterrupted service."},
                  headers={"Retry-After": "2.0"})

    with pytest.raises(ChannelUnavailable, match="429 Exceeded 2 calls per second") as busy:
        shopify.shipment_delivered(shopify_order(), parcel(), "k")
    assert busy.value.retry_after == 2.0


def test_503_is_unavailable_without_a_retry_after(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", status=503, body="<html>down</html>")

    with pytest.raises(ChannelUnavailable, match="503") as busy:
        shopify.shipment_delivered(shopify_order(), parcel(), "k")
    assert busy.value.retry_after is None


def test_404_and_422_are_rejections(server, shopify):
    # An order Shopify does not know: the server's default 404 {"errors": "Not Found"}.
    with pytest.raises(ChannelRejected, match="404 Not Found"):
        shopify.shipment_delivered(shopify_order(), parcel(), "k")

    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments())
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillment_orders.json",
                  body=fulfillment_orders({"id": 1046000823, "lines": [(1058737564, LINE_A, 1, 1)]}))
    server.answer("POST", f"{V}/fulfillments.json", status=422,
                  body={"errors": ["Invalid fulfillment order line item quantity requested."]})
    with pytest.raises(ChannelRejected, match="Invalid fulfillment order line item quantity"):
        shopify.shipment_shipped(shopify_order(), parcel(ChannelItem(str(LINE_A), "SKU2006-001", 1)), "k")


def test_the_configured_base_url_replaces_the_shop_domain(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments(
        {"id": 1, "tracking": "1Z999AA10123456784", "shipment_status": "delivered"}))

    shopify.shipment_delivered(shopify_order(), parcel(), "k")

    assert server.requests[0]["headers"]["host"] == server.url.removeprefix("http://")


def test_without_a_base_url_the_shop_domain_is_called_over_https(monkeypatch):
    monkeypatch.delenv("OMS_CHANNEL_BASE_URL_SHOPIFY", raising=False)
    monkeypatch.delenv("OMS_SHOPIFY_API_VERSION", raising=False)
    assert ShopifyAdmin().admin_url(SHOP, "fulfillments.json") == \
        "https://jsmith.myshopify.com/admin/api/2024-10/fulfillments.json"
    monkeypatch.setenv("OMS_SHOPIFY_API_VERSION", "2025-01")
    assert ShopifyAdmin().admin_url(SHOP, "fulfillments.json") == \
        "https://jsmith.myshopify.com/admin/api/2025-01/fulfillments.json"


def test_missing_token_or_shop_domain_is_a_configuration_problem(server, shopify, monkeypatch):
    # A forged X-Shopify-Shop-Domain must never receive the access token.
    for forged in ("evil.example/steal?", "attacker.example.com", "shop.myshopify.com.evil.example"):
        with pytest.raises(ChannelNotConfigured, match="shop_domain"):
            shopify.shipment_delivered(shopify_order(shop_domain=forged), parcel(), "k")
    monkeypatch.delenv("OMS_CHANNEL_TOKEN_SHOPIFY")
    with pytest.raises(ChannelNotConfigured, match="access token"):
        shopify.shipment_delivered(shopify_order(), parcel(), "k")
    assert server.requests == []


def test_network_errors_and_timeouts_are_unavailable(server, monkeypatch):
    monkeypatch.setenv("OMS_CHANNEL_TOKEN_SHOPIFY", TOKEN)
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SHOPIFY", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(ChannelUnavailable, match="URLError"):
        ShopifyAdmin().shipment_delivered(shopify_order(), parcel(), "k")

    monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SHOPIFY", server.url)
    server.answer("GET", f"{V}/orders/{ORDER_ID}/fulfillments.json", body=fulfillments(), delay=1.0)
    with pytest.raises(ChannelUnavailable, match="timed out"):
        ShopifyAdmin(timeout=0.2).shipment_delivered(shopify_order(), parcel(), "k")


def test_redirects_are_not_followed(server):
    server.answer("GET", "/moved", status=301, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(VendorRejected) as refused:
        call_json("GET", f"{server.url}/moved", channel="shopify", headers={"X-Shopify-Access-Token": TOKEN})
    assert refused.value.status == 301
    assert sent(server) == [("GET", "/moved")]


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None


# ---- SFCC ---------------------------------------------------------------------------------

SFCC_BASE = "/checkout/orders/v1/organizations/f_ecom_zzxy_prd/orders/00000410"
SITE = "?siteId=RefArch"




def sfcc_order(status="shipped", shipping_status="shipped", **context) -> ChannelOrder:
    return ChannelOrder(channel="sfcc", external_id="00000410", channel_order_number="00000410",
                        context={"order_no": "00000410", **context}, status=status, shipping_status=shipping_status)


def sfcc_document(status="new", shipping_status="not_shipped", external=None) -> dict:
    """GET .../orders/{orderNo}, shaped like the Orders API's OrderGet example."""
    document = {"orderNo": "00000410", "siteId": "RefArch", "status": status, "shippingStatus": shipping_status,
                "confirmationStatus": "confirmed", "exportStatus": "exported", "paymentStatus": "paid",
                "currency": "USD", "orderTotal": 110.24, "customerInfo": {"email": "no-reply@salesforce.com"},
                "productItems": [{"itemId": "3390171e44271bad9c36592049", "productId": "701643632930",
                                  "quantity": 1, "shipmentId": "me", "taxRate": 0.05}],
                "shipments": [{"shipmentId": "me", "shipmentNo": "00000001", "shippingStatus": shipping_status}]}
    if external:
        document["externalOrderStatus"] = external
    return document


def puts(server) -> list[tuple[str, dict]]:
    return [(r["path"], r["body"]) for r in server.requests if r["method"] == "PUT"]


def test_sfcc_shipped_sets_shipping_and_external_status(server, sfcc):
    server.answer("GET", SFCC_BASE, body=sfcc_document())
    server.answer("PUT", f"{SFCC_BASE}/shipping-status", status=204)
    server.answer("PUT", f"{SFCC_BASE}/external-status", status=204)

    sfcc.shipment_shipped(sfcc_order(), parcel(), "ship-SHP-1")

    assert sent(server) == [("GET", SFCC_BASE + SITE), ("PUT", f"{SFCC_BASE}/shipping-status{SITE}"),
                            ("PUT", f"{SFCC_BASE}/external-status{SITE}")]
    assert puts(server) == [(f"{SFCC_BASE}/shipping-status{SITE}", {"status": "shipped"}),
                            (f"{SFCC_BASE}/external-status{SITE}", {"status": "shipped"})]
    for request in server.requests:
        assert request["headers"]["authorization"] == "Bearer sfcc-bearer"
        assert request["headers"]["correlation-id"] == "ship-SHP-1"
        assert "idempotency-key" not in request["headers"]
    assert server.requests[1]["headers"]["content-type"] == "application/json"


def test_sfcc_part_shipped(server, sfcc):
    server.answer("GET", SFCC_BASE, body=sfcc_document())
    server.answer("PUT", f"{SFCC_BASE}/shipping-status", status=204)
    server.answer("PUT", f"{SFCC_BASE}/external-status", status=204)

    sfcc.shipment_shipped(sfcc_order(status="partially_shipped", shipping_status="part_shipped"), parcel(), "k")

    assert [body for _, body in puts(server)] == [{"status": "part_shipped"}, {"status": "partially_shipped"}]


def test_sfcc_shipped_again_or_late_sends_no_change(server, sfcc):
    server.answer("GET", SFCC_BASE, sequence=[
        (200, sfcc_document(shipping_status="shipped", external="shipped")),
        (200, sfcc_document(shipping_status="shipped", external="delivered"))])

    sfcc.shipment_shipped(sfcc_order(), parcel(), "k")  # SFCC has it already
    sfcc.shipment_shipped(sfcc_order(status="partially_shipped", shipping_status="part_shipped"), parcel(), "k")

    assert puts(server) == []


def test_sfcc_delivered_moves_the_external_status(server, sfcc):
    server.answer("GET", SFCC_BASE, body=sfcc_document(shipping_status="shipped", external="shipped"))
    server.answer("PUT", f"{SFCC_BASE}/external-status", status=204)

    sfcc.shipment_delivered(sfcc_order(status="delivered"), parcel(), "delivered-SHP-1")

    assert puts(server) == [(f"{SFCC_BASE}/external-status{SITE}", {"status": "delivered"})]


def test_sfcc_whole_order_cancel_sets_the_order_status_once(server, sfcc):
    server.answer("GET", SFCC_BASE, sequence=[
        (200, sfcc_document()), (200, sfcc_document(status="cancelled", external="cancelled"))])
    server.answer("PUT", f"{SFCC_BASE}/status", status=204)
    server.answer("PUT", f"{SFCC_BASE}/external-status", status=204)
    order = sfcc_order(status="cancelled", shipping_status="not_shipped")

    sfcc.order_cancelled(order, [], whole_order=True, reason="customer", idempotency_key="cancel-1")
    sfcc.order_cancelled(order, [], whole_order=True, reason="customer", idempotency_key="cancel-1")

    assert puts(server) == [(f"{SFCC_BASE}/status{SITE}", {"status": "cancelled"}),
                            (f"{SFCC_BASE}/external-status{SITE}", {"status": "cancelled"})]


def test_sfcc_partial_cancel_notes_it_in_the_external_status(server, sfcc):
    server.answer("GET", SFCC_BASE, body=sfcc_document())
    server.answer("PUT", f"{SFCC_BASE}/external-status", status=204)

    sfcc.order_cancelled(sfcc_order(status="processing", shipping_status="not_shipped"),
                         [ChannelItem("3390171e44271bad9c36592049", "701643632930", 1)], whole_order=False,
                         reason="customer", idempotency_key="cancel-lines-1")

    assert puts(server) == [(f"{SFCC_BASE}/external-status{SITE}", {"status": "partially_cancelled"})]


def test_sfcc_cancelling_the_unshipped_rest_completes_the_shipping_status(server, sfcc):
    server.answer("GET", SFCC_BASE, body={**sfcc_document(), "shippingStatus": "part_shipped"})
    server.answer("PUT", f"{SFCC_BASE}/shipping-status", status=204)
    server.answer("PUT", f"{SFCC_BASE}/external-status", status=204)

    sfcc.order_cancelled(sfcc_order(status="shipped", shipping_status="shipped"),
                         [ChannelItem("3390171e44271bad9c36592049", "701643632930", 1)], whole_order=False,
                         reason="customer", idempotency_key="cancel-lines-2")

    assert puts(server) == [(f"{SFCC_BASE}/shipping-status{SITE}", {"status": "shipped"}),
                            (f"{SFCC_BASE}/external-status{SITE}", {"status": "partially_cancelled"})]


def test_sfcc_organization_and_site_from_the_order_context(server, sfcc):
    path = "/checkout/orders/v1/organizations/f_ecom_abcd_stg/orders/00000410"
    server.answer("GET", path, body=sfcc_document(shipping_status="shipped", external="shipped"))

    sfcc.shipment_shipped(sfcc_order(organization_id="f_ecom_abcd_stg", site_id="SiteGenesis"), parcel(), "k")

    assert sent(server) == [("GET", f"{path}?siteId=SiteGenesis")]


def test_sfcc_errors(server, sfcc):
    server.answer("GET", SFCC_BASE, status=404, body={
        "type": "https://api.commercecloud.salesforce.com/documentation/error/v1/errors/order-not-found",
        "title": "Order Not Found", "detail": "No order with number '00000410' was found."})
    with pytest.raises(ChannelRejected, match="404 Order Not Found - No order with number '00000410' was found"):
        sfcc.shipment_shipped(sfcc_order(), parcel(), "k")


def test_sfcc_busy_and_down(server, sfcc):
    server.answer("GET", SFCC_BASE, sequence=[(429, {"title": "Too Many Requests"}, {"Retry-After": "30"}),
                                              (503, {"title": "Service Unavailable"})])
    with pytest.raises(ChannelUnavailable) as busy:
        sfcc.shipment_shipped(sfcc_order(), parcel(), "k")
    assert busy.value.retry_after == 30.0
    with pytest.raises(ChannelUnavailable, match="503 Service Unavailable"):
        sfcc.shipment_shipped(sfcc_order(), parcel(), "k")


def test_sfcc_needs_a_base_url_and_an_organization(server, sfcc, monkeypatch):
    monkeypatch.delenv("OMS_SFCC_ORGANIZATION_ID")
    with pytest.raises(ChannelNotConfigured, match="OMS_SFCC_ORGANIZATION_ID"):
        sfcc.shipment_shipped(sfcc_order(), parcel(), "k")
    monkeypatch.delenv("OMS_CHANNEL_BASE_URL_SFCC")
    with pytest.raises(ChannelNotConfigured, match="OMS_CHANNEL_BASE_URL_SFCC"):
        sfcc.shipment_shipped(sfcc_order(organization_id="f_ecom_zzxy_prd"), parcel(), "k")
    assert server.requests == []


# ---- wiring -------------------------------------------------------------------------------

def test_notifier_for_each_channel():
    assert isinstance(notifier_for("shopify"), ShopifyAdmin)
    assert isinstance(notifier_for("sfcc"), SfccOrders)
    assert notifier_for("generic") is None


def test_channel_tokens_come_from_env_locally_and_secrets_manager_in_aws(monkeypatch):
    monkeypatch.setenv("OMS_CHANNEL_TOKEN_SHOPIFY", "local-token")
    assert secrets.channel_token("shopify") == "local-token"

    asked = []
    monkeypatch.setenv("OMS_SECRETS", "secretsmanager")
    monkeypatch.setattr(secrets, "_from_secrets_manager", lambda secret_id: asked.append(secret_id) or "aws-token")
    assert secrets.channel_token("sfcc") == "aws-token"
    assert asked == ["oms/test/channels/sfcc/token"]
