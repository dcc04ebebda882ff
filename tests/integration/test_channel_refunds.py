"""Refunds of orders the channel was paid for: the channel refunds them. Shopify through the
Admin API's refunds (read first, so a repeat never refunds twice); SFCC through the payment
status the Orders API allows (it moves no money). Against a recording stand-in; and the whole
path from the ops API through the channel-updates queue for a Shopify order."""
from __future__ import annotations

import json

from oms.services.ports import ChannelRefund, ChannelRejected
from tests.support.fixtures import fixture
from tests.support.harness import OPS

from .test_channel_clients import ORDER_ID, V, sfcc_document, sfcc_order, shopify_order

REFUND = ChannelRefund("o1-R1", "12.50", "USD", "goodwill", fully_refunded=False)
SALE = {"id": 389404469, "order_id": ORDER_ID, "kind": "sale", "gateway": "shopify_payments", "status": "success",
        "amount": "199.65", "currency": "USD"}


def test_shopify_refunds_the_sale_once_with_our_key_as_note(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/refunds.json", body={"refunds": []})
    server.answer("GET", f"{V}/orders/{ORDER_ID}/transactions.json", body={"transactions": [
        {**SALE, "kind": "authorization", "id": 1}, SALE]})
    server.answer("POST", f"{V}/orders/{ORDER_ID}/refunds.json", status=201, body={"refund": {
        "id": 929361462, "note": "o1-R1", "transactions": [{"id": 5, "kind": "refund", "status": "success"}]}})
    result = shopify.refund(shopify_order(), REFUND, idempotency_key="o1-R1")
    assert (result.reference, result.status) == ("929361462", "succeeded")
    post = server.requests[-1]
    assert post["method"] == "POST" and post["body"] == {"refund": {
        "note": "o1-R1", "notify": True, "currency": "USD", "transactions": [
            {"parent_id": 389404469, "amount": "12.50", "kind": "refund", "gateway": "shopify_payments"}]}}


def test_shopify_a_refund_already_there_is_not_made_again(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/refunds.json", body={"refunds": [
        {"id": 929361462, "note": "o1-R1", "transactions": [{"status": "pending"}]}]})
    result = shopify.refund(shopify_order(), REFUND, idempotency_key="o1-R1")
    assert (result.reference, result.status) == ("929361462", "pending")
    assert [r["method"] for r in server.requests] == ["GET"]


def test_shopify_without_a_sale_to_refund_refuses(server, shopify):
    server.answer("GET", f"{V}/orders/{ORDER_ID}/refunds.json", body={"refunds": []})
    server.answer("GET", f"{V}/orders/{ORDER_ID}/transactions.json", body={"transactions": []})
    try:
        shopify.refund(shopify_order(), REFUND, idempotency_key="o1-R1")
    except ChannelRejected as refusal:
        assert "no successful sale" in str(refusal)
    else:
        raise AssertionError("refunded without a sale")


def test_sfcc_sets_the_payment_status_as_far_as_the_api_allows(server, sfcc):
    path = "/checkout/orders/v1/organizations/f_ecom_zzxy_prd/orders/00000410"
    server.answer("GET", path, body=sfcc_document(status="completed", shipping_status="shipped"))
    server.answer("PUT", f"{path}/payment-status", status=204)
    result = sfcc.refund(sfcc_order(), REFUND, idempotency_key="o1-R1")
    assert result.status == "pending"  # the money is refunded by the storefront's payment service
    put = server.requests[-1]
    assert (put["method"], put["body"], put["headers"]["correlation-id"]) == ("PUT", {"status": "part_paid"}, "o1-R1")
    full = sfcc.refund(sfcc_order(), ChannelRefund("o1-R2", "97.74", "USD", "other", fully_refunded=True), "o1-R2")
    assert full.reference == "sfcc:payment-status:not_paid"


def test_a_shopify_paid_order_is_refunded_through_the_channel_updates_queue(api, server, monkeypatch):
    """From the ops API to Shopify: the refund is booked pending, the queue tells Shopify, and
    Shopify's answer settles it."""
    from oms.adapters.signatures import sign_shopify

    monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SHOPIFY", server.url)
    body = fixture("shopify/orders-create-2024-10.json")
    body.update(cancelled_at=None, financial_status="paid")
    api.location("WH1")
    raw = json.dumps(body).encode()
    created = api.vendor("/webhooks/orders/shopify", raw, {
        "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": sign_shopify("shopify-app-secret", raw),
        "X-Shopify-Shop-Domain": "jsmith.myshopify.com"})
    assert created.status_code == 202, created.body
    order_id = created.json_body["order_id"]
    for item in body["line_items"]:
        if item["sku"]:
            api.stock(item["sku"], 10)
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["payments"]["processor"] == "channel", order["holds"]
    shop_order = body["admin_graphql_api_id"].rsplit("/", 1)[1]  # exact; the fixture's "id" went through a float
    server.answer("GET", f"{V}/orders/{shop_order}/refunds.json", body={"refunds": []})
    server.answer("GET", f"{V}/orders/{shop_order}/transactions.json", body={"transactions": [SALE]})
    server.answer("POST", f"{V}/orders/{shop_order}/refunds.json", status=201, body={"refund": {
        "id": 777, "transactions": [{"status": "success"}]}})
    response = api.http.request("POST", f"/orders/{order_id}/refunds", headers=OPS,
                                body=json.dumps({"amount": "10.00", "reason": "goodwill"}).encode())
    assert response.status_code == 201 and response.json_body["status"] == "pending"
    assert response.json_body["processor"] == "channel"
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["refunds"][0]["status"] == "succeeded" and order["payments"]["refunded"] == "10.00"
    posts = [r for r in server.requests if r["method"] == "POST"]
    assert len(posts) == 1 and posts[0]["body"]["refund"]["transactions"][0]["amount"] == "10.00"


# ---- returns told to Shopify -------------------------------------------------------------------------

def _shopify_order_with_returns(returns: list[dict]) -> dict:
    return {"data": {"order": {"returns": {"nodes": returns}, "fulfillments": [{"fulfillmentLineItems": {"nodes": [
        {"id": "gid://shopify/FulfillmentLineItem/11", "quantity": 2,
         "lineItem": {"id": "gid://shopify/LineItem/466157049"}},
        {"id": "gid://shopify/FulfillmentLineItem/12", "quantity": 1,
         "lineItem": {"id": "gid://shopify/LineItem/518995019"}}]}}]}}}


def test_shopify_gets_a_return_for_the_accepted_units_once(server, shopify):
    from oms.services.ports import ChannelReturnItem

    graphql = f"{V}/graphql.json"
    server.answer("POST", graphql, sequence=[
        (200, _shopify_order_with_returns([])),
        (200, {"data": {"returnCreate": {"return": {"id": "gid://shopify/Return/1", "name": "#1001-R1"},
                                         "userErrors": []}}}),
        (200, _shopify_order_with_returns([{"id": "gid://shopify/Return/1", "name": "#1001-R1", "returnLineItems": {
            "nodes": [{"customerNote": "OMS return RMA-7KQ2-M9XD"}]}}]))])
    items = [ChannelReturnItem("466157049", "IPOD2008GREEN", 1, "size_too_small")]
    shopify.return_accepted(shopify_order(), "RMA-7KQ2-M9XD", items, idempotency_key="RMA-7KQ2-M9XD")
    query, mutation = server.requests
    assert query["body"]["variables"] == {"id": f"gid://shopify/Order/{ORDER_ID}"}
    assert mutation["body"]["variables"] == {"input": {
        "orderId": f"gid://shopify/Order/{ORDER_ID}", "notifyCustomer": False, "returnLineItems": [
            {"fulfillmentLineItemId": "gid://shopify/FulfillmentLineItem/11", "quantity": 1,
             "returnReason": "SIZE_TOO_SMALL", "customerNote": "OMS return RMA-7KQ2-M9XD"}]}}
    shopify.return_accepted(shopify_order(), "RMA-7KQ2-M9XD", items, idempotency_key="RMA-7KQ2-M9XD")
    assert len(server.requests) == 3  # the second time Shopify has it: no second return


def test_shopify_refusing_a_return_is_a_refusal(server, shopify):
    from oms.services.ports import ChannelReturnItem

    server.answer("POST", f"{V}/graphql.json", sequence=[
        (200, _shopify_order_with_returns([])),
        (200, {"data": {"returnCreate": {"return": None, "userErrors": [
            {"field": ["returnLineItems"], "message": "Quantity is not returnable"}]}}})])
    try:
        shopify.return_accepted(shopify_order(), "RMA-1", [ChannelReturnItem("466157049", "X", 1, "damaged")],
                                idempotency_key="RMA-1")
    except ChannelRejected as refusal:
        assert "not returnable" in str(refusal)
    else:
        raise AssertionError("a refusal passed for done")


def test_shopify_gets_the_corrected_shipping_address(server, shopify):
    server.answer("POST", f"{V}/graphql.json", sequence=[
        (200, {"data": {"orderUpdate": {"order": {"id": f"gid://shopify/Order/{ORDER_ID}"}, "userErrors": []}}}),
        (200, {"data": {"orderUpdate": {"order": None, "userErrors": [
            {"field": ["shippingAddress", "zip"], "message": "Zip is invalid"}]}}})])
    address = {"name": "Ada King Lovelace", "line1": "1 Infinite Loop", "line2": "", "city": "Cupertino",
               "region": "CA", "postal_code": "95014", "country": "us", "phone": None}
    shopify.shipping_address_changed(shopify_order(), address, idempotency_key="oms:evt")
    assert server.requests[0]["body"]["variables"] == {"input": {
        "id": f"gid://shopify/Order/{ORDER_ID}", "shippingAddress": {
            "address1": "1 Infinite Loop", "address2": "", "city": "Cupertino", "provinceCode": "CA", "zip": "95014",
            "countryCode": "US", "firstName": "Ada", "lastName": "King Lovelace", "phone": None}}}
    try:
        shopify.shipping_address_changed(shopify_order(), address, idempotency_key="oms:evt")
    except ChannelRejected as refusal:
        assert "Zip is invalid" in str(refusal)
    else:
        raise AssertionError("a refusal passed for done")
