"""Stock coming in: purchase orders counted inbound, received in parts (a receipt id twice adds
once), serving waiting backorders first; transfers out of a location's available units, landing
at another; every change in the SKU's history with its reason."""
from __future__ import annotations

from tests.support.orders import canonical_order


def test_a_purchase_order_received_in_parts_serves_the_waiting_backorder_first(stocked):
    api = stocked
    api.stock("SKU-9", 0)
    waiting = api.place(canonical_order(lines=[{"sku": "SKU-9", "quantity": 3, "unit_price": "5.00"}]))
    api.pipeline.drain()
    assert [h["type"] for h in api.order(waiting)["holds"]] == ["backorder"]

    po = api.ops("POST", "/purchase-orders", {"supplier": "Acme", "location_id": "WH1",
                                               "expected_at": "2026-12-10", "lines": [{"sku": "SKU-9", "quantity": 5}]})
    assert po.status_code == 201, po.body
    po_id = po.json_body["purchase_order_id"]
    assert po.json_body["status"] == "open"
    stock = api.ops("GET", "/inventory/SKU-9").json_body
    assert stock["locations"][0]["inbound"] == 5 and stock["totals"]["on_hand"] == 0

    first = api.ops("POST", f"/purchase-orders/{po_id}/receipts", {"receipt_id": "GRN-1",
                                                                   "lines": [{"sku": "SKU-9", "quantity": 3}]})
    again = api.ops("POST", f"/purchase-orders/{po_id}/receipts", {"receipt_id": "GRN-1",
                                                                   "lines": [{"sku": "SKU-9", "quantity": 3}]})
    assert first.status_code == again.status_code == 200 and again.json_body["status"] == "open"
    api.pipeline.drain()
    stock = api.ops("GET", "/inventory/SKU-9").json_body["locations"][0]
    assert (stock["on_hand"], stock["inbound"], stock["reserved"]) == (3, 2, 3)  # the backorder took them
    assert api.order(waiting)["holds"] == [] and api.order(waiting)["lines"][0]["allocated"] == 3

    last = api.ops("POST", f"/purchase-orders/{po_id}/receipts", {"receipt_id": "GRN-2",
                                                                  "lines": [{"sku": "SKU-9", "quantity": 2}]})
    assert last.json_body["status"] == "closed"
    assert api.ops("GET", f"/purchase-orders/{po_id}").json_body["receipts"] == ["GRN-1", "GRN-2"]
    closed = api.ops("POST", f"/purchase-orders/{po_id}/receipts", {"receipt_id": "GRN-3",
                                                                    "lines": [{"sku": "SKU-9", "quantity": 1}]})
    assert closed.status_code == 409
    stock = api.ops("GET", "/inventory/SKU-9").json_body["locations"][0]
    assert (stock["on_hand"], stock["inbound"]) == (5, 0)
    history = api.ops("GET", "/inventory/SKU-9/history").json_body["adjustments"]
    assert [h["reason"] for h in history] == ["count", "purchase_order", "purchase_receipt", "purchase_receipt"]
    assert api.ops("POST", "/purchase-orders", {"supplier": "Acme", "location_id": "NOPE", "expected_at": "2026-12-10",
                                                "lines": [{"sku": "SKU-9", "quantity": 1}]}).status_code == 422


def test_a_transfer_takes_available_units_out_and_lands_them_once(stocked):
    api = stocked
    api.location("WH2", priority=2)
    sent = api.ops("POST", "/inventory/transfers", {"sku": "SKU-1", "from_location_id": "WH1",
                                                    "to_location_id": "WH2", "quantity": 30})
    assert sent.status_code == 201, sent.body
    transfer_id = sent.json_body["transfer_id"]
    by_location = {s["location_id"]: s for s in api.ops("GET", "/inventory/SKU-1").json_body["locations"]}
    assert by_location["WH1"]["on_hand"] == 70 and by_location["WH2"]["inbound"] == 30
    too_many = api.ops("POST", "/inventory/transfers", {"sku": "SKU-1", "from_location_id": "WH1",
                                                        "to_location_id": "WH2", "quantity": 71})
    assert too_many.status_code == 409 and too_many.json_body["error"]["code"] == "insufficient_stock"
    for _ in range(2):
        received = api.ops("POST", f"/inventory/transfers/{transfer_id}/receive", {})
        assert received.status_code == 200 and received.json_body["status"] == "received"
    by_location = {s["location_id"]: s for s in api.ops("GET", "/inventory/SKU-1").json_body["locations"]}
    assert (by_location["WH2"]["on_hand"], by_location["WH2"]["inbound"]) == (30, 0)
    assert api.ops("GET", "/inventory/transfers/nope").status_code == 404


def _keyed(api, method: str, path: str, body: dict, key: str):
    import json

    from tests.support.harness import OPS

    return api.http.request(method, path, headers={**OPS, "Idempotency-Key": key}, body=json.dumps(body).encode())


def test_the_same_idempotency_key_opens_one_purchase_order_and_sends_one_transfer(stocked):
    api = stocked
    api.location("STORE1", priority=5)
    order = {"supplier": "Acme", "location_id": "WH1", "expected_at": "2026-12-10",
             "lines": [{"sku": "SKU-1", "quantity": 5}]}
    first, again = (_keyed(api, "POST", "/purchase-orders", order, "po-2026-0042") for _ in range(2))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json_body == again.json_body and "request_hash" not in first.json_body
    other = _keyed(api, "POST", "/purchase-orders", {**order, "supplier": "Other"}, "po-2026-0042")
    assert other.status_code == 409 and other.json_body["error"]["code"] == "idempotency_key_reused"
    assert api.ops("GET", "/inventory/SKU-1").json_body["locations"][0]["inbound"] == 5  # once
    move = {"sku": "SKU-2", "from_location_id": "WH1", "to_location_id": "STORE1", "quantity": 4}
    sent, resent = (_keyed(api, "POST", "/inventory/transfers", move, "tr-7") for _ in range(2))
    assert (sent.status_code, resent.status_code) == (201, 200)
    assert sent.json_body["transfer_id"] == resent.json_body["transfer_id"]
    wh1 = next(loc for loc in api.ops("GET", "/inventory/SKU-2").json_body["locations"] if loc["location_id"] == "WH1")
    assert wh1["on_hand"] == 96  # taken out once
    assert _keyed(api, "POST", "/purchase-orders", order, "k" * 256).status_code == 422


def test_a_purchase_order_closed_short_stops_counting_what_will_not_come(stocked):
    api = stocked
    po = api.ops("POST", "/purchase-orders", {"supplier": "Acme", "location_id": "WH1", "expected_at": "2026-12-10",
                                               "lines": [{"sku": "SKU-1", "quantity": 5},
                                                         {"sku": "SKU-2", "quantity": 2}]}).json_body
    api.ops("POST", f"/purchase-orders/{po['purchase_order_id']}/receipts",
            {"receipt_id": "GRN-1", "lines": [{"sku": "SKU-1", "quantity": 3}]})
    closed = api.ops("POST", f"/purchase-orders/{po['purchase_order_id']}/close", {"reason": "supplier discontinued"})
    again = api.ops("POST", f"/purchase-orders/{po['purchase_order_id']}/close")
    assert closed.status_code == again.status_code == 200 and closed.json_body["status"] == "closed"
    for sku in ("SKU-1", "SKU-2"):
        assert api.ops("GET", f"/inventory/{sku}").json_body["locations"][0]["inbound"] == 0
    history = api.ops("GET", "/inventory/SKU-2/history").json_body
    assert [e["reason"] for e in history["adjustments"]][-1] == "purchase_order_closed"
    assert api.ops("POST", "/purchase-orders/po-nope/close").status_code == 404
