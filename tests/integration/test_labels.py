"""Rates and labels against the local carrier service (EasyPost's API, driven through the OMS's
EasyPost adapter on the official client): quoting once per package, buying by strategy or rate,
buying twice buys once, shipping the labelled packages, voiding the labels of a cancelled order."""
from __future__ import annotations

import pytest

from tests.support.orders import canonical_order

WAREHOUSE = {"name": "Acme DC", "line1": "388 Townsend St", "city": "San Francisco", "region": "CA",
             "postal_code": "94107", "country": "US", "phone": "+1 415 555 0100"}
BOX = {"weight_grams": 850, "dimensions_cm": {"length": 30, "width": 20, "height": 10}}


@pytest.fixture
def carrier(monkeypatch):
    from infra.local_carrier import LocalCarrier

    with LocalCarrier() as service:
        monkeypatch.setenv("OMS_EASYPOST_API_BASE", service.url + "/v2")
        monkeypatch.setenv("OMS_EASYPOST_API_KEY", "EZTK_local_test")
        yield service


def _packed(api, order_lines, packages) -> str:
    """An order at WH1 picked in full and packed as given; its fulfilment order id."""
    order_id = api.place(canonical_order(lines=order_lines))
    api.pipeline.drain()
    fo = next(f for f in api.order(order_id)["fulfillment_orders"] if f["status"] == "created")
    fo_id = fo["fulfillment_order_id"]
    pick_list = api.ops("POST", "/locations/WH1/pick-lists", {"fulfillment_order_ids": [fo_id]}).json_body
    confirmed = api.ops("POST", f"/pick-lists/{pick_list['pick_list_id']}/confirm", {"picks": [
        {"fulfillment_order_id": fo_id, "sku": fl["sku"], "quantity_picked": fl["quantity"]} for fl in fo["lines"]]})
    assert confirmed.status_code == 200, confirmed.body
    packed = api.ops("POST", f"/fulfillment-orders/{fo_id}/packages", {"packages": packages})
    assert packed.status_code == 200, packed.body
    return fo_id


@pytest.fixture
def shop(stocked, carrier):
    response = stocked.ops("PUT", "/locations/WH1", {"name": "WH1", "type": "warehouse", "priority": 1,
                                                     "address": WAREHOUSE})
    assert response.status_code == 200
    return stocked


def test_rates_per_package_then_the_cheapest_labels_bought_once_and_shipped(shop):
    api = shop
    fo_id = _packed(api, [{"sku": "SKU-1", "quantity": 2, "unit_price": "1.00"}],
                    [{"lines": [{"sku": "SKU-1", "quantity": 1}], **BOX}, {"lines": [{"sku": "SKU-1", "quantity": 1}],
                                                                          **BOX}])
    quoted = api.ops("POST", f"/fulfillment-orders/{fo_id}/rates")
    assert quoted.status_code == 200, quoted.body
    rates = quoted.json_body["rates"]
    assert {r["package_id"] for r in rates} == {f"{fo_id}-P1", f"{fo_id}-P2"}
    assert all({"rate_id", "carrier", "service", "amount", "currency", "delivery_days"} <= set(r) for r in rates)
    assert api.ops("POST", f"/fulfillment-orders/{fo_id}/rates").json_body["rates"] == rates  # quoted once
    bought = api.ops("POST", f"/fulfillment-orders/{fo_id}/labels", {"strategy": "cheapest"})
    assert bought.status_code == 201, bought.body
    packages = bought.json_body["packages"]
    for package in packages:
        mine = [r for r in rates if r["package_id"] == package["package_id"]]
        assert float(package["amount"]) == min(float(r["amount"]) for r in mine)
        assert package["tracking_number"] and package["label_url"] and package["label_format"] == "PDF"
    again = api.ops("POST", f"/fulfillment-orders/{fo_id}/labels", {"strategy": "fastest"})
    assert again.status_code == 200 and again.json_body["packages"] == packages  # bought once
    order_id = fo_id.rsplit("-F", 1)[0]
    assert next(f for f in api.order(order_id)["fulfillment_orders"]
                if f["fulfillment_order_id"] == fo_id)["status"] == "label_purchased"
    shipped = api.http.request("POST", f"/fulfillment-orders/{fo_id}/ship",
                               headers={"Authorization": "Bearer ops-test-token"}, body=b"")
    assert shipped.status_code == 200, shipped.body
    assert sorted(s["tracking_number"] for s in shipped.json_body["shipments"]) == sorted(
        p["tracking_number"] for p in packages)
    assert shipped.json_body["status"] == "shipped"


def test_cheapest_on_time_meets_the_shipping_methods_promise_and_a_rate_id_is_honoured(shop, monkeypatch):
    api = shop
    monkeypatch.setenv("OMS_DELIVERY_PROMISE_DAYS", "standard=2")
    fo_id = _packed(api, [{"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"}],
                    [{"lines": [{"sku": "SKU-2", "quantity": 1}], **BOX}])
    rates = api.ops("POST", f"/fulfillment-orders/{fo_id}/rates").json_body["rates"]
    on_time = [r for r in rates if r["delivery_days"] is not None and r["delivery_days"] <= 2]
    assert on_time and len(on_time) < len(rates)  # the local carrier's express services, not its ground ones
    monkeypatch.setenv("OMS_DELIVERY_PROMISE_DAYS", "standard=0")
    never = api.ops("POST", f"/fulfillment-orders/{fo_id}/labels", {"strategy": "cheapest_on_time"})
    assert never.status_code == 422 and never.json_body["error"]["code"] == "no_rate_on_time"
    monkeypatch.setenv("OMS_DELIVERY_PROMISE_DAYS", "standard=2")
    bought = api.ops("POST", f"/fulfillment-orders/{fo_id}/labels", {"strategy": "cheapest_on_time"})
    assert bought.status_code == 201, bought.body
    assert float(bought.json_body["packages"][0]["amount"]) == min(float(r["amount"]) for r in on_time)
    assert float(bought.json_body["packages"][0]["amount"]) > min(float(r["amount"]) for r in rates)
    other = _packed(api, [{"sku": "SKU-3", "quantity": 1, "unit_price": "1.00"}],
                    [{"lines": [{"sku": "SKU-3", "quantity": 1}], **BOX}])
    chosen = max(api.ops("POST", f"/fulfillment-orders/{other}/rates").json_body["rates"],
                 key=lambda r: float(r["amount"]))
    bought = api.ops("POST", f"/fulfillment-orders/{other}/labels", {"rate_id": chosen["rate_id"]})
    assert bought.status_code == 201 and bought.json_body["packages"][0]["amount"] == chosen["amount"]
    assert api.ops("POST", f"/fulfillment-orders/{other}/labels", {}).status_code == 422  # rate_id or strategy
    unknown = api.ops("POST", f"/fulfillment-orders/{other}/labels", {"rate_id": "rate_nope"})
    assert unknown.status_code == 422 and unknown.json_body["error"]["code"] == "unknown_rate"


def test_the_labels_of_a_cancelled_order_are_voided_once(shop, carrier):
    api = shop
    fo_id = _packed(api, [{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"}],
                    [{"lines": [{"sku": "SKU-1", "quantity": 1}], **BOX}])
    assert api.ops("POST", f"/fulfillment-orders/{fo_id}/labels", {"strategy": "cheapest"}).status_code == 201
    order_id = fo_id.rsplit("-F", 1)[0]
    assert api.ops("POST", f"/orders/{order_id}/cancel", {"reason": "customer"}).status_code == 200
    api.pipeline.drain()
    api.pipeline.drain()
    history = [e for e in api.order(order_id)["history"] if e["event_type"] == "LabelVoided"]
    assert len(history) == 1 and history[0]["data"]["refund_status"] == "submitted"


def test_no_labels_before_packing(shop):
    api = shop
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"}]))
    api.pipeline.drain()
    fo_id = api.order(order_id)["fulfillment_orders"][0]["fulfillment_order_id"]
    response = api.ops("POST", f"/fulfillment-orders/{fo_id}/rates")
    assert response.status_code == 409 and response.json_body["error"]["code"] == "not_packed"


def test_a_return_label_is_bought_once_and_its_tracking_moves_the_return(shop):
    from tests.integration.test_returns import delivered

    api = shop
    order = delivered(api)
    line = order["lines"][0]
    opened = api.ops("POST", f"/orders/{order['order_id']}/returns",
                     {"lines": [{"line_id": line["line_id"], "quantity": 1, "reason": "damaged"}]})
    assert opened.status_code == 201, opened.body
    return_id = opened.json_body["return_id"]
    if opened.json_body["status"] != "approved":
        assert api.ops("POST", f"/returns/{return_id}/approve").status_code == 200
    bought = api.ops("POST", f"/returns/{return_id}/label", {"strategy": "cheapest"})
    assert bought.status_code == 201, bought.body
    label = bought.json_body
    assert label["location_id"] == "WH1" and label["tracking_number"] and label["label_format"] == "PDF"
    again = api.http.request("POST", f"/returns/{return_id}/label", headers={"Authorization": "Bearer ops-test-token"},
                             body=b"")
    assert again.status_code == 200 and again.json_body == label  # bought once
    ret = api.ops("GET", f"/returns/{return_id}").json_body
    assert ret["tracking"]["tracking_number"] == label["tracking_number"] and ret["label"]["amount"] == label["amount"]
    api.webhook("tracking", {"tracking_number": label["tracking_number"], "status": "in_transit",
                             "occurred_at": "2026-11-29T10:00:00Z", "description": "Picked up", "location": "NYC"})
    api.pipeline.drain()
    assert api.ops("GET", f"/returns/{return_id}").json_body["status"] == "in_transit"
    assert api.ops("POST", "/returns/nope/label", {}).status_code == 404


def test_tracking_that_comes_before_the_parcel_is_handed_over_is_kept_for_it(shop):
    api = shop
    fo_id = _packed(api, [{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"}],
                    [{"lines": [{"sku": "SKU-1", "quantity": 1}], **BOX}])
    [label] = api.ops("POST", f"/fulfillment-orders/{fo_id}/labels", {"strategy": "fastest"}).json_body["packages"]
    early = {"tracking_number": label["tracking_number"], "status": "in_transit", "occurred_at": "2026-11-27T08:00:00Z",
             "description": "Picked up", "location": "San Francisco"}
    assert api.webhook("tracking", early).status_code in (200, 202)
    assert api.webhook("tracking", early).status_code in (200, 202)  # the same update twice: kept once
    api.pipeline.drain()
    shipped = api.http.request("POST", f"/fulfillment-orders/{fo_id}/ship",
                               headers={"Authorization": "Bearer ops-test-token"}, body=b"")
    assert shipped.status_code == 200, shipped.body
    [shipment] = shipped.json_body["shipments"]
    assert [e["status"] for e in shipment["events"]] == ["in_transit"] and shipment["status"] == "in_transit"


def test_a_partial_cancel_after_packing_repacks_and_voids_the_dropped_label(shop):
    api = shop
    fo_id = _packed(api, [{"sku": "SKU-1", "quantity": 2, "unit_price": "1.00"}],
                    [{"lines": [{"sku": "SKU-1", "quantity": 2}], **BOX}])
    assert api.ops("POST", f"/fulfillment-orders/{fo_id}/labels", {"strategy": "cheapest"}).status_code == 201
    order_id = fo_id.rsplit("-F", 1)[0]
    line_id = api.order(order_id)["lines"][0]["line_id"]
    cancelled = api.ops("POST", f"/orders/{order_id}/cancel", {"reason": "customer",
                                                              "lines": [{"line_id": line_id, "quantity": 1}]})
    assert cancelled.status_code == 200, cancelled.body
    api.pipeline.drain()
    order = api.order(order_id)
    fo = next(f for f in order["fulfillment_orders"] if f["fulfillment_order_id"] == fo_id)
    assert fo["status"] == "picked" and fo["packages"] == [] and fo["lines"][0]["picked"] == 1
    assert [e["data"]["refund_status"] for e in order["history"] if e["event_type"] == "LabelVoided"] == ["submitted"]
    packed = api.ops("POST", f"/fulfillment-orders/{fo_id}/packages", {"packages": [
        {"lines": [{"sku": "SKU-1", "quantity": 1}], **BOX}]})
    assert packed.status_code == 200 and packed.json_body["packages"][0]["package_id"] == f"{fo_id}-P2"
