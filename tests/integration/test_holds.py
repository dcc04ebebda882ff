"""Business problems do not refuse a webhook: the order is kept, on hold, with typed holds."""
from __future__ import annotations

from oms.domain.holds import MAX_SKUS_PER_ORDER
from tests.support.orders import ADDRESS, canonical_order


def _holds(api, order_id):
    order = api.order(order_id)
    return order["status"], {h["type"] for h in order["holds"]}


def test_an_address_that_fails_the_countrys_rules_holds_the_order(stocked):
    api = stocked
    order_id = api.place(canonical_order(shipping_address={**ADDRESS, "postal_code": "ABCDE"}))
    api.pipeline.drain()
    assert _holds(api, order_id) == ("on_hold", {"invalid_address"})
    order = api.order(order_id)
    assert not order["fulfillment_orders"] and order["payments"]["authorized"] == "0.00"
    assert api.ops("GET", "/inventory/SKU-1").json_body["totals"]["reserved"] == 0


def test_unknown_skus_bad_email_and_wrong_totals_are_all_reported(stocked):
    api = stocked
    body = canonical_order(lines=[{"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}])
    body["customer"]["email"] = "not-an-email"
    body["total"] = "1.00"
    order_id = api.place(body)
    api.pipeline.drain()
    assert _holds(api, order_id) == ("on_hold", {"unknown_sku", "invalid_customer", "totals_mismatch"})


def test_declined_cards_hold_the_order_and_keep_the_reservation(stocked):
    api = stocked
    order_id = api.place(canonical_order(token="tok_chargeDeclinedInsufficientFunds"))
    api.pipeline.drain()
    order = api.order(order_id)
    assert (order["status"], [h["type"] for h in order["holds"]]) == ("on_hold", ["payment_declined"])
    assert order["payments"]["transactions"][0]["decline_code"] == "insufficient_funds"
    assert not order["fulfillment_orders"]


def test_a_processor_that_keeps_failing_is_retried_then_the_order_is_held(stocked):
    api = stocked
    order_id = api.place(canonical_order(token="tok_processingError"))
    api.pipeline.drain()
    order = api.order(order_id)
    assert [h["type"] for h in order["holds"]] == ["payment_error"]
    assert order["payments"]["status"] == "failed"


def test_ops_orders_with_problems_are_refused_while_the_agent_waits(stocked):
    api = stocked
    bad = canonical_order(shipping_address={**ADDRESS, "postal_code": "ABCDE"})
    response = api.ops("POST", "/orders", bad)
    assert response.status_code == 422
    assert response.json_body["error"]["details"][0]["type"] == "invalid_address"
    good = api.ops("POST", "/orders", canonical_order())
    assert good.status_code == 202 and good.json_body["status"] == "received"
    api.pipeline.drain()
    assert api.order(good.json_body["order_id"])["channel"] == "call_center"


def test_backorders_keep_what_was_reserved_and_are_served_first_come_first_served(api):
    api.location("WH1")
    api.stock("SKU-1", 1)
    first = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 3, "unit_price": "2.00"}]))
    api.pipeline.drain()
    second = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": "2.00"}]))
    api.pipeline.drain()
    assert _holds(api, first) == ("on_hold", {"backorder"})
    assert api.order(first)["lines"][0]["allocated"] == 1
    assert api.order(second)["lines"][0]["allocated"] == 0

    api.stock("SKU-1", 3)  # two more units: the first order's remainder, not the second order
    api.pipeline.drain()
    assert api.order(first)["status"] == "processing"
    assert _holds(api, second) == ("on_hold", {"backorder"})
    totals = api.ops("GET", "/inventory/SKU-1").json_body["totals"]
    assert totals == {"on_hand": 3, "reserved": 3, "available": 0, "inbound": 0}

    api.stock("SKU-1", 5)
    api.pipeline.drain()
    assert api.order(second)["status"] == "processing"
    history = [e["event_type"] for e in api.order(second)["history"]]
    assert history.count("HoldReleased") == 1 and history.count("OrderAllocated") == 1


def test_multi_location_orders_prefer_one_location_then_split_by_priority(api):
    api.location("NEAR", priority=1)
    api.location("FAR", priority=2)
    api.stock("SKU-1", 5, location="NEAR")
    api.stock("SKU-2", 0, location="NEAR")
    api.stock("SKU-1", 5, location="FAR")
    api.stock("SKU-2", 5, location="FAR")
    whole = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"},
                                             {"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"}]))
    api.pipeline.drain()
    assert [fo["location_id"] for fo in api.order(whole)["fulfillment_orders"]] == ["FAR"]
    split = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 8, "unit_price": "1.00"}]))
    api.pipeline.drain()
    allocations = {a["location_id"]: a["quantity"] for a in api.order(split)["allocations"]}
    assert allocations == {"NEAR": 5, "FAR": 3}
    assert len(api.order(split)["fulfillment_orders"]) == 2


def test_an_operator_releases_a_validation_hold_and_the_order_carries_on(stocked):
    api = stocked
    order_id = api.place(canonical_order(shipping_address={**ADDRESS, "postal_code": "ABCDE"}))
    api.pipeline.drain()
    missing_reason = api.ops("POST", f"/orders/{order_id}/holds/invalid_address/release", {})
    assert missing_reason.status_code == 422
    released = api.ops("POST", f"/orders/{order_id}/holds/invalid_address/release",
                       {"reason": "customer confirmed the address by phone"})
    assert released.status_code == 200 and released.json_body["holds"] == []
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "processing" and order["fulfillment_orders"]
    again = api.ops("POST", f"/orders/{order_id}/holds/invalid_address/release", {"reason": "twice"})
    assert again.status_code == 404


def test_releasing_a_payment_hold_tries_the_payment_again_with_a_new_idempotency_key(stocked):
    api = stocked
    order_id = api.place(canonical_order(token="tok_chargeDeclined"))
    api.pipeline.drain()
    assert _holds(api, order_id) == ("on_hold", {"payment_declined"})
    api.ops("POST", f"/orders/{order_id}/holds/payment_declined/release", {"reason": "customer called the bank"})
    api.pipeline.drain()
    order = api.order(order_id)
    keys = [t["idempotency_key"] for t in order["payments"]["transactions"]]
    assert keys == [f"{order_id}:authorize:1", f"{order_id}:authorize:2"]
    assert _holds(api, order_id) == ("on_hold", {"payment_declined"})  # the same card declines again


def test_backorder_holds_cannot_be_released_by_hand(api):
    api.location("WH1")
    api.stock("SKU-1", 0)
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    refused = api.ops("POST", f"/orders/{order_id}/holds/backorder/release", {"reason": "please"})
    assert refused.status_code == 409 and refused.json_body["error"]["code"] == "hold_not_releasable"


def _skus(api, count: int) -> list[dict]:
    for n in range(count):
        api.stock(f"BIG-{n:02d}", 10)
    return [{"sku": f"BIG-{n:02d}", "quantity": 1, "unit_price": "1.00"} for n in range(count)]


def test_an_order_of_as_many_skus_as_one_shipment_carries_is_sourced_paid_and_shipped(stocked):
    """The limit is not a guess: an order at it reserves, authorises and ships each of its SKUs
    in one transaction apiece (three items a SKU of DynamoDB's 100)."""
    api = stocked
    order_id = api.place(canonical_order(lines=_skus(api, MAX_SKUS_PER_ORDER)))
    api.pipeline.drain()
    order = api.order(order_id)
    assert (order["status"], order["holds"], len(order["fulfillment_orders"])) == ("processing", [], 1)
    api.ship(order_id, "1Z999AA10000000001")
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "shipped"
    assert order["payments"]["captured"] == f"{MAX_SKUS_PER_ORDER + 8.20:.2f}"  # the lines, shipping and tax
    assert {api.ops("GET", f"/inventory/BIG-{n:02d}").json_body["totals"]["on_hand"]
            for n in range(MAX_SKUS_PER_ORDER)} == {9}


def test_one_sku_more_is_held_for_good_reserves_nothing_and_can_be_cancelled(stocked):
    api = stocked
    order_id = api.place(canonical_order(lines=_skus(api, MAX_SKUS_PER_ORDER + 1)))
    api.pipeline.drain()
    order = api.order(order_id)
    assert [(h["type"], h["detail"]) for h in order["holds"]] == [
        ("too_many_skus", f"{MAX_SKUS_PER_ORDER + 1} SKUs; one order ships at most {MAX_SKUS_PER_ORDER}")]
    assert order["payments"]["authorized"] == "0.00" and not order["fulfillment_orders"]
    assert api.ops("GET", "/inventory/BIG-00").json_body["totals"]["reserved"] == 0
    refused = api.ops("POST", f"/orders/{order_id}/holds/too_many_skus/release", {"reason": "ship it"})
    assert refused.status_code == 409 and refused.json_body["error"]["code"] == "hold_not_releasable"
    assert api.order(order_id)["holds"] == order["holds"]
    cancelled = api.ops("POST", f"/orders/{order_id}/cancel", {"reason": "placed again in parts"})
    assert cancelled.status_code == 200, cancelled.body
    api.pipeline.drain()
    assert api.order(order_id)["status"] == "cancelled"


def test_a_call_centre_order_of_too_many_skus_is_refused_while_the_agent_waits(stocked):
    api = stocked
    response = api.ops("POST", "/orders", canonical_order(lines=_skus(api, MAX_SKUS_PER_ORDER + 1)))
    assert response.status_code == 422
    assert [d["type"] for d in response.json_body["error"]["details"]] == ["too_many_skus"]
