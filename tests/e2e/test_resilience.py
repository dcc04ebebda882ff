"""The local stack under injected AWS faults, and left to run on its own with the simulator."""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.orders import canonical_order

from .conftest import Stack

ONCE_PER_ORDER = ("OrderReceived", "OrderValidated", "InventoryReserved", "OrderAllocated", "PaymentAuthorized",
                  "FulfillmentOrderCreated")


@pytest.fixture(scope="module")
def faulty_stack(tmp_path_factory):
    # A fifth of writes, deletes and publishes fail, half of them after taking effect (a lost
    # response); AWS_MAX_ATTEMPTS=1 keeps botocore from hiding the faults by retrying.
    started = Stack(tmp_path_factory.mktemp("faulty"), AWS_MAX_ATTEMPTS="1", OMS_LOCAL_CONCURRENCY="2",
                    OMS_LOCAL_FAULTS="DynamoDB_20120810.TransactWriteItems=0.2,AmazonSQS.DeleteMessageBatch=0.2,"
                                     "AWSEvents.PutEvents=0.2")
    yield started
    started.stop()
    started.assert_logs_hold_no_personal_data()


def test_consumers_failing_mid_batch_recover_with_nothing_lost_or_doubled(faulty_stack):
    stack = faulty_stack
    assert stack.ops("PUT", "/locations/WH1", {"name": "Main", "type": "warehouse", "priority": 1},
                     retry_unavailable=True).status_code == 200
    assert stack.ops("PUT", "/inventory/FAULT-1/locations/WH1", {"on_hand": 100},
                     retry_unavailable=True).status_code == 200
    bodies = [canonical_order(lines=[{"sku": "FAULT-1", "quantity": 2, "unit_price": "4.00"}]) for _ in range(20)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(lambda body: stack.webhook("orders", body, retry_unavailable=True), bodies))
    # A channel that retried after a lost response gets the same order back (200), never a second one.
    assert {r.status_code for r in responses} <= {200, 202}
    ids = [r.json()["order_id"] for r in responses]
    assert len(set(ids)) == 20
    orders = [stack.wait_for(order_id, lambda o: o["fulfillment_orders"], timeout=120) for order_id in ids]
    for order in orders:
        counts = Counter(e["event_type"] for e in order["history"])
        assert all(counts[name] == 1 for name in ONCE_PER_ORDER), counts
        assert order["lines"][0]["allocated"] == 2
    stock = stack.ops("GET", "/inventory/FAULT-1", retry_unavailable=True).json()
    assert stock["totals"] == {"on_hand": 100, "reserved": 40, "available": 60, "inbound": 0}
    sqs = stack.aws_client("sqs")
    for dlq in ("validation", "allocation", "payments", "fulfillment", "outbox"):
        url = f"{stack.aws}/123456789012/oms-local-{dlq}-dlq"
        depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0", dlq


@pytest.fixture(scope="module")
def simulated_stack(tmp_path_factory):
    started = Stack(tmp_path_factory.mktemp("simulated"), OMS_SIMULATE="1", OMS_SIMULATE_STEP_SECONDS="0.3")
    yield started
    started.stop()
    started.assert_logs_hold_no_personal_data()


def test_with_the_simulator_an_order_reaches_delivered_by_itself(simulated_stack):
    stack = simulated_stack
    stack.ops("PUT", "/locations/WH1", {"name": "Main", "type": "warehouse", "priority": 1})
    stack.ops("PUT", "/inventory/SIM-1/locations/WH1", {"on_hand": 5})
    created = stack.webhook("orders", canonical_order(lines=[{"sku": "SIM-1", "quantity": 1, "unit_price": "9.99"}]))
    order = stack.wait_for(created.json()["order_id"], lambda o: o["status"] == "delivered", timeout=60)
    shipment = order["fulfillment_orders"][0]["shipments"][0]
    assert shipment["carrier"] == "simulated"  # no address to buy labels from: its own tracking number
    assert [e["status"] for e in shipment["events"]] == ["in_transit", "out_for_delivery", "delivered"]
    assert order["payments"]["captured"] == order["payments"]["authorized"]


def test_with_the_simulator_an_order_goes_through_every_warehouse_step_to_delivered(simulated_stack):
    """Pick list, picks, a package, a label bought at the local carrier service (EasyPost's API),
    handed over, then tracked by the carrier's signed tracker events to delivered."""
    stack = simulated_stack
    stack.ops("PUT", "/locations/DC2", {"name": "DC", "type": "warehouse", "priority": 1, "address": {
        "name": "Acme DC", "line1": "388 Townsend St", "city": "San Francisco", "region": "CA", "postal_code": "94107",
        "country": "US"}})
    stack.ops("PUT", "/inventory/SIM-2/locations/DC2", {"on_hand": 5, "bin": "A-01"})
    created = stack.webhook("orders", canonical_order(lines=[{"sku": "SIM-2", "quantity": 2, "unit_price": "9.99"}]))
    order = stack.wait_for(created.json()["order_id"], lambda o: o["status"] == "delivered", timeout=90)
    fo = order["fulfillment_orders"][0]
    assert fo["location_id"] == "DC2" and fo["pick_list_id"] and fo["packages"][0]["label"]["tracking_number"]
    [shipment] = fo["shipments"]
    assert shipment["carrier"] != "simulated" and shipment["tracking_number"] == fo["packages"][0]["label"][
        "tracking_number"]
    steps = [e["event_type"] for e in order["history"]]
    for step in ("FulfillmentOrderPicked", "FulfillmentOrderPacked", "LabelPurchased", "ShipmentCreated",
                 "ShipmentDelivered"):
        assert step in steps, steps
    assert steps.index("LabelPurchased") < steps.index("ShipmentCreated") < steps.index("ShipmentDelivered")
