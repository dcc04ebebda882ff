"""A carrier's history may arrive in one event, twice, or out of order: the shipment ends the
same whichever way it came."""
from dataclasses import asdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.domain.order import TRACKING_ALERTS, TRACKING_FINAL, TRACKING_RANK, tracking_status
from tests.unit.builders import checkpoint, make_order, ready_to_ship, ship_all

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROGRESS = [s for s in TRACKING_RANK if s not in ("label_created", *TRACKING_FINAL)]


@st.composite
def carrier_histories(draw) -> list[dict]:
    """A plausible parcel: progress statuses in rank order with alerts among them, ending
    (maybe) in one final status, at strictly increasing carrier times."""
    steps = draw(st.lists(st.sampled_from(PROGRESS + list(TRACKING_ALERTS)), max_size=8))
    steps = sorted(steps, key=lambda s: TRACKING_RANK.get(s, draw(st.integers(0, 2))))
    # Most parcels end once; some histories carry both final statuses (returned, then
    # "delivered" back to the sender), which must resolve the same whatever the arrival order.
    steps += draw(st.lists(st.sampled_from(TRACKING_FINAL), max_size=2, unique=True))
    return [checkpoint(status, f"2024-05-0{1 + n // 24}T{n % 24:02d}:00:00Z", f"{status} #{n}")
            for n, status in enumerate(steps)]


@st.composite
def deliveries(draw, history: list[dict]) -> list[list[dict]]:
    """The history cut into updates, shuffled, with some updates and checkpoints repeated."""
    shuffled = draw(st.permutations(history))
    updates, rest = [], list(shuffled)
    while rest:
        size = draw(st.integers(1, len(rest)))
        updates.append(rest[:size])
        rest = rest[size:]
    repeats = draw(st.lists(st.sampled_from(updates), max_size=3)) if updates else []
    return draw(st.permutations(updates + repeats))


def final_shipment(updates: list[list[dict]]):
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    for update in updates:
        order.apply_tracking("1Z1", {"checkpoints": update, "estimated_delivery": "2024-05-09"})
    _, shipment = order.shipments()[0]
    return asdict(shipment), [(line.shipped, line.delivered) for line in order.lines], order.status


@FAST
@given(data=st.data())
def test_any_order_and_any_duplication_give_the_same_final_shipment(data):
    history = data.draw(carrier_histories())
    in_one = final_shipment([history] if history else [])
    scrambled = final_shipment(data.draw(deliveries(history)))
    assert scrambled == in_one
    shipment, _, _ = in_one
    assert shipment["events"] == history  # every distinct checkpoint once, in carrier time
    assert shipment["status"] == tracking_status(history)
    _, lines, _ = in_one
    delivered = shipment["status"] == "delivered"
    assert all(d == (s if delivered else 0) for s, d in lines)


def test_a_late_return_to_sender_before_the_delivery_means_it_was_delivered_back():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    order.apply_tracking("1Z1", {"checkpoints": [checkpoint("delivered", "2024-05-05T10:00:00Z")]})
    assert order.status == "delivered"
    events = order.apply_tracking("1Z1", {"checkpoints": [
        checkpoint("returned_to_sender", "2024-05-04T10:00:00Z", "Refused by recipient")]})
    assert [e.event_type for e in events] == ["ShipmentTrackingUpdated", "ShipmentException"]
    _, shipment = order.shipments()[0]
    assert (shipment.status, shipment.delivered_at) == ("returned_to_sender", None)
    assert [line.delivered for line in order.lines] == [0, 0] and order.status == "shipped"


def test_checkpoint_times_sort_as_moments_not_text():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    order.apply_tracking("1Z1", {"checkpoints": [checkpoint("in_transit", "2024-05-02T10:00:00Z"),
                                                 checkpoint("exception", "2024-05-02T10:00:00.500000Z")]})
    _, shipment = order.shipments()[0]
    assert shipment.status == "exception"  # the alert came half a second after the scan


@FAST
@given(history=carrier_histories())
def test_a_late_checkpoint_never_undoes_delivery(history):
    if not history or history[-1]["status"] != "delivered" or any(
            c["status"] == "returned_to_sender" for c in history):
        return
    updates = [history[-1:], history[:-1]]  # delivered first, the rest late
    shipment, lines, status = final_shipment(updates)
    assert shipment["status"] == "delivered" and status == "delivered"
    assert all(delivered == shipped for shipped, delivered in lines)


def test_checkpoints_at_the_same_moment_go_in_the_order_a_parcel_moves():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    same = "2024-05-02T10:00:00Z"
    order.apply_tracking("1Z1", {"checkpoints": [checkpoint("delivered", same, "Delivered"),
                                                 checkpoint("in_transit", same, "In transit")]})
    _, shipment = order.shipments()[0]
    assert [c["status"] for c in shipment.events] == ["in_transit", "delivered"]
    assert shipment.status == "delivered"
