"""Warehouse work through the API: pick lists grouped by SKU in bin order, short picks that
source again elsewhere or backorder, packing that must match the picks, the packing slip as a PDF."""
from __future__ import annotations

import io

from tests.support.harness import OPS
from tests.support.orders import canonical_order


def _paid_order(api, lines) -> str:
    order_id = api.place(canonical_order(lines=lines))
    api.pipeline.drain()
    return order_id


def _fo(api, order_id: str, location: str = "WH1") -> dict:
    return next(fo for fo in api.order(order_id)["fulfillment_orders"] if fo["location_id"] == location
                and fo["status"] != "cancelled")


def test_a_pick_list_groups_by_sku_in_bin_order_and_takes_each_order_once(stocked):
    api = stocked
    for sku, bin_code in (("SKU-1", "B-07"), ("SKU-2", "A-01")):
        response = api.ops("PUT", f"/inventory/{sku}/locations/WH1", {"on_hand": 100, "bin": bin_code})
        assert response.status_code == 200, response.body
    first = _paid_order(api, [{"sku": "SKU-1", "quantity": 2, "unit_price": "1.00"},
                              {"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"}])
    second = _paid_order(api, [{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"},
                               {"sku": "SKU-3", "quantity": 4, "unit_price": "1.00"}])
    response = api.ops("POST", "/locations/WH1/pick-lists", {"max_orders": 20})
    assert response.status_code == 201, response.body
    pick_list = response.json_body
    assert [(line["sku"], line["bin"], line["quantity"]) for line in pick_list["lines"]] == [
        ("SKU-2", "A-01", 1), ("SKU-1", "B-07", 3), ("SKU-3", None, 4)]  # no bin: last
    assert pick_list["lines"][1]["fulfillment_orders"] == [
        {"fulfillment_order_id": _fo(api, first)["fulfillment_order_id"], "quantity": 2},
        {"fulfillment_order_id": _fo(api, second)["fulfillment_order_id"], "quantity": 1}]
    assert _fo(api, first)["status"] == "picking" and _fo(api, first)["pick_list_id"] == pick_list["pick_list_id"]
    again = api.ops("POST", "/locations/WH1/pick-lists", {})
    assert again.status_code == 409 and again.json_body["error"]["code"] == "nothing_to_pick"
    assert api.ops("GET", f"/pick-lists/{pick_list['pick_list_id']}").json_body == pick_list
    assert api.ops("POST", "/locations/NOPE/pick-lists", {}).status_code == 404


def test_a_short_pick_lowers_stock_and_sources_the_units_again_elsewhere_then_packs_and_ships(stocked):
    api = stocked
    api.location("WH2", priority=2)
    api.stock("SKU-1", 5, location="WH2")
    api.pipeline.drain()
    order_id = _paid_order(api, [{"sku": "SKU-1", "quantity": 3, "unit_price": "1.00"},
                                 {"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"}])
    fo = _fo(api, order_id)
    pick_list = api.ops("POST", "/locations/WH1/pick-lists", {"fulfillment_order_ids": [fo["fulfillment_order_id"]]})
    pick_list_id = pick_list.json_body["pick_list_id"]
    picks = [{"fulfillment_order_id": fo["fulfillment_order_id"], "sku": "SKU-1", "quantity_picked": 1},
             {"fulfillment_order_id": fo["fulfillment_order_id"], "sku": "SKU-2", "quantity_picked": 1}]
    bad = api.ops("POST", f"/pick-lists/{pick_list_id}/confirm", {"picks": picks[:1]})
    assert bad.status_code == 422 and bad.json_body["error"]["details"][0]["problem"] == "missing"
    confirmed = api.ops("POST", f"/pick-lists/{pick_list_id}/confirm", {"picks": picks})
    again = api.ops("POST", f"/pick-lists/{pick_list_id}/confirm", {"picks": picks})
    assert confirmed.status_code == again.status_code == 200, confirmed.body
    assert confirmed.json_body["status"] == "confirmed" and confirmed.json_body["short"] == [
        {"fulfillment_order_id": fo["fulfillment_order_id"], "sku": "SKU-1", "quantity": 2}]
    api.pipeline.drain()
    wh1 = next(loc for loc in api.ops("GET", "/inventory/SKU-1").json_body["locations"] if loc["location_id"] == "WH1")
    assert (wh1["on_hand"], wh1["reserved"]) == (98, 1)  # two were never there; one is picked, still held
    order = api.order(order_id)
    assert [(a["location_id"], a["quantity"]) for a in order["allocations"] if a["sku"] == "SKU-1"] == [
        ("WH1", 1), ("WH2", 2)]
    assert _fo(api, order_id, "WH2")["lines"][0]["quantity"] == 2  # a new fulfilment order, elsewhere
    picked = _fo(api, order_id)
    assert picked["status"] == "picked" and [(fl["sku"], fl["quantity"]) for fl in picked["lines"]] == [
        ("SKU-1", 1), ("SKU-2", 1)]
    types = [e["event_type"] for e in order["history"]]
    assert "FulfillmentOrderPicked" in types and "ShortPicked" in types

    package = {"lines": [{"sku": "SKU-1", "quantity": 1}], "weight_grams": 800,
               "dimensions_cm": {"length": 30, "width": 20, "height": 10}}
    mismatch = api.ops("POST", f"/fulfillment-orders/{picked['fulfillment_order_id']}/packages",
                       {"packages": [package]})
    assert mismatch.status_code == 422 and mismatch.json_body["error"]["code"] == "pack_mismatch"
    assert mismatch.json_body["error"]["details"] == [{"sku": "SKU-2", "picked": 1, "packed": 0}]
    assert _fo(api, order_id)["status"] == "picked"  # nothing written
    package["lines"].append({"sku": "SKU-2", "quantity": 1})
    packed = api.ops("POST", f"/fulfillment-orders/{picked['fulfillment_order_id']}/packages", {"packages": [package]})
    assert packed.status_code == 200 and packed.json_body["status"] == "packed"
    assert packed.json_body["packages"][0]["package_id"].endswith("-P1")

    slip = api.http.request("GET", f"/fulfillment-orders/{picked['fulfillment_order_id']}/packing-slip",
                            headers={"Authorization": OPS["Authorization"], "Accept": "application/pdf"})
    assert slip.status_code == 200 and slip.headers["Content-Type"] == "application/pdf"
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(slip.body)).pages[0].extract_text()
    for expected in (order["order_number"], "Ada Lovelace", "1 Main St", "New York", "SKU-1", "SKU-2"):
        assert expected in text, (expected, text)
    api.ship(order_id, "1ZPICKED", fulfillment_order=picked["fulfillment_order_id"].rsplit("-", 1)[1])
    assert _fo(api, order_id)["status"] == "shipped"


def test_a_short_pick_with_no_stock_elsewhere_backorders_until_a_recount_finds_the_units(stocked):
    api = stocked
    order_id = _paid_order(api, [{"sku": "SKU-3", "quantity": 2, "unit_price": "1.00"}])
    fo = _fo(api, order_id)
    pick_list_id = api.ops("POST", "/locations/WH1/pick-lists", {}).json_body["pick_list_id"]
    api.ops("POST", f"/pick-lists/{pick_list_id}/confirm", {"picks": [
        {"fulfillment_order_id": fo["fulfillment_order_id"], "sku": "SKU-3", "quantity_picked": 0}]})
    api.pipeline.drain()
    order = api.order(order_id)
    assert [h["type"] for h in order["holds"]] == ["backorder"]  # WH1 is not asked again for it until counted
    assert order["sourcing"][-1]["rule"] == "backordered"
    assert "WH1" not in {a["location_id"] for a in order["allocations"]}
    assert next(f for f in order["fulfillment_orders"] if f["fulfillment_order_id"] == fo["fulfillment_order_id"])[
        "status"] == "cancelled"
    api.stock("SKU-3", 100)  # the shelf was counted again: the two are there after all
    api.pipeline.drain()
    order = api.order(order_id)
    assert order["holds"] == [] and [(a["location_id"], a["quantity"]) for a in order["allocations"]] == [("WH1", 2)]


def test_a_rejected_fulfilment_order_is_sourced_again_never_to_the_rejecting_location(stocked):
    api = stocked
    api.location("WH2", priority=2)
    api.stock("SKU-1", 5, location="WH2")
    api.stock("SKU-2", 5, location="WH2")
    api.pipeline.drain()
    order_id = _paid_order(api, [{"sku": "SKU-1", "quantity": 2, "unit_price": "1.00"},
                                 {"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"}])
    fo = _fo(api, order_id)
    damaged = api.ops("POST", f"/fulfillment-orders/{fo['fulfillment_order_id']}/reject",
                      {"reason": "damaged", "lines": [{"sku": "SKU-2", "quantity": 1}]})
    assert damaged.status_code == 200, damaged.body
    api.pipeline.drain()
    stock = {loc["location_id"]: loc for loc in api.ops("GET", "/inventory/SKU-2").json_body["locations"]}
    assert (stock["WH1"]["on_hand"], stock["WH1"]["reserved"]) == (100, 0)  # given back, still on hand
    assert (stock["WH2"]["reserved"]) == 1  # sourced again there
    too_many = api.ops("POST", f"/fulfillment-orders/{fo['fulfillment_order_id']}/reject",
                       {"reason": "damaged", "lines": [{"sku": "SKU-1", "quantity": 3}]})
    assert too_many.status_code == 422 and too_many.json_body["error"]["code"] == "quantity_exceeds_remaining"
    gone = api.ops("POST", f"/fulfillment-orders/{fo['fulfillment_order_id']}/reject", {"reason": "out_of_stock"})
    assert gone.status_code == 200, gone.body
    api.pipeline.drain()
    stock = {loc["location_id"]: loc for loc in api.ops("GET", "/inventory/SKU-1").json_body["locations"]}
    assert (stock["WH1"]["on_hand"], stock["WH1"]["reserved"]) == (98, 0)  # the store says they are not there
    assert stock["WH2"]["reserved"] == 2
    order = api.order(order_id)
    assert {a["location_id"] for a in order["allocations"]} == {"WH2"}
    assert next(f for f in order["fulfillment_orders"] if f["fulfillment_order_id"] == fo["fulfillment_order_id"])[
        "status"] == "cancelled"
    again = api.ops("POST", f"/fulfillment-orders/{fo['fulfillment_order_id']}/reject", {"reason": "out_of_stock"})
    assert again.status_code == 409


def test_two_lines_of_one_sku_are_picked_as_one_pick(stocked):
    api = stocked
    order_id = _paid_order(api, [{"sku": "SKU-1", "quantity": 2, "unit_price": "1.00"},
                                 {"sku": "SKU-1", "quantity": 3, "unit_price": "2.00"}])
    fo = _fo(api, order_id)
    pick_list = api.ops("POST", "/locations/WH1/pick-lists", {"fulfillment_order_ids": [fo["fulfillment_order_id"]]})
    [line] = pick_list.json_body["lines"]
    assert line["quantity"] == 5 and line["fulfillment_orders"] == [
        {"fulfillment_order_id": fo["fulfillment_order_id"], "quantity": 5}]
    confirmed = api.ops("POST", f"/pick-lists/{pick_list.json_body['pick_list_id']}/confirm", {"picks": [
        {"fulfillment_order_id": fo["fulfillment_order_id"], "sku": "SKU-1", "quantity_picked": 5}]})
    assert confirmed.status_code == 200 and confirmed.json_body["short"] == []
    assert [fl["picked"] for fl in _fo(api, order_id)["lines"]] == [2, 3]


def test_a_pick_list_reads_past_held_orders_at_the_head_of_the_queue(stocked):
    api = stocked
    held = [_paid_order(api, [{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"}]) for _ in range(3)]
    for order_id in held:  # an operator holds them after their fulfilment orders were made
        from oms.bootstrap import context
        from oms.domain.holds import Hold
        from oms.services.orders import update_order
        from oms.services.ports import OrderCommit

        update_order(context(), order_id, lambda o: OrderCommit(o, o._place_holds([Hold("fraud_review", "checking")])))
    waiting = _paid_order(api, [{"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"}])
    made = api.ops("POST", "/locations/WH1/pick-lists", {"max_orders": 1})
    assert made.status_code == 201, made.body
    assert made.json_body["fulfillment_order_ids"] == [_fo(api, waiting)["fulfillment_order_id"]]


def test_a_fulfilment_order_left_on_a_pick_list_never_written_can_be_named_again(stocked):
    from oms.bootstrap import context
    from oms.services.orders import update_order
    from oms.services.ports import OrderCommit

    api = stocked
    order_id = _paid_order(api, [{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"}])
    fo_id = _fo(api, order_id)["fulfillment_order_id"]
    # a pick-list request that claimed it and died before writing its list
    update_order(context(), order_id, lambda o: OrderCommit(o, [], state_only=o.start_picking(fo_id, "pl-lost")))
    assert api.ops("POST", "/locations/WH1/pick-lists", {}).status_code == 409  # not in the queue's way
    again = api.ops("POST", "/locations/WH1/pick-lists", {"fulfillment_order_ids": [fo_id]})
    assert again.status_code == 201 and again.json_body["fulfillment_order_ids"] == [fo_id]
