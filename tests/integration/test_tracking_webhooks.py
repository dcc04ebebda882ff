"""EasyPost and AfterShip tracking webhooks through the API and the pipeline: signatures
(EasyPost's own test vector included), the vendors' payloads as they are, whole histories
arriving twice or out of order, and exceptions an operator and customer service see."""
from __future__ import annotations

import copy
import json

from tests.integration.conftest import table_items
from tests.support.fixtures import fixture, fixture_bytes
from tests.support.orders import canonical_order

EASYPOST_BODY = fixture_bytes("easypost/tracker-updated-fedex.json").removesuffix(b"\n")  # as EasyPost signed it
EASYPOST_VECTOR = fixture("easypost/webhook-signature-vector.json")
AFTERSHIP = fixture("aftership/tracking-update-v4.json")


def shipped(api, tracking_number: str) -> str:
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}]))
    api.pipeline.drain()
    api.ship(order_id, tracking_number)
    api.pipeline.drain()
    return order_id


def shipment(api, order_id: str) -> dict:
    return api.order(order_id)["fulfillment_orders"][0]["shipments"][0]


def test_easypost_fixture_signed_with_easyposts_own_vector_is_applied(stocked):
    order_id = shipped(stocked, "1")  # the fixture's tracking_code
    response = stocked.easypost(EASYPOST_BODY, header=EASYPOST_VECTOR["hmac_signature"])
    assert response.status_code == 202, response.body
    assert response.json_body == {"tracking_number": "1", "result": "applied"}
    stocked.pipeline.drain()
    parcel = shipment(stocked, order_id)
    assert parcel["status"] == "in_transit"
    assert len(parcel["events"]) == 7
    assert parcel["events"][0]["status"] == "info_received"
    assert parcel["events"][-1]["occurred_at"] == "2024-08-02T18:50:00Z"
    assert parcel["estimated_delivery"] == "2024-08-05T00:00:00Z"
    assert parcel["tracking_url"] == "https://track.easypost.com/1"


def test_the_same_easypost_history_again_changes_nothing(stocked):
    order_id = shipped(stocked, "1")
    header = EASYPOST_VECTOR["hmac_signature"]
    assert stocked.easypost(EASYPOST_BODY, header=header).json_body["result"] == "applied"
    stocked.pipeline.drain()
    before = stocked.order(order_id)
    assert stocked.easypost(EASYPOST_BODY, header=header).json_body["result"] == "duplicate"
    stocked.pipeline.drain()
    assert stocked.order(order_id) == before


def test_a_tampered_easypost_body_or_a_wrong_secret_is_refused_and_writes_nothing(stocked):
    shipped(stocked, "1")
    items = table_items()
    tampered = EASYPOST_BODY.replace(b'"in_transit"', b'"delivered"', 1)
    for response in (stocked.easypost(tampered, header=EASYPOST_VECTOR["hmac_signature"]),
                     stocked.easypost(EASYPOST_BODY, secret="not-the-secret"),
                     stocked.easypost(EASYPOST_BODY + b"\n", header=EASYPOST_VECTOR["hmac_signature"]),
                     stocked.vendor("/webhooks/tracking/easypost", EASYPOST_BODY, {})):
        assert response.status_code == 401, response.body
        assert response.json_body["error"]["code"] == "invalid_signature"
    assert table_items() == items


def test_other_easypost_events_are_acknowledged_and_ignored(stocked):
    event = {**json.loads(EASYPOST_BODY), "description": "batch.created"}
    response = stocked.easypost(event)
    assert response.status_code == 200 and response.json_body["result"] == "ignored"


def test_an_easypost_payload_that_cannot_be_mapped_is_422_with_details(stocked):
    event = json.loads(EASYPOST_BODY)
    event["result"]["tracking_details"][0]["status"] = "teleported"
    response = stocked.easypost(event)
    assert response.status_code == 422
    assert response.json_body["error"]["details"]


def test_aftership_update_out_for_delivery_then_delivered_delivers_the_order(stocked):
    order_id = shipped(stocked, "1234567890")
    assert stocked.aftership(AFTERSHIP).status_code == 202
    stocked.pipeline.drain()
    assert shipment(stocked, order_id)["status"] == "out_for_delivery"
    delivered = copy.deepcopy(AFTERSHIP)
    delivered["msg"]["tag"] = "Delivered"
    delivered["msg"]["signed_by"] = "A SMITH"
    delivered["msg"]["checkpoints"].append({**delivered["msg"]["checkpoints"][-1], "tag": "Delivered",
                                            "subtag": "Delivered_001", "message": "Delivered",
                                            "checkpoint_time": "2024-03-03T11:20:00+00:00"})
    assert stocked.aftership(delivered).status_code == 202
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["status"] == "delivered"
    assert order["fulfillment_orders"][0]["shipments"][0]["signed_by"] == "A SMITH"
    assert "OrderDelivered" in [h["event_type"] for h in order["history"]]


def test_a_failed_attempt_raises_a_shipment_exception_an_operator_sees(stocked):
    order_id = shipped(stocked, "1234567890")
    attempt = copy.deepcopy(AFTERSHIP)
    attempt["msg"]["tag"] = "AttemptFail"
    attempt["msg"]["checkpoints"].append({**attempt["msg"]["checkpoints"][-1], "tag": "AttemptFail",
                                          "subtag": "AttemptFail_001", "message": "Recipient not home",
                                          "checkpoint_time": "2024-03-03T12:00:00+00:00"})
    assert stocked.aftership(attempt).status_code == 202
    stocked.pipeline.drain()
    order = stocked.order(order_id)
    assert order["fulfillment_orders"][0]["shipments"][0]["status"] == "attempt_failed"
    exception = [h for h in order["history"] if h["event_type"] == "ShipmentException"]
    assert [e["data"]["status"] for e in exception] == ["attempt_failed"]
    assert exception[0]["data"]["description"] == "Recipient not home"
    assert order["needs_attention"] == [{"shipment_id": f"{order_id}-F1-S1", "tracking_number": "1234567890",
                                         "status": "attempt_failed", "description": "Recipient not home"}]


def test_a_wrong_aftership_signature_is_401(stocked):
    items = table_items()
    response = stocked.aftership(AFTERSHIP, secret="wrong")
    assert response.status_code == 401
    assert table_items() == items


def test_tracking_for_an_unknown_parcel_is_kept_once(stocked):
    assert stocked.aftership(AFTERSHIP).json_body["result"] == "unmatched"
    assert stocked.aftership(AFTERSHIP).json_body["result"] == "unmatched"
    unmatched = [i for i in table_items() if i["sk"]["S"].startswith("UNMATCHED#")]
    assert len(unmatched) == 1
