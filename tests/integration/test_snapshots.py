"""Warehouse counts through the imports bucket and queue: posted to the API or dropped as a CSV,
brought up to now by what shipped after the count, small drifts applied, large ones flagged, a
full count flagging what it leaves out, the same count twice changing nothing the second time."""
from __future__ import annotations

import boto3

from tests.support.harness import TEST_ENV
from tests.support.orders import canonical_order


def level(api, sku: str) -> dict:
    return next(s for s in api.ops("GET", f"/inventory/{sku}").json_body["locations"] if s["location_id"] == "WH1")


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_count_taken_before_a_shipment_is_brought_up_to_now(stocked):
    api = stocked
    api.stock("SKU-4", 12)
    as_of = _now()  # the warehouse counts now; then an order ships
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"}]))
    api.pipeline.drain()
    api.ship(order_id, "1ZCOUNT")  # two leave after the count below was taken
    api.pipeline.drain()
    count = {"location_id": "WH1", "as_of": as_of, "mode": "full",
             "items": [{"sku": "SKU-1", "on_hand": 100}, {"sku": "SKU-2", "on_hand": 97},
                       {"sku": "SKU-3", "on_hand": 40}, {"sku": "NEW-SKU", "on_hand": 3}]}
    api.stock("SKU-5", 8)  # counted again by the OMS after the warehouse's count: the newer count stands
    count["items"].append({"sku": "SKU-5", "on_hand": 1})
    posted = api.ops("POST", "/inventory/snapshots", count)
    assert posted.status_code == 202 and posted.json_body["status"] == "processing", posted.body
    snapshot_id = posted.json_body["snapshot_id"]
    api.pipeline.drain()
    result = api.ops("GET", f"/inventory/snapshots/{snapshot_id}").json_body
    assert result["status"] == "completed" and result["matched"] == 1  # SKU-1: 100 counted - 2 shipped = 98
    assert result["adjusted"] == [{"sku": "SKU-2", "from": 100, "to": 97, "drift": -3}]
    assert [(f["sku"], f["reason"]) for f in result["flagged"]] == [
        ("SKU-3", "drift_over_threshold"), ("SKU-5", "counted_since"), ("SKU-4", "missing_in_snapshot")]
    assert result["unknown_skus"] == ["NEW-SKU"] and result["missing_in_snapshot"] == ["SKU-4"]
    assert [level(api, sku)["on_hand"] for sku in ("SKU-2", "SKU-3", "SKU-4", "SKU-5")] == [97, 100, 12, 8]
    assert [h["reason"] for h in api.ops("GET", "/inventory/SKU-2/history").json_body["adjustments"]][-1] == \
        "reconciliation"

    again = api.ops("POST", "/inventory/snapshots", count)  # the same content and as_of
    assert again.status_code == 202 and again.json_body == {"snapshot_id": snapshot_id, "status": "completed"}
    api.pipeline.drain()
    assert level(api, "SKU-2")["on_hand"] == 97
    assert api.ops("POST", "/inventory/snapshots", {**count, "location_id": "NOPE"}).status_code == 422
    assert api.ops("POST", "/inventory/snapshots", {**count, "as_of": "yesterday"}).status_code == 422


def test_a_csv_dropped_into_the_bucket_is_reconciled_and_a_bad_one_rejected(stocked):
    api = stocked
    s3 = boto3.client("s3")
    bucket = TEST_ENV["OMS_IMPORTS_BUCKET"]
    s3.put_object(Bucket=bucket, Key=f"snapshots/wms/location_id=WH1/mode=partial/as_of={_now()}/a.csv",
                  Body=b"sku,on_hand\nSKU-1,104\nSKU-3,100\n", Metadata={"snapshot_id": "WMS-0001"})
    s3.put_object(Bucket=bucket, Key="snapshots/wms/broken.csv", Body=b"sku,on_hand\nSKU-1,-4\n",
                  Metadata={"snapshot_id": "WMS-0002"})
    api.pipeline.drain()
    result = api.ops("GET", "/inventory/snapshots/WMS-0001").json_body
    assert result["status"] == "completed" and result["adjusted"] == [{"sku": "SKU-1", "from": 100, "to": 104,
                                                                        "drift": 4}]
    assert result["source"] == "file" and result["matched"] == 1
    rejected = api.ops("GET", "/inventory/snapshots/WMS-0002").json_body
    assert rejected["status"] == "rejected" and "line 2" in rejected["error"]


def test_a_count_below_what_orders_hold_sources_the_newest_order_again(stocked):
    api = stocked
    api.location("WH2", priority=2)
    api.stock("SKU-7", 10)
    api.stock("SKU-7", 5, location="WH2")
    as_of = _now()
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-7", "quantity": 9, "unit_price": "1.00"}]))
    api.pipeline.drain()
    assert [fo["location_id"] for fo in api.order(order_id)["fulfillment_orders"]] == ["WH1"]
    posted = api.ops("POST", "/inventory/snapshots", {"location_id": "WH1", "as_of": as_of,
                                                      "mode": "partial", "items": [{"sku": "SKU-7", "on_hand": 7}]})
    api.pipeline.drain()
    result = api.ops("GET", f"/inventory/snapshots/{posted.json_body['snapshot_id']}").json_body
    assert result["adjusted"] == [{"sku": "SKU-7", "from": 10, "to": 7, "drift": -3}]
    assert result["sourced_again"] == [{"sku": "SKU-7", "order_id": order_id, "quantity": 2}]
    order = api.order(order_id)
    assert sorted((fo["location_id"], fo["lines"][0]["quantity"]) for fo in order["fulfillment_orders"]) == [
        ("WH1", 7), ("WH2", 2)]  # the two units that were not there now come from WH2
    assert (level(api, "SKU-7")["on_hand"], level(api, "SKU-7")["reserved"]) == (7, 7)
    assert "ReservationWithdrawn" in [h["event_type"] for h in order["history"]]


def test_the_reservation_check_repairs_a_reserved_count_orders_do_not_hold(stocked):
    api = stocked
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-2", "quantity": 2, "unit_price": "1.00"}]))
    api.pipeline.drain()
    assert api.ops("POST", "/inventory/reconciliations/run", {}).json_body["repaired"] == []
    boto3.client("dynamodb").update_item(  # a reservation lost somewhere (a bug, a manual edit)
        TableName=TEST_ENV["OMS_TABLE"], Key={"pk": {"S": "SKU#SKU-2"}, "sk": {"S": "LOC#WH1"}},
        UpdateExpression="SET reserved = reserved + :n", ExpressionAttributeValues={":n": {"N": "3"}})
    run = api.ops("POST", "/inventory/reconciliations/run", {}).json_body
    assert run["repaired"] == [{"sku": "SKU-2", "location_id": "WH1", "reserved_before": 5, "reserved_after": 2}]
    assert level(api, "SKU-2")["reserved"] == 2 and api.order(order_id)["lines"][0]["allocated"] == 2
    history = api.ops("GET", "/inventory/SKU-2/history").json_body["adjustments"]
    assert history[-1]["event_type"] == "InventoryDriftRepaired"


def test_a_bad_file_dropped_twice_is_rejected_once(stocked):
    api = stocked
    s3 = boto3.client("s3")
    for _ in range(2):
        s3.put_object(Bucket=TEST_ENV["OMS_IMPORTS_BUCKET"], Key="snapshots/wms/no-settings.csv",
                      Body=b"sku,on_hand\nSKU-1,4\n", Metadata={"snapshot_id": "WMS-0009"})
        api.pipeline.drain()
    rejected = api.ops("GET", "/inventory/snapshots/WMS-0009").json_body
    assert rejected["status"] == "rejected" and "location_id" in rejected["error"]
    assert api.pipeline.queue_depth("ImportsDeadLetterQueue") == 0
