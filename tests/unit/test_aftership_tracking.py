"""AfterShip tracking webhooks mapped to CarrierTracking.

The payloads below are written from AfterShip's documentation (webhook v4 and the dated
versions), not captured from AfterShip: there is no vendor fixture for them yet."""
import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.adapters.carriers import IgnoredEvent
from oms.adapters.carriers.aftership import TAGS, to_tracking
from oms.services.canonical import CarrierTracking, UnmappablePayload
from tests.support.junk import json_values, paths, replaced


def checkpoint(tag: str, subtag: str | None = None, at: str = "2024-03-01T10:00:00+08:00", **more) -> dict:
    """A v4 checkpoint."""
    return {"slug": "dhl", "city": "Hong Kong", "created_at": "2024-03-01T02:15:03+00:00", "location": "Hong Kong",
            "country_name": "Hong Kong", "message": f"{tag} message", "country_iso3": "HKG", "tag": tag,
            "subtag": subtag or f"{tag}_001", "subtag_message": f"{tag} subtag message", "checkpoint_time": at,
            "coordinates": [], "state": None, "zip": None, "raw_tag": "PU", **more}


# A v4 "tracking_update": DHL parcel, Hong Kong to London, out for delivery.
V4 = {
    "event": "tracking_update",
    "event_id": "2a4b5f9d-0a4e-4e4f-9c52-7d3c0bcb0f11",
    "is_tracking_first_tag": True,
    "msg": {
        "id": "5b74f4958776db0e00b6f5ed", "created_at": "2024-02-29T23:58:41+00:00",
        "updated_at": "2024-03-03T08:05:12+00:00", "last_updated_at": "2024-03-03T08:05:12+00:00",
        "tracking_number": "1234567890", "slug": "dhl", "active": True, "android": [], "custom_fields": {},
        "customer_name": None, "delivery_time": 3, "destination_country_iso3": "GBR", "emails": [],
        "expected_delivery": "2024-03-04", "ios": [], "note": None, "order_id": "#1001", "order_id_path": None,
        "origin_country_iso3": "HKG", "shipment_package_count": 1, "shipment_pickup_date": "2024-03-01T10:00:00",
        "shipment_delivery_date": None, "shipment_type": "EXPRESS", "shipment_weight": 0.5,
        "shipment_weight_unit": "kg", "signed_by": None, "smses": [], "source": "api",
        "tag": "OutForDelivery", "subtag": "OutForDelivery_001", "subtag_message": "Out for Delivery",
        "title": "1234567890", "tracked_count": 12, "last_mile_tracking_supported": None, "language": None,
        "unique_token": "deprecated", "subscribed_smses": [], "subscribed_emails": [], "return_to_sender": False,
        "tracking_account_number": None, "tracking_origin_country": None, "tracking_destination_country": None,
        "tracking_key": None, "tracking_postal_code": None, "tracking_ship_date": None, "tracking_state": None,
        "courier_tracking_link": "https://www.dhl.com/en/express/tracking.html?AWB=1234567890",
        "checkpoints": [
            checkpoint("InfoReceived", at="2024-02-29T18:00:00+08:00", city=None, location=None),
            checkpoint("InTransit", "InTransit_002", at="2024-03-01T10:00:00+08:00"),
            checkpoint("InTransit", "InTransit_007", at="2024-03-02T22:10:00+00:00", city="East Midlands",
                       country_name="United Kingdom", country_iso3="GBR", state="Leicestershire", zip="DE74 2SA"),
            checkpoint("OutForDelivery", at="2024-03-03T07:58:00+00:00", city="London", country_iso3="GBR",
                       country_name="United Kingdom", zip="EC1A 1BB"),
        ],
    },
    "ts": 1709453112,
}


def v4(**msg_changes) -> dict:
    payload = copy.deepcopy(V4)
    payload["msg"].update(msg_changes)
    return payload


def dated(**msg_changes) -> dict:
    """The same parcel in a dated version (2024-04 on): renamed location fields, latest_estimated_delivery."""
    payload = copy.deepcopy(V4)
    msg = payload["msg"]
    del msg["expected_delivery"]
    msg["latest_estimated_delivery"] = {"type": "specific", "source": "Carrier EDD",
                                        "datetime": "2024-03-04T18:00:00+00:00", "datetime_min": None,
                                        "datetime_max": None, "revise_reason": None}
    for point in msg["checkpoints"]:
        point["country_region"] = point.pop("country_iso3")
        point["country_region_name"] = point.pop("country_name")
        point["postal_code"] = point.pop("zip")
        point["source"] = "carrier"
    msg.update(msg_changes)
    return payload


def refused(payload) -> list[dict]:
    with pytest.raises(UnmappablePayload) as error:
        to_tracking(payload)
    return error.value.details


# ---- a whole payload -------------------------------------------------------------------------

def test_a_v4_tracking_update_maps():
    tracking = to_tracking(v4())
    assert tracking["tracking_number"] == "1234567890"
    assert tracking["carrier"] == "dhl"
    assert tracking["estimated_delivery"] == "2024-03-04"
    assert tracking["signed_by"] is None
    assert tracking["public_url"] == "https://www.dhl.com/en/express/tracking.html?AWB=1234567890"
    assert [(c["status"], c["occurred_at"], c["location"], c["carrier_status"]) for c in tracking["checkpoints"]] == [
        ("info_received", datetime(2024, 2, 29, 10, 0, tzinfo=UTC), "HKG", "InfoReceived_001"),
        ("in_transit", datetime(2024, 3, 1, 2, 0, tzinfo=UTC), "Hong Kong, HKG", "InTransit_002"),
        ("in_transit", datetime(2024, 3, 2, 22, 10, tzinfo=UTC), "East Midlands, Leicestershire, GBR DE74 2SA",
         "InTransit_007"),
        ("out_for_delivery", datetime(2024, 3, 3, 7, 58, tzinfo=UTC), "London, GBR EC1A 1BB", "OutForDelivery_001"),
    ]
    assert tracking["checkpoints"][0]["description"] == "InfoReceived message"
    assert CarrierTracking.model_validate(tracking).as_update()["checkpoints"][1]["occurred_at"] == \
        "2024-03-01T02:00:00Z"


def test_a_dated_version_maps_the_same_checkpoints():
    old, new = to_tracking(v4()), to_tracking(dated())
    assert new["checkpoints"] == old["checkpoints"]
    assert new["estimated_delivery"] == "2024-03-04T18:00:00+00:00"


def test_a_range_estimate_gives_its_end():
    payload = dated(latest_estimated_delivery={"type": "range", "source": "AfterShip EDD", "datetime": None,
                                               "datetime_min": "2024-03-04", "datetime_max": "2024-03-06"})
    assert to_tracking(payload)["estimated_delivery"] == "2024-03-06"


def test_no_estimate_is_none():
    assert to_tracking(dated(latest_estimated_delivery=None))["estimated_delivery"] is None


# ---- tags ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("tag", "oms"), [
    ("InfoReceived", "info_received"), ("InTransit", "in_transit"), ("OutForDelivery", "out_for_delivery"),
    ("AttemptFail", "attempt_failed"), ("Delivered", "delivered"), ("AvailableForPickup", "available_for_pickup"),
    ("Exception", "exception"), ("Expired", "expired"),
])
def test_each_tag_maps(tag, oms):
    tracking = to_tracking(v4(tag=tag, subtag=f"{tag}_001", checkpoints=[checkpoint(tag)]))
    assert [(c["status"], c["carrier_status"]) for c in tracking["checkpoints"]] == [(oms, f"{tag}_001")]


def test_the_table_covers_every_documented_tag():
    assert set(TAGS) == {"Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered",
                         "AvailableForPickup", "Exception", "Expired"}


@pytest.mark.parametrize("subtag", ["Exception_010", "Exception_011"])
def test_returning_and_returned_to_sender_subtags_are_returned_to_sender(subtag):
    tracking = to_tracking(v4(tag="Exception", subtag=subtag, checkpoints=[checkpoint("Exception", subtag)]))
    assert [(c["status"], c["carrier_status"]) for c in tracking["checkpoints"]] == [("returned_to_sender", subtag)]


@pytest.mark.parametrize("subtag", ["Exception_001", "Exception_003", "Exception_013", "Exception_099", None])
def test_other_exceptions_stay_exceptions(subtag):
    point = checkpoint("Exception", subtag)
    point["subtag"] = subtag
    tracking = to_tracking(v4(tag="Exception", subtag=subtag, checkpoints=[point]))
    assert [(c["status"], c["carrier_status"]) for c in tracking["checkpoints"]] == [("exception",
                                                                                        subtag or "Exception")]


def test_pending_checkpoints_are_left_out():
    tracking = to_tracking(v4(tag="Pending", subtag="Pending_001", checkpoints=[checkpoint("Pending")]))
    assert tracking["checkpoints"] == []


def test_a_subtag_from_another_tag_does_not_change_the_status():
    # Only Exception's return subtags are read; the tag decides everything else.
    tracking = to_tracking(v4(checkpoints=[checkpoint("Delivered", "Exception_011")]))
    assert tracking["checkpoints"][0]["status"] == "delivered"


def test_an_unknown_tag_is_unmappable_with_details():
    details = refused(v4(checkpoints=[checkpoint("InTransit"), checkpoint("Teleported")]))
    assert details == [{"field": "msg.checkpoints[1].tag", "problem": "unknown AfterShip tag 'Teleported'"}]
    assert refused(v4(tag="Lost"))[0]["field"] == "msg.tag"


# ---- the tracking's own tag ------------------------------------------------------------------

def test_no_checkpoints_gives_one_for_the_tag_at_updated_at():
    tracking = to_tracking(v4(tag="Delivered", subtag="Delivered_003", checkpoints=[], signed_by="J SMITH"))
    assert tracking["checkpoints"] == [{
        "status": "delivered", "occurred_at": datetime(2024, 3, 3, 8, 5, 12, tzinfo=UTC), "description": "",
        "location": "", "carrier_status": "Delivered_003"}]
    assert tracking["signed_by"] == "J SMITH"


def test_without_updated_at_the_webhooks_ts_is_used():
    tracking = to_tracking(v4(tag="InTransit", subtag=None, checkpoints=None, updated_at=None))
    assert tracking["checkpoints"][0]["occurred_at"] == datetime.fromtimestamp(1709453112, UTC)
    assert tracking["checkpoints"][0]["carrier_status"] == "InTransit"


def test_expired_with_old_checkpoints_adds_the_expiry():
    tracking = to_tracking(v4(tag="Expired", subtag="Expired_001"))
    assert [c["status"] for c in tracking["checkpoints"]][-2:] == ["out_for_delivery", "expired"]


def test_a_pending_tracking_with_no_checkpoints_has_none():
    assert to_tracking(v4(tag="Pending", subtag="Pending_001", checkpoints=[]))["checkpoints"] == []


def test_a_tag_a_checkpoint_shows_is_not_repeated():
    assert len(to_tracking(v4())["checkpoints"]) == 4


# ---- times -----------------------------------------------------------------------------------

def test_a_local_time_without_an_offset_is_read_as_utc():
    # AfterShip passes the carrier's local time on as given; the mapper reads it as UTC (see the module).
    tracking = to_tracking(v4(checkpoints=[checkpoint("OutForDelivery", at="2024-03-01T10:00:00")]))
    assert tracking["checkpoints"][0]["occurred_at"] == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def test_a_date_only_checkpoint_is_midnight_utc():
    tracking = to_tracking(v4(checkpoints=[checkpoint("OutForDelivery", at="2024-03-01")]))
    assert tracking["checkpoints"][0]["occurred_at"] == datetime(2024, 3, 1, tzinfo=UTC)


def test_a_time_with_an_offset_is_converted_to_utc():
    tracking = to_tracking(v4(checkpoints=[checkpoint("OutForDelivery", at="2024-03-01T10:00:00-05:00")]))
    assert tracking["checkpoints"][0]["occurred_at"] == datetime(2024, 3, 1, 15, 0, tzinfo=UTC)


# ---- location and description ----------------------------------------------------------------

def test_without_structured_fields_the_carriers_location_text_is_used():
    point = checkpoint("InTransit", city=None, country_name=None, country_iso3=None, location="HONG KONG HUB")
    assert to_tracking(v4(checkpoints=[point]))["checkpoints"][0]["location"] == "HONG KONG HUB"


def test_country_name_is_used_when_there_is_no_iso3():
    point = checkpoint("InTransit", city="Leipzig", country_iso3=None, country_name="Germany")
    assert to_tracking(v4(checkpoints=[point]))["checkpoints"][0]["location"] == "Leipzig, Germany"


def test_description_falls_back_to_the_subtag_message():
    point = checkpoint("InTransit", message=None, subtag_message="Departure Scan")
    assert to_tracking(v4(checkpoints=[point]))["checkpoints"][0]["description"] == "Departure Scan"


# ---- other events and junk -------------------------------------------------------------------

@pytest.mark.parametrize("event", ["edd_revise", "tracking_pending_time", "some_future_event"])
def test_other_events_are_ignored(event):
    payload = v4()
    payload["event"] = event
    with pytest.raises(IgnoredEvent) as ignored:
        to_tracking(payload)
    assert str(ignored.value) == f"AfterShip {event} events are not acted on"


@pytest.mark.parametrize(("change", "field"), [
    ({"event": None}, "event"),
    ({"event": 1}, "event"),
    ({"msg": None}, "msg"),
    ({"msg": []}, "msg"),
])
def test_a_malformed_body_is_unmappable(change, field):
    payload = v4()
    payload.update(change)
    assert refused(payload)[0]["field"] == field


@pytest.mark.parametrize(("change", "field"), [
    ({"tracking_number": None}, "msg.tracking_number"),
    ({"tracking_number": 1234567890}, "msg.tracking_number"),
    ({"tag": None}, "msg.tag"),
    ({"slug": ["dhl"]}, "msg.slug"),
    ({"checkpoints": {"tag": "InTransit"}}, "msg.checkpoints"),
    ({"checkpoints": [None]}, "msg.checkpoints[0]"),
    ({"checkpoints": [{"tag": "InTransit"}]}, "msg.checkpoints[0].checkpoint_time"),
    ({"checkpoints": [checkpoint("InTransit", at="01/03/2024 10:00")]}, "msg.checkpoints[0].checkpoint_time"),
    ({"checkpoints": [checkpoint("InTransit", zip=12345)]}, "msg.checkpoints[0].zip"),
    ({"checkpoints": [], "tag": "Delivered", "updated_at": "soon"}, "msg.updated_at"),
    ({"expected_delivery": 20240304}, "msg.expected_delivery"),
    ({"expected_delivery": None, "latest_estimated_delivery": "2024-03-04"}, "msg.latest_estimated_delivery"),
])
def test_a_malformed_tracking_is_unmappable(change, field):
    assert refused(v4(**change))[0]["field"] == field


@pytest.mark.parametrize("ts", [None, "1709453112", True, 10 ** 20, float("nan")])
def test_no_usable_time_for_the_tag_is_unmappable(ts):
    payload = v4(checkpoints=[], updated_at=None)
    payload["ts"] = ts
    assert refused(payload)[0]["field"] == "ts"


@pytest.mark.parametrize("payload", [None, [], "tracking_update", 5, {}])
def test_a_body_that_is_not_a_webhook_is_unmappable(payload):
    refused(payload)


# ---- property: junk is refused, never crashes ------------------------------------------------

json_value = json_values([*TAGS, "tracking_update", "Exception_011", "2024-03-01T10:00:00",
                                       "2024-03-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])






SAMPLES = [V4, dated()]
SAMPLE_PATHS = [(n, path) for n, sample in enumerate(SAMPLES) for path in paths(sample)]
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def maps_or_refuses(payload) -> None:
    try:
        tracking = to_tracking(payload)
    except (UnmappablePayload, IgnoredEvent):
        return
    CarrierTracking.model_validate(tracking).as_update()


@PROPERTY
@given(st.sampled_from(SAMPLE_PATHS), json_value)
def test_a_payload_with_any_field_replaced_maps_or_is_refused(sample_path, junk):
    n, path = sample_path
    maps_or_refuses(replaced(SAMPLES[n], path, junk))


@PROPERTY
@given(json_value)
def test_arbitrary_json_maps_or_is_refused(junk):
    maps_or_refuses(junk)


# Every field of the sample(s), in turn, replaced by each of these: a deterministic sweep that
# reaches the corners random generation rarely does (times out of datetime's range, NaN, ...).
JUNK = [None, True, 0, -1, 10 ** 30, 1.5, float("nan"), float("inf"), "", " ", "x" * 600, "\u0000", [], [None], {},
        {"object": "Tracker"}, "2024-03-01", "2024-03-01T10:00:00", "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59", "2024-02-30T10:00:00Z"]


def test_every_field_replaced_by_junk_maps_or_is_refused():
    for sample in SAMPLES:
        for path in paths(sample):
            for junk in JUNK:
                maps_or_refuses(replaced(sample, path, junk))
