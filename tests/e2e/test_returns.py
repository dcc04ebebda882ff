"""A return on the local stack: a customer returns one unit of a delivered order as damaged and
exchanges another for a different size that costs a little more; the warehouse receives both;
the stock, the refund and the difference charged at the local Stripe and the exchange order's
shipment are checked."""
from __future__ import annotations

import time

import requests

from tests.support.orders import canonical_order


def _stock(stack, sku: str, on_hand: int) -> None:
    assert stack.ops("PUT", "/locations/WH1", {"name": "Main", "type": "warehouse", "priority": 1,
                                               "address": {}}).status_code == 200
    assert stack.ops("PUT", f"/inventory/{sku}/locations/WH1", {"on_hand": on_hand}).status_code == 200


def _on_hand(stack, sku: str) -> int:
    return stack.ops("GET", f"/inventory/{sku}").json()["totals"]["on_hand"]


def test_a_damaged_unit_refunded_and_another_exchanged_for_a_different_size(stack):
    for sku, on_hand in (("RET-TEE-M", 5), ("RET-TEE-L", 5)):
        _stock(stack, sku, on_hand)
    order_id = stack.webhook("orders", canonical_order(lines=[
        {"sku": "RET-TEE-M", "quantity": 2, "unit_price": "20.00"}])).json()["order_id"]
    order = stack.wait_for(order_id, lambda o: o["fulfillment_orders"])
    fo = order["fulfillment_orders"][0]["fulfillment_order_id"]
    assert stack.ops("POST", f"/fulfillment-orders/{fo}/ship", {"carrier": "ups",
                                                               "tracking_number": "1ZRETE2E01"}).status_code == 201
    assert stack.webhook("tracking", {"tracking_number": "1ZRETE2E01", "status": "delivered",
                                      "occurred_at": "2026-11-28T10:00:00Z", "description": "Delivered",
                                      "location": "New York"}).status_code == 202
    order = stack.wait_for(order_id, lambda o: o["status"] == "delivered" and o["payments"]["captured"] == "48.20")

    created = requests.post(f"{stack.url}/track/{order['order_number']}/returns",
                            params={"email": "ada@example.com"}, timeout=30, json={"lines": [
                                {"line_id": "L1", "quantity": 1, "reason": "damaged"},
                                {"line_id": "L1", "quantity": 1, "reason": "size_too_small",
                                 "exchange_for": {"sku": "RET-TEE-L", "unit_price": "23.00"}}]})
    assert created.status_code == 201, created.text
    ret = created.json()
    assert ret["refund_estimate"] == "21.60"  # 20.00 + its share of the tax
    assert ret["exchange_credit"] == "21.60" and ret["exchange_charge"] == "1.40"  # the L costs 23.00
    # A price the storefront sent is checked by an agent (the OMS keeps no price list).
    assert ret["status"] == "requested"
    assert stack.ops("POST", f"/returns/{ret['return_id']}/approve", {}).json()["status"] == "approved"
    deadline = time.monotonic() + 30
    while not (exchange_id := stack.ops("GET", f"/returns/{ret['return_id']}").json()["exchange_order_id"]):
        assert time.monotonic() < deadline, "the exchange order was never created"
        time.sleep(0.2)
    exchange = stack.wait_for(exchange_id, lambda o: o["lines"][0]["allocated"] == 1)  # reserved at once
    assert [h["type"] for h in exchange["holds"]] == ["awaiting_return"] and not exchange["fulfillment_orders"]

    tee_m = _on_hand(stack, "RET-TEE-M")
    # The warehouse opens the parcel: one unit torn (the damaged one), one fine (the exchanged one).
    received = stack.ops("POST", f"/returns/{ret['return_id']}/receive", {"location_id": "WH1", "lines": [
        {"line_id": "L1", "quantity": 1, "condition": "damaged"},
        {"line_id": "L1", "quantity": 1, "condition": "sellable"}]})
    assert received.status_code == 200, received.text
    assert [(line["reason"], line["damaged"], line["sellable"]) for line in received.json()["lines"]] == [
        ("damaged", 1, 0), ("size_too_small", 0, 1)]
    order = stack.wait_for(order_id, lambda o: o["refunds"] and o["refunds"][0]["status"] == "succeeded")
    assert order["payments"]["refunded"] == "21.60" and order["lines"][0]["returned"] == 2
    assert _on_hand(stack, "RET-TEE-M") == tee_m + 1  # the sellable unit is back on sale, the torn one not

    # The refund reached the local Stripe, once.
    stripe = requests.Session()
    stripe.headers["Authorization"] = "Bearer sk_test_oms_local"
    intent = order["payments"]["payment_intent_id"]
    refunds = stripe.get(f"http://127.0.0.1:{stack.stripe_port}/v1/refunds", params={"payment_intent": intent},
                         timeout=5).json()["data"]
    assert [r["amount"] for r in refunds if r["metadata"].get("oms_key")] == [2160]

    # The exchange is released, the difference authorised on the original card off-session, and it ships.
    exchange = stack.wait_for(exchange_id, lambda o: o["fulfillment_orders"] and not o["holds"])
    assert exchange["payments"]["authorized"] == "1.40"
    fo = exchange["fulfillment_orders"][0]["fulfillment_order_id"]
    assert stack.ops("POST", f"/fulfillment-orders/{fo}/ship", {"carrier": "ups",
                                                               "tracking_number": "1ZRETE2E02"}).status_code == 201
    exchange = stack.wait_for(exchange_id, lambda o: o["status"] == "shipped" and o["payments"]["captured"] == "1.40")
    assert exchange["lines"][0]["sku"] == "RET-TEE-L"
    charged = stripe.get(f"http://127.0.0.1:{stack.stripe_port}/v1/payment_intents/"
                         f"{exchange['payments']['payment_intent_id']}", timeout=5).json()
    assert (charged["amount"], charged["status"], charged["customer"]) == (140, "succeeded", stripe.get(
        f"http://127.0.0.1:{stack.stripe_port}/v1/payment_intents/{intent}", timeout=5).json()["customer"])
    stock = stack.ops("GET", "/inventory/RET-TEE-L").json()["totals"]
    assert (stock["on_hand"], stock["reserved"]) == (4, 0)
