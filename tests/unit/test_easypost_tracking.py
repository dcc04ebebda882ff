"""EasyPost tracker events mapped to CarrierTracking: the real FedEx tracker.updated fixture,
every EasyPost status, the tracker's own status when no detail shows it, and junk refused."""
import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.adapters.carriers import IgnoredEvent
from oms.adapters.carriers.easypost import STATUSES, to_tracking
from oms.services.canonical import CarrierTracking, UnmappablePayload
from tests.support.fixtures import fixture
from tests.support.junk import json_values, paths, replaced

EVENT = fixture("easypost/tracker-updated-fedex.json")


def event(**tracker_changes) -> dict:
    payload = copy.deepcopy(EVENT)
    payload["result"].update(tracker_changes)
    return payload


def detail(status: str, status_detail: str | None = "unknown", at: str = "2024-08-03T10:00:00Z", **more) -> dict:
    return {"object": "TrackingDetail", "message": f"{status} message", "description": None, "status": status,
            "status_detail": status_detail, "datetime": at, "source": "USPS", "carrier_code": "",
            "tracking_location": {"object": "TrackingLocation", "city": "BROOKLYN", "state": "NY",
                                  "country": "US", "zip": "11201"}, **more}


def refused(payload) -> list[dict]:
    with pytest.raises(UnmappablePayload) as error:
        to_tracking(payload)
    return error.value.details


# ---- the real fixture ------------------------------------------------------------------------

def test_the_fedex_fixture_maps_to_its_seven_checkpoints():
    tracking = to_tracking(copy.deepcopy(EVENT))
    assert tracking["tracking_number"] == "1"
    assert tracking["carrier"] == "FedEx"
    assert tracking["estimated_delivery"] == "2024-08-05T00:00:00Z"
    assert tracking["signed_by"] is None
    assert tracking["public_url"] == "https://track.easypost.com/1"
    assert [(c["status"], c["occurred_at"], c["location"], c["carrier_status"]) for c in tracking["checkpoints"]] == [
        ("info_received", datetime(2024, 7, 31, 15, 0, tzinfo=UTC), "US 32837", "pre_transit/label_created"),
        ("in_transit", datetime(2024, 7, 31, 19, 27, tzinfo=UTC), "ORLANDO, FL, US 32809",
         "in_transit/arrived_at_facility"),
        ("in_transit", datetime(2024, 7, 31, 22, 35, tzinfo=UTC), "ORLANDO, FL, US 32809",
         "in_transit/arrived_at_facility"),
        ("in_transit", datetime(2024, 8, 1, 14, 42, 13, tzinfo=UTC), "ORLANDO, FL, US 32809",
         "in_transit/departed_facility"),
        ("in_transit", datetime(2024, 8, 2, 2, 46, 19, tzinfo=UTC), "KENLY, NC, US 27542", "in_transit/unknown"),
        ("in_transit", datetime(2024, 8, 2, 18, 35, 20, tzinfo=UTC), "EDISON TWP, NJ, US 08817",
         "in_transit/unknown"),
        ("in_transit", datetime(2024, 8, 2, 18, 50, tzinfo=UTC), "EDISON, NJ, US 08817",
         "in_transit/arrived_at_facility"),
    ]
    assert [c["description"] for c in tracking["checkpoints"]][:2] == ["Shipment information sent to FedEx",
                                                                       "Picked up"]


def test_the_fixture_validates_as_carrier_tracking():
    model = CarrierTracking.model_validate(to_tracking(copy.deepcopy(EVENT)))
    update = model.as_update()
    assert len(update["checkpoints"]) == 7
    assert update["checkpoints"][0]["occurred_at"] == "2024-07-31T15:00:00Z"
    assert update["checkpoints"][-1]["location"] == "EDISON, NJ, US 08817"


def test_a_bare_tracker_maps_like_the_event():
    assert to_tracking(copy.deepcopy(EVENT["result"])) == to_tracking(copy.deepcopy(EVENT))


def test_tracker_created_is_accepted():
    payload = event()
    payload["description"] = "tracker.created"
    assert len(to_tracking(payload)["checkpoints"]) == 7


# ---- statuses --------------------------------------------------------------------------------

@pytest.mark.parametrize(("easypost", "oms"), [
    ("pre_transit", "info_received"), ("in_transit", "in_transit"), ("out_for_delivery", "out_for_delivery"),
    ("delivered", "delivered"), ("available_for_pickup", "available_for_pickup"),
    ("return_to_sender", "returned_to_sender"), ("failure", "exception"), ("cancelled", "exception"),
    ("error", "exception"),
])
def test_each_easypost_status_maps(easypost, oms):
    tracking = to_tracking(event(status=easypost, tracking_details=[detail(easypost, "some_detail")]))
    assert [(c["status"], c["carrier_status"]) for c in tracking["checkpoints"]] == [(oms, f"{easypost}/some_detail")]


def test_the_table_covers_every_documented_status():
    assert set(STATUSES) == {"unknown", "pre_transit", "in_transit", "out_for_delivery", "delivered",
                             "available_for_pickup", "return_to_sender", "failure", "cancelled", "error"}


def test_unknown_details_are_left_out():
    tracking = to_tracking(event(status="in_transit", tracking_details=[
        detail("unknown"), detail("in_transit", at="2024-08-03T11:00:00Z")]))
    assert [c["status"] for c in tracking["checkpoints"]] == ["in_transit"]


def test_an_unknown_tracker_with_no_details_has_no_checkpoints():
    assert to_tracking(event(status="unknown", tracking_details=[]))["checkpoints"] == []


def test_carrier_status_without_a_detail_is_the_status():
    tracking = to_tracking(event(status="delivered", tracking_details=[detail("delivered", None)]))
    assert tracking["checkpoints"][0]["carrier_status"] == "delivered"


def test_an_unrecognised_status_is_unmappable_with_details():
    details = refused(event(tracking_details=[detail("in_transit"), detail("teleported")]))
    assert details == [{"field": "result.tracking_details[1].status",
                        "problem": "unknown EasyPost status 'teleported'"}]
    assert refused(event(status="teleported"))[0]["field"] == "result.status"


# ---- the tracker's own status ---------------------------------------------------------------

def test_a_status_no_detail_shows_becomes_a_checkpoint_at_updated_at():
    tracking = to_tracking(event(status="delivered", status_detail="arrived_at_destination", tracking_details=[],
                                 updated_at="2024-08-05T16:02:11Z", signed_by="J SMITH"))
    assert tracking["checkpoints"] == [{
        "status": "delivered", "occurred_at": datetime(2024, 8, 5, 16, 2, 11, tzinfo=UTC), "description": "",
        "location": "", "carrier_status": "delivered/arrived_at_destination"}]
    assert tracking["signed_by"] == "J SMITH"


def test_a_status_newer_than_the_details_is_added_after_them():
    tracking = to_tracking(event(status="out_for_delivery", status_detail="out_for_delivery"))
    assert len(tracking["checkpoints"]) == 8
    assert tracking["checkpoints"][-1]["status"] == "out_for_delivery"
    assert tracking["checkpoints"][-1]["occurred_at"] == datetime(2024, 8, 2, 19, 26, 51, tzinfo=UTC)


def test_a_status_a_detail_already_shows_is_not_repeated():
    assert len(to_tracking(event())["checkpoints"]) == 7  # in_transit, shown by six details


def test_null_tracking_details_are_none():
    tracking = to_tracking(event(status="pre_transit", tracking_details=None))
    assert [c["status"] for c in tracking["checkpoints"]] == ["info_received"]


# ---- details of a detail --------------------------------------------------------------------

def test_description_falls_back_to_the_detail_description():
    tracking = to_tracking(event(tracking_details=[detail("in_transit", message=None, description="Departed")]))
    assert tracking["checkpoints"][0]["description"] == "Departed"


@pytest.mark.parametrize(("location", "text"), [
    (None, ""),
    ({"city": None, "state": None, "country": None, "zip": None}, ""),
    ({"city": "LONDON", "state": None, "country": "GB", "zip": None}, "LONDON, GB"),
    ({"city": "ORLANDO", "state": "FL", "country": None, "zip": "32809"}, "ORLANDO, FL, 32809"),
    ({"city": " ", "state": "FL", "country": "US", "zip": ""}, "FL, US"),
])
def test_location_is_tidy(location, text):
    tracking = to_tracking(event(tracking_details=[detail("in_transit", tracking_location=location)]))
    assert tracking["checkpoints"][0]["location"] == text


def test_a_time_with_an_offset_is_converted_to_utc():
    tracking = to_tracking(event(tracking_details=[detail("in_transit", at="2024-08-03T10:00:00-04:00")]))
    assert tracking["checkpoints"][0]["occurred_at"] == datetime(2024, 8, 3, 14, 0, tzinfo=UTC)


def test_a_time_without_an_offset_is_read_as_utc():
    tracking = to_tracking(event(tracking_details=[detail("in_transit", at="2024-08-03T10:00:00")]))
    assert tracking["checkpoints"][0]["occurred_at"] == datetime(2024, 8, 3, 10, 0, tzinfo=UTC)


# ---- other events and junk -------------------------------------------------------------------

@pytest.mark.parametrize("description", ["batch.created", "shipment.invoice.created", "refund.successful",
                                         "scan_form.updated", "payment.completed"])
def test_other_events_are_ignored(description):
    payload = copy.deepcopy(EVENT)
    payload["description"] = description
    payload["result"] = {"object": "Batch", "id": "batch_1"}
    with pytest.raises(IgnoredEvent) as ignored:
        to_tracking(payload)
    assert str(ignored.value) == f"EasyPost {description} events carry no tracking"


@pytest.mark.parametrize(("change", "field"), [
    ({"object": "Shipment"}, "object"),
    ({"object": None}, "object"),
    ({"description": None}, "description"),
    ({"description": 7}, "description"),
    ({"result": None}, "result"),
    ({"result": {"object": "Shipment"}}, "result.object"),
])
def test_a_malformed_event_is_unmappable(change, field):
    payload = copy.deepcopy(EVENT)
    payload.update(change)
    assert refused(payload)[0]["field"] == field


@pytest.mark.parametrize(("change", "field"), [
    ({"tracking_code": None}, "result.tracking_code"),
    ({"tracking_code": ""}, "result.tracking_code"),
    ({"tracking_code": 123}, "result.tracking_code"),
    ({"tracking_details": {"0": {}}}, "result.tracking_details"),
    ({"tracking_details": ["x"]}, "result.tracking_details[0]"),
    ({"tracking_details": [{"status": "in_transit"}]}, "result.tracking_details[0].datetime"),
    ({"tracking_details": [{"status": "in_transit", "datetime": "yesterday"}]}, "result.tracking_details[0].datetime"),
    ({"tracking_details": [{"status": "in_transit", "datetime": 1722450000}]}, "result.tracking_details[0].datetime"),
    ({"tracking_details": [{"datetime": "2024-08-03T10:00:00Z"}]}, "result.tracking_details[0].status"),
    ({"tracking_details": [detail("in_transit", tracking_location="NY")]},
     "result.tracking_details[0].tracking_location"),
    ({"tracking_details": [detail("in_transit", tracking_location={"city": 5})]},
     "result.tracking_details[0].tracking_location.city"),
    ({"status": "delivered", "tracking_details": [], "updated_at": None}, "result.updated_at"),
    ({"est_delivery_date": 20240805}, "result.est_delivery_date"),
])
def test_a_malformed_tracker_is_unmappable(change, field):
    assert refused(event(**change))[0]["field"] == field


def test_text_too_long_for_the_canonical_model_is_unmappable():
    details = refused(event(tracking_details=[detail("in_transit", message="x" * 501)]))
    assert details[0]["field"] == "checkpoints.0.description"


@pytest.mark.parametrize("payload", [None, [], "tracker.updated", 5, {}])
def test_a_body_that_is_not_an_event_is_unmappable(payload):
    refused(payload)


# ---- property: junk is refused, never crashes ------------------------------------------------

json_value = json_values(list(STATUSES) + ["Tracker", "Event", "tracker.updated", "2024-08-03T10:00:00Z",
                                                        "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])






EVENT_PATHS = list(paths(EVENT))
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def maps_or_refuses(payload) -> None:
    try:
        tracking = to_tracking(payload)
    except (UnmappablePayload, IgnoredEvent):
        return
    CarrierTracking.model_validate(tracking).as_update()


@PROPERTY
@given(st.sampled_from(EVENT_PATHS), json_value)
def test_a_fixture_with_any_field_replaced_maps_or_is_refused(path, junk):
    maps_or_refuses(replaced(EVENT, path, junk))


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
    for sample in [EVENT]:
        for path in paths(sample):
            for junk in JUNK:
                maps_or_refuses(replaced(sample, path, junk))
