"""Returns through the API and the queues, against the local Stripe: a customer returns units of
a delivered order, the parcel is tracked back, the warehouse receives it in two parts (sellable
units back on sale, damaged ones written off), each receipt is refunded to the cent, the order
counts its returned units; refusals write nothing; the operators' lists read an index."""
from __future__ import annotations

import json

from tests.support.orders import canonical_order

LINES = [{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}, {"sku": "SKU-2", "quantity": 1, "unit_price": "30.00"}]


def delivered(api) -> dict:
    order_id = api.place(canonical_order(lines=LINES))
    api.pipeline.drain()
    api.ship(order_id, f"1Z{order_id[-10:]}")
    api.pipeline.drain()
    api.webhook("tracking", {"tracking_number": f"1Z{order_id[-10:]}", "status": "delivered",
                             "occurred_at": api.order(order_id)["placed_at"].replace("2026-11-26", "2026-11-28"),
                             "description": "Delivered", "location": "New York"})
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["status"] == "delivered" and order["payments"]["captured"] == "58.20"
    return order


def customer_return(api, order, body, email="ada@example.com"):
    return api.http.post(f"/track/{order['order_number']}/returns?email={email}", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})


def test_a_customer_return_received_in_two_parts_is_restocked_and_refunded(stocked):
    api = stocked
    order = delivered(api)
    created = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 2, "reason": "damaged"}]})
    assert created.status_code == 201, created.body
    ret = created.json_body
    assert ret["status"] == "approved" and ret["rma_number"].startswith("RMA-") and ret["exchange_order_id"] is None
    # two units of 10.00 carry their share of the 3.20 tax (20.00 of 50.00 goods): 10.64 each
    assert ret["refund_estimate"] == "21.28"
    api.pipeline.drain()
    assert api.order(order["order_id"])["returns"][0]["status"] == "approved"

    assert api.ops("POST", f"/returns/{ret['return_id']}/tracking",
                   {"carrier": "UPS", "tracking_number": "1ZBACK0001"}).status_code == 200
    moved = api.webhook("tracking", {"tracking_number": "1ZBACK0001", "status": "in_transit",
                                     "occurred_at": "2026-12-01T09:00:00Z", "description": "Picked up",
                                     "location": "New York"})
    assert moved.status_code == 202 and moved.json_body["result"] == "applied"
    assert api.ops("GET", f"/returns/{ret['return_id']}").json_body["status"] == "in_transit"

    before = api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"]
    first = api.ops("POST", f"/returns/{ret['return_id']}/receive",
                    {"location_id": "WH1", "lines": [{"line_id": "L1", "quantity": 1, "condition": "sellable"}]})
    assert first.status_code == 200 and first.json_body["status"] == "received"
    api.pipeline.drain()
    assert api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"] == before + 1
    order_now = api.order(order["order_id"])
    assert order_now["lines"][0]["returned"] == 1 and order_now["return_status"] == "partially_returned"
    assert [(r["amount"], r["status"]) for r in order_now["refunds"]] == [("10.64", "succeeded")]

    second = api.ops("POST", f"/returns/{ret['return_id']}/receive",
                     {"location_id": "WH1", "lines": [{"line_id": "L1", "quantity": 1, "condition": "damaged"}]})
    assert second.status_code == 200
    api.pipeline.drain()
    assert api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"] == before + 1  # written off
    order_now = api.order(order["order_id"])
    assert [r["amount"] for r in order_now["refunds"]] == ["10.64", "10.64"]
    assert order_now["payments"]["refunded"] == "21.28" and order_now["lines"][0]["returned"] == 2
    assert api.ops("POST", f"/returns/{ret['return_id']}/close", {}).json_body["status"] == "closed"
    api.pipeline.drain()  # a redelivered ReturnReceived would refund nothing twice
    assert api.order(order["order_id"])["payments"]["refunded"] == "21.28"
    history = [h["event_type"] for h in api.ops("GET", f"/returns/{ret['return_id']}").json_body["history"]]
    assert history == ["ReturnRequested", "ReturnApproved", "ReturnInTransit", "ReturnReceived", "ReturnReceived",
                       "ReturnClosed"]


def test_the_whole_group_back_for_the_merchants_reasons_refunds_its_shipping_too(stocked):
    api = stocked
    order = delivered(api)
    ret = api.ops("POST", f"/orders/{order['order_id']}/returns", {"lines": [
        {"line_id": "L1", "quantity": 2, "reason": "wrong_item"},
        {"sku": "SKU-2", "quantity": 1, "reason": "defective"}]}).json_body
    assert ret["status"] == "approved" and ret["refund_estimate"] == "58.20"  # everything, shipping too
    api.ops("POST", f"/returns/{ret['return_id']}/receive", {"location_id": "WH1", "lines": [
        {"line_id": "L1", "quantity": 2, "condition": "sellable"}, {"line_id": "L2", "quantity": 1,
                                                                     "condition": "sellable"}]})
    api.pipeline.drain()
    order_now = api.order(order["order_id"])
    assert order_now["payments"]["refunded"] == "58.20" and order_now["return_status"] == "returned"
    assert order_now["status"] == "delivered"  # the order's own status does not change


def test_refusals_write_nothing_and_a_wrong_email_is_the_same_404(stocked):
    api = stocked
    order = delivered(api)
    assert customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 1, "reason": "damaged"}]},
                           email="eve@example.com").status_code == 404
    for body, status, code in [
        ({"lines": [{"line_id": "L1", "quantity": 3, "reason": "damaged"}]}, 422, "quantity_exceeds_returnable"),
        ({"lines": [{"line_id": "L1", "quantity": 1, "reason": "bored"}]}, 422, "invalid_reason"),
        ({"lines": [{"sku": "NOPE", "quantity": 1, "reason": "damaged"}]}, 422, "unknown_sku"),
        ({"lines": [{"line_id": "L1", "quantity": 1, "reason": "damaged"}], "ship_replacement": "immediately"},
         422, "validation_failed"),
    ]:
        response = customer_return(api, order, body)
        assert (response.status_code, response.json_body["error"]["code"]) == (status, code), response.body
    assert api.order(order["order_id"])["returns"] == []
    assert api.ops("GET", "/returns?status=requested").json_body["returns"] == []

    fresh = api.place(canonical_order(lines=LINES))
    api.pipeline.drain()
    refused = api.ops("POST", f"/orders/{fresh}/returns", {"lines": [{"line_id": "L1", "quantity": 1,
                                                                       "reason": "damaged"}]})
    assert refused.status_code == 409 and refused.json_body["error"]["code"] == "nothing_returnable"


def test_declined_and_cancelled_returns_release_their_units_and_lists_come_newest_first(stocked, monkeypatch):
    api = stocked
    order = delivered(api)
    monkeypatch.setenv("OMS_RETURN_AUTO_APPROVE", "0")
    first = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 2, "reason": "changed_mind"}]})
    assert first.json_body["status"] == "requested"
    again = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 1, "reason": "changed_mind"}]})
    assert again.status_code == 422  # both units are claimed by the open return
    declined = api.ops("POST", f"/returns/{first.json_body['return_id']}/decline", {"reason": "worn"})
    assert declined.status_code == 200 and declined.json_body["status"] == "declined"
    api.pipeline.drain()  # the order learns: the units are free again
    second = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 2, "reason": "changed_mind"}]})
    assert second.status_code == 201
    cancelled = api.ops("POST", f"/returns/{second.json_body['return_id']}/cancel", {"reason": "kept them"})
    assert cancelled.json_body["status"] == "cancelled"
    assert api.ops("POST", f"/returns/{second.json_body['return_id']}/approve", {}).status_code == 409
    listed = api.ops("GET", "/returns").json_body
    ids = [r["return_id"] for r in listed["returns"]]
    assert ids[:2] == [second.json_body["return_id"], first.json_body["return_id"]]
    by_status = api.ops("GET", "/returns?status=declined").json_body["returns"]
    assert [r["return_id"] for r in by_status] == [first.json_body["return_id"]]
    assert api.ops("GET", "/returns?status=lost").status_code == 422
    assert api.ops("GET", "/returns/r-nope").status_code == 404


def test_a_return_worth_less_than_the_returnless_threshold_is_refunded_at_once(stocked, monkeypatch):
    api = stocked
    order = delivered(api)
    monkeypatch.setenv("OMS_RETURNLESS_REFUND_BELOW", "15.00")
    ret = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 1, "reason": "changed_mind"}]})
    assert ret.status_code == 201 and ret.json_body["returnless"] and ret.json_body["status"] == "closed"
    before = api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"]
    api.pipeline.drain()
    order_now = api.order(order["order_id"])
    assert order_now["payments"]["refunded"] == "10.64" and order_now["lines"][0]["returned"] == 1
    assert order_now["returns"][0]["status"] == "closed"
    assert api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"] == before  # nothing came back


def test_an_even_exchange_reserves_the_replacement_and_ships_it_once_the_return_arrives(stocked):
    api = stocked
    order = delivered(api)
    created = customer_return(api, order, {"lines": [
        {"line_id": "L1", "quantity": 1, "reason": "size_too_small", "exchange_for": {"sku": "SKU-3"}}]})
    assert created.status_code == 201, created.body
    ret = created.json_body
    assert ret["refund_estimate"] == "0.00" and ret["lines"][0]["exchange_for"] == {
        "sku": "SKU-3", "quantity": 1, "unit_price": "10.64", "even": True, "credit": "10.64"}
    api.pipeline.drain()
    exchange_id = api.ops("GET", f"/returns/{ret['return_id']}").json_body["exchange_order_id"]
    exchange = api.order(exchange_id)
    assert exchange["channel"] == "exchange" and exchange["exchange_for_return_id"] == ret["return_id"]
    assert exchange["lines"][0]["allocated"] == 1 and not exchange["fulfillment_orders"]  # reserved, not shipped
    assert [h["type"] for h in exchange["holds"]] == ["awaiting_return"]
    assert api.ops("GET", "/inventory/SKU-3").json_body["totals"]["reserved"] == 1

    api.ops("POST", f"/returns/{ret['return_id']}/receive",
            {"location_id": "WH1", "lines": [{"line_id": "L1", "quantity": 1, "condition": "sellable"}]})
    api.pipeline.drain()
    exchange = api.order(exchange_id)
    assert not exchange["holds"] and exchange["fulfillment_orders"], exchange["history"]
    # paid by the unit coming back: nothing charged to the card
    assert (exchange["payments"]["method"], exchange["payments"]["status"]) == ("prepaid", "paid")
    api.ship(exchange_id, "1ZEXCHANGE")
    assert api.order(exchange_id)["status"] == "shipped"
    original = api.order(order["order_id"])
    assert original["payments"]["refunded"] == "0.00"  # an even exchange moves no money
    assert original["lines"][0]["returned"] == 1


def test_an_exchange_for_an_unknown_sku_or_at_a_price_the_currency_cannot_hold_is_refused(stocked):
    api = stocked
    order = delivered(api)
    unknown = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 1, "reason": "size_too_small",
                                                      "exchange_for": {"sku": "NOPE"}}]})
    assert unknown.status_code == 422 and unknown.json_body["error"]["code"] == "unknown_sku"
    priced = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 1, "reason": "size_too_small",
                                                     "exchange_for": {"sku": "SKU-3", "unit_price": "12.001"}}]})
    assert priced.status_code == 422 and api.order(order["order_id"])["returns"] == []


def exchange_for(api, order, unit_price: str, quantity: int = 1) -> tuple[dict, dict]:
    """An operator exchanges one unit of L1 (worth 10.64) for SKU-3 at `unit_price`."""
    created = api.ops("POST", f"/orders/{order['order_id']}/returns", {"lines": [
        {"line_id": "L1", "quantity": 1, "reason": "size_too_small",
         "exchange_for": {"sku": "SKU-3", "unit_price": unit_price, "quantity": quantity}}]})
    assert created.status_code == 201, created.body
    api.pipeline.drain()
    ret = api.ops("GET", f"/returns/{created.json_body['return_id']}").json_body
    return ret, api.order(ret["exchange_order_id"])


def receive_one(api, ret: dict, condition: str = "sellable") -> None:
    received = api.ops("POST", f"/returns/{ret['return_id']}/receive", {"location_id": "WH1", "lines": [
        {"line_id": "L1", "quantity": 1, "condition": condition}]})
    assert received.status_code == 200, received.body
    api.pipeline.drain()


def test_a_customers_exchange_at_a_price_of_their_own_waits_for_an_operator(stocked):
    api = stocked
    order = delivered(api)
    created = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 1, "reason": "size_too_small",
                                                      "exchange_for": {"sku": "SKU-3", "unit_price": "0.01"}}]})
    assert created.status_code == 201 and created.json_body["status"] == "requested"
    api.pipeline.drain()
    assert api.ops("GET", f"/returns/{created.json_body['return_id']}").json_body["exchange_order_id"] is None


def test_a_dearer_replacement_charges_the_difference_to_the_original_card_once_the_unit_is_back(stocked):
    api = stocked
    order = delivered(api)
    ret, exchange = exchange_for(api, order, "12.50")
    assert (ret["exchange_credit"], ret["exchange_charge"], ret["refund_estimate"]) == ("10.64", "1.86", "0.00")
    # the credit comes off the replacement: only the difference is to pay, once the unit is back
    assert exchange["totals"]["discount"] == "10.64" and exchange["totals"]["total"] == "1.86"
    assert exchange["lines"][0]["allocated"] == 1 and exchange["payments"]["authorized"] == "0.00"
    assert [h["type"] for h in exchange["holds"]] == ["awaiting_return"] and not exchange["fulfillment_orders"]
    receive_one(api, ret)
    exchange = api.order(exchange["order_id"])
    assert not exchange["holds"] and exchange["fulfillment_orders"] and exchange["payments"]["authorized"] == "1.86"
    api.ship(exchange["order_id"], "1ZDEARER")
    api.pipeline.drain()
    assert api.order(exchange["order_id"])["payments"]["captured"] == "1.86"
    assert api.order(order["order_id"])["payments"]["refunded"] == "0.00"


def test_a_cheaper_replacement_refunds_the_difference_when_the_unit_arrives(stocked):
    api = stocked
    order = delivered(api)
    ret, exchange = exchange_for(api, order, "4.00")
    assert (ret["exchange_charge"], ret["exchange_refund"], ret["refund_estimate"]) == ("0.00", "6.64", "6.64")
    assert exchange["totals"]["total"] == "0.00"
    assert api.order(order["order_id"])["payments"]["refunded"] == "0.00"  # nothing before the unit is back
    receive_one(api, ret)
    original = api.order(order["order_id"])
    assert [(r["amount"], r["status"]) for r in original["refunds"]] == [("6.64", "succeeded")]
    api.pipeline.drain()  # a redelivered receipt refunds nothing twice
    assert api.order(order["order_id"])["payments"]["refunded"] == "6.64"
    assert api.order(exchange["order_id"])["payments"]["status"] == "paid"


def test_a_difference_the_card_on_file_refuses_waits_for_an_operator_who_collected_it(stocked):
    from oms.bootstrap import context
    from oms.services.ports import OrderCommit

    api = stocked
    order = delivered(api)
    ctx = context()  # the card saved on file now declines (Stripe's test card for it)
    stored = ctx.store.load(order["order_id"])
    stored.payment.saved_payment_method = "pm_card_chargeDeclinedInsufficientFunds"
    ctx.store.commit(OrderCommit(stored, [], state_only=True))
    ret, exchange = exchange_for(api, order, "15.00")
    receive_one(api, ret)
    exchange = api.order(exchange["order_id"])
    held = {h["type"]: h["detail"] for h in exchange["holds"]}
    assert list(held) == ["awaiting_payment"] and "4.36 USD" in held["awaiting_payment"]
    assert "insufficient_funds" in held["awaiting_payment"] and exchange["lines"][0]["allocated"] == 1
    released = api.ops("POST", f"/orders/{exchange['order_id']}/holds/awaiting_payment/release",
                       {"reason": "paid by bank transfer"})
    assert released.status_code == 200, released.body
    api.pipeline.drain()
    exchange = api.order(exchange["order_id"])
    assert not exchange["holds"] and exchange["fulfillment_orders"] and exchange["payments"]["status"] == "paid"


def test_a_dearer_replacement_of_an_order_paid_elsewhere_waits_for_the_difference(stocked):
    api = stocked
    order_id = api.place(canonical_order(lines=LINES, payment={"method": "prepaid", "reference": "GIFT-1"}))
    api.pipeline.drain()
    api.ship(order_id, "1ZPREPAID")
    api.pipeline.drain()
    api.webhook("tracking", {"tracking_number": "1ZPREPAID", "status": "delivered",
                             "occurred_at": "2026-11-28T10:00:00Z", "description": "Delivered", "location": "New York"})
    api.pipeline.drain()
    ret, exchange = exchange_for(api, api.order(order_id), "12.50")
    receive_one(api, ret)
    exchange = api.order(exchange["order_id"])
    held = {h["type"]: h["detail"] for h in exchange["holds"]}
    assert list(held) == ["awaiting_payment"] and "1.86 USD more" in held["awaiting_payment"]
    assert exchange["payments"]["authorized"] == "0.00" and not exchange["fulfillment_orders"]


def test_a_replacement_cancelled_before_the_unit_arrives_leaves_the_unit_refunded_in_full(stocked):
    api = stocked
    order = delivered(api)
    ret, exchange = exchange_for(api, order, "4.00")
    cancelled = api.ops("POST", f"/orders/{exchange['order_id']}/cancel", {"reason": "out of that size"})
    assert cancelled.status_code == 200, cancelled.body
    api.pipeline.drain()
    receive_one(api, ret)
    assert api.order(order["order_id"])["payments"]["refunded"] == "10.64"


def test_an_exchanged_unit_that_never_came_ships_no_replacement_unless_an_operator_says_so(stocked):
    api = stocked
    order = delivered(api)
    ret, exchange = exchange_for(api, order, "10.64")
    receive_one(api, ret, "missing")  # an empty box
    exchange = api.order(exchange["order_id"])
    assert exchange["status"] == "cancelled" and api.ops("GET", "/inventory/SKU-3").json_body["totals"]["reserved"] == 0
    assert api.order(order["order_id"])["payments"]["refunded"] == "0.00"

    two = api.ops("POST", f"/orders/{order['order_id']}/returns", {"lines": [
        {"line_id": "L2", "quantity": 1, "reason": "other", "exchange_for": {"sku": "SKU-3", "quantity": 2}},
        ]}).json_body
    api.pipeline.drain()
    api.ops("POST", f"/returns/{two['return_id']}/close", {})
    api.pipeline.drain()
    assert api.order(api.ops("GET", f"/returns/{two['return_id']}").json_body["exchange_order_id"])["status"] == \
        "cancelled"


def test_an_operator_may_ship_a_replacement_whose_units_came_back_only_in_part(stocked):
    api = stocked
    order = delivered(api)
    ret = api.ops("POST", f"/orders/{order['order_id']}/returns", {"lines": [
        {"line_id": "L1", "quantity": 2, "reason": "size_too_small", "exchange_for": {"sku": "SKU-3"}}]}).json_body
    api.pipeline.drain()
    api.ops("POST", f"/returns/{ret['return_id']}/receive", {"location_id": "WH1", "lines": [
        {"line_id": "L1", "quantity": 1, "condition": "sellable"}, {"line_id": "L1", "quantity": 1,
                                                                    "condition": "missing"}]})
    api.pipeline.drain()
    exchange_id = api.ops("GET", f"/returns/{ret['return_id']}").json_body["exchange_order_id"]
    held = {h["type"]: h["detail"] for h in api.order(exchange_id)["holds"]}
    assert "without 1 of the exchanged unit(s)" in held["awaiting_return"]
    released = api.ops("POST", f"/orders/{exchange_id}/holds/awaiting_return/release", {"reason": "customer vetted"})
    assert released.status_code == 200, released.body
    api.pipeline.drain()
    assert api.order(exchange_id)["fulfillment_orders"]


def test_the_operators_list_pages_newest_first_through_its_cursor(stocked):
    api = stocked
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 21, "unit_price": "1.00"}]))
    api.pipeline.drain()
    api.ship(order_id, "1ZPAGES")
    api.pipeline.drain()
    api.webhook("tracking", {"tracking_number": "1ZPAGES", "status": "delivered", "occurred_at": "2026-11-28T10:00:00Z",
                             "description": "Delivered", "location": "New York"})
    api.pipeline.drain()
    made = [api.ops("POST", f"/orders/{order_id}/returns", {"lines": [
        {"line_id": "L1", "quantity": 1, "reason": "changed_mind"}]}).json_body["return_id"] for _ in range(21)]
    first = api.ops("GET", "/returns?status=approved").json_body
    assert len(first["returns"]) == 20 and first["next_cursor"]
    second = api.ops("GET", f"/returns?status=approved&cursor={first['next_cursor']}").json_body
    listed = [r["return_id"] for r in first["returns"] + second["returns"]]
    assert listed == list(reversed(made)) and second["next_cursor"] is None
    assert api.ops("GET", "/returns?cursor=not-a-cursor").status_code == 422


def test_one_receipt_for_two_return_lines_of_one_sku_restocks_both_and_bad_requests_are_4xx(stocked):
    api = stocked
    order = delivered(api)
    ret = api.ops("POST", f"/orders/{order['order_id']}/returns", {"lines": [
        {"line_id": "L1", "quantity": 1, "reason": "damaged"},
        {"line_id": "L1", "quantity": 1, "reason": "size_too_small", "exchange_for": {"sku": "SKU-3"}}]}).json_body
    before = api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"]
    assert api.ops("POST", f"/returns/{ret['return_id']}/receive", {"location_id": "NOWHERE", "lines": [
        {"line_id": "L1", "quantity": 2, "condition": "sellable"}]}).status_code == 422
    received = api.ops("POST", f"/returns/{ret['return_id']}/receive", {"location_id": "WH1", "lines": [
        {"line_id": "L1", "quantity": 2, "condition": "sellable"}]})
    assert received.status_code == 200, received.body
    assert api.ops("GET", "/inventory/SKU-1").json_body["totals"]["on_hand"] == before + 2
    other = api.ops("POST", f"/orders/{order['order_id']}/returns", {"lines": [
        {"line_id": "L2", "quantity": 1, "reason": "damaged"}]}).json_body
    used = api.ops("POST", f"/returns/{other['return_id']}/tracking",
                   {"carrier": "UPS", "tracking_number": f"1Z{order['order_id'][-10:]}"})
    assert used.status_code == 409 and used.json_body["error"]["code"] == "tracking_number_in_use"
    import base64

    forged = base64.urlsafe_b64encode(b"[1]").decode()
    assert api.ops("GET", f"/returns?cursor={forged}").status_code == 422


def test_cancelling_a_return_cancels_its_exchange_order(stocked):
    api = stocked
    order = delivered(api)
    ret = customer_return(api, order, {"lines": [{"line_id": "L1", "quantity": 1, "reason": "size_too_small",
                                                  "exchange_for": {"sku": "SKU-3"}}]}).json_body
    api.pipeline.drain()
    exchange_id = api.ops("GET", f"/returns/{ret['return_id']}").json_body["exchange_order_id"]
    assert api.ops("GET", "/inventory/SKU-3").json_body["totals"]["reserved"] == 1
    api.ops("POST", f"/returns/{ret['return_id']}/cancel", {"reason": "customer kept it"})
    api.pipeline.drain()
    assert api.order(exchange_id)["status"] == "cancelled"
    assert api.ops("GET", "/inventory/SKU-3").json_body["totals"]["reserved"] == 0
