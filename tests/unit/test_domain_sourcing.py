"""Sourcing: which location reserves which units of which line."""
import pytest

from oms.domain.inventory import Location, StockLevel
from oms.domain.order import Allocation, Line
from oms.domain.sourcing import Destination, Site, distance_km, plan_sourcing


def source(lines, levels, priorities: dict[str, int]):
    """Sourcing by priority alone (no coordinates anywhere): the allocations."""
    sites = {level.location_id: Site(level.location_id, priorities.get(level.location_id, 1_000_000))
             for level in levels}
    return plan_sourcing(lines, levels, sites, {})[0]

PRIORITIES = {"STORE": 5, "DC-EAST": 1, "DC-WEST": 2}


def line(line_id: str, sku: str, ordered: int, allocated: int = 0, cancelled: int = 0) -> Line:
    return Line(line_id, sku, sku, 1000, "g1", ordered, cancelled=cancelled, allocated=allocated)


def stock(sku: str, location_id: str, on_hand: int, reserved: int = 0, safety_stock: int = 0) -> StockLevel:
    return StockLevel(sku, location_id, on_hand, reserved, safety_stock)


def planned(plan: list[Allocation]) -> list[tuple[str, str, str, int]]:
    return [(a.line_id, a.sku, a.location_id, a.quantity) for a in plan]


@pytest.mark.parametrize("on_hand, reserved, safety, available", [
    (10, 0, 0, 10), (10, 3, 0, 7), (10, 3, 2, 5), (10, 8, 2, 0), (10, 9, 2, 0), (0, 0, 5, 0), (3, 5, 0, 0)])
def test_available_never_goes_below_zero(on_hand, reserved, safety, available):
    assert stock("A", "W", on_hand, reserved, safety).available == available


def test_location_is_a_value():
    loc = Location("DC-EAST", "East DC", "warehouse", 1, {"country": "US"})
    assert loc == Location("DC-EAST", "East DC", "warehouse", 1, {"country": "US"})
    with pytest.raises(AttributeError):
        loc.priority = 3  # type: ignore[misc]


def test_highest_priority_location_that_has_everything():
    lines = [line("L1", "A", 2), line("L2", "B", 1)]
    levels = [stock("A", "DC-WEST", 5), stock("B", "DC-WEST", 5), stock("A", "DC-EAST", 5), stock("B", "DC-EAST", 5)]
    assert planned(source(lines, levels, PRIORITIES)) == [("L1", "A", "DC-EAST", 2), ("L2", "B", "DC-EAST", 1)]


def test_prefers_one_location_with_everything_over_a_higher_priority_one_with_part():
    lines = [line("L1", "A", 2), line("L2", "B", 1)]
    levels = [stock("A", "DC-EAST", 10),                      # priority 1, but no B
              stock("A", "STORE", 2), stock("B", "STORE", 1)]  # priority 5, has everything
    assert planned(source(lines, levels, PRIORITIES)) == [("L1", "A", "STORE", 2), ("L2", "B", "STORE", 1)]


def test_splits_over_the_fewest_locations_when_no_location_has_everything():
    lines = [line("L1", "A", 5), line("L2", "B", 2)]
    levels = [stock("A", "STORE", 10), stock("A", "DC-WEST", 3), stock("A", "DC-EAST", 1),
              stock("B", "DC-WEST", 2)]
    # Two shipments (DC-WEST has the B; the store the rest of the A), not three by priority.
    assert planned(source(lines, levels, PRIORITIES)) == [
        ("L1", "A", "DC-WEST", 3), ("L1", "A", "STORE", 2), ("L2", "B", "DC-WEST", 2)]


def test_plans_only_what_is_available_and_backorders_the_rest():
    lines = [line("L1", "A", 10), line("L2", "B", 4)]
    levels = [stock("A", "DC-EAST", 3), stock("A", "DC-WEST", 2), stock("B", "DC-EAST", 0)]
    assert planned(source(lines, levels, PRIORITIES)) == [("L1", "A", "DC-EAST", 3), ("L1", "A", "DC-WEST", 2)]


def test_nothing_available_plans_nothing():
    assert source([line("L1", "A", 1)], [stock("A", "DC-EAST", 0)], PRIORITIES) == []
    assert source([line("L1", "A", 1)], [], PRIORITIES) == []


def test_respects_reservations_and_safety_stock():
    lines = [line("L1", "A", 4)]
    levels = [stock("A", "DC-EAST", 10, reserved=5, safety_stock=2),    # 3 available
              stock("A", "DC-WEST", 4, reserved=0, safety_stock=4)]     # 0 available
    assert planned(source(lines, levels, PRIORITIES)) == [("L1", "A", "DC-EAST", 3)]


def test_safety_stock_can_push_a_location_out_of_the_single_location_choice():
    lines = [line("L1", "A", 3)]
    levels = [stock("A", "DC-EAST", 3, safety_stock=1), stock("A", "STORE", 3)]
    assert planned(source(lines, levels, PRIORITIES)) == [("L1", "A", "STORE", 3)]


def test_lines_with_the_same_sku_are_counted_together():
    lines = [line("L1", "A", 2), line("L2", "A", 2)]
    # DC-EAST has 3: enough for either line, not both, so STORE (4) ships everything.
    levels = [stock("A", "DC-EAST", 3), stock("A", "STORE", 4)]
    assert planned(source(lines, levels, PRIORITIES)) == [("L1", "A", "STORE", 2), ("L2", "A", "STORE", 2)]


def test_lines_with_the_same_sku_split_without_double_counting():
    lines = [line("L1", "A", 2), line("L2", "A", 2)]
    levels = [stock("A", "DC-EAST", 3), stock("A", "DC-WEST", 0)]
    plan = source(lines, levels, PRIORITIES)
    assert planned(plan) == [("L1", "A", "DC-EAST", 2), ("L2", "A", "DC-EAST", 1)]
    assert sum(a.quantity for a in plan) == 3


def test_only_unallocated_units_are_sourced():
    lines = [line("L1", "A", 5, allocated=3), line("L2", "B", 2, allocated=2), line("L3", "C", 4, cancelled=1)]
    levels = [stock("A", "DC-EAST", 10), stock("C", "DC-EAST", 10)]
    assert planned(source(lines, levels, PRIORITIES)) == [("L1", "A", "DC-EAST", 2), ("L3", "C", "DC-EAST", 3)]


def test_fully_allocated_lines_need_nothing():
    assert source([line("L1", "A", 2, allocated=2)], [stock("A", "DC-EAST", 10)], PRIORITIES) == []


def test_unknown_locations_come_last_then_by_id():
    lines = [line("L1", "A", 3)]
    levels = [stock("A", "ZZ-POPUP", 1), stock("A", "AA-POPUP", 1), stock("A", "DC-WEST", 1)]
    assert planned(source(lines, levels, PRIORITIES)) == [
        ("L1", "A", "DC-WEST", 1), ("L1", "A", "AA-POPUP", 1), ("L1", "A", "ZZ-POPUP", 1)]


def test_equal_priority_breaks_ties_by_location_id():
    lines = [line("L1", "A", 1)]
    levels = [stock("A", "W2", 5), stock("A", "W1", 5)]
    assert planned(source(lines, levels, {"W1": 3, "W2": 3})) == [("L1", "A", "W1", 1)]


def test_plan_does_not_touch_the_stock_levels():
    levels = [stock("A", "DC-EAST", 3)]
    source([line("L1", "A", 5)], levels, PRIORITIES)
    assert (levels[0].on_hand, levels[0].reserved) == (3, 0)


# ---- by distance -------------------------------------------------------------------------------------

NYC, BOSTON, CHICAGO, LA = (40.7508, -73.9961), (42.3601, -71.0589), (41.8781, -87.6298), (34.0522, -118.2437)


def sites(**located) -> dict:
    return {loc: Site(loc, priority=n, coordinates=point) for n, (loc, point) in enumerate(located.items(), start=1)}


def to(point, located_by="address") -> dict:
    return {"g1": Destination("g1", point, located_by)}


def test_distance_km_is_the_great_circle():
    assert distance_km(NYC, LA) == pytest.approx(3944, rel=0.01)
    assert distance_km(NYC, NYC) == 0


def test_the_nearest_location_with_everything_wins_over_priority():
    levels = [stock("A", "LA", 5), stock("A", "BOS", 5), stock("A", "CHI", 5)]
    plan, [decision] = plan_sourcing([line("L1", "A", 2)], levels, sites(LA=LA, CHI=CHICAGO, BOS=BOSTON), to(NYC))
    assert planned(plan) == [("L1", "A", "BOS", 2)]
    assert decision["rule"] == "one_shipment" and decision["by"] == "distance"
    assert decision["locations"] == [{"location_id": "BOS", "distance_km": pytest.approx(306, abs=5), "priority": 3}]


def test_fewer_shipments_beat_distance():
    levels = [stock("A", "BOS", 1), stock("B", "BOS", 1), stock("A", "LA", 1), stock("B", "LA", 1),
              stock("A", "CHI", 1)]
    lines = [line("L1", "A", 1), line("L2", "B", 1)]
    plan, [decision] = plan_sourcing(lines, [lv for lv in levels if lv.location_id != "BOS"],
                                     sites(LA=LA, CHI=CHICAGO, BOS=BOSTON), to(NYC))
    assert {a.location_id for a in plan} == {"LA"}  # one parcel from far beats two from near
    plan, _ = plan_sourcing(lines, levels, sites(LA=LA, CHI=CHICAGO, BOS=BOSTON), to(NYC))
    assert {a.location_id for a in plan} == {"BOS"}


def test_locations_at_capacity_or_not_shipping_are_skipped():
    levels = [stock("A", "BOS", 5), stock("A", "CHI", 5), stock("A", "LA", 5)]
    located = sites(LA=LA, CHI=CHICAGO, BOS=BOSTON)
    located["BOS"] = Site("BOS", 3, BOSTON, full=True)
    located["CHI"] = Site("CHI", 2, CHICAGO, ships=False)
    plan, _ = plan_sourcing([line("L1", "A", 1)], levels, located, to(NYC))
    assert planned(plan) == [("L1", "A", "LA", 1)]


def test_without_the_addresss_coordinates_priority_decides_and_an_unlocated_location_comes_last():
    levels = [stock("A", "LA", 5), stock("A", "BOS", 5)]
    plan, [decision] = plan_sourcing([line("L1", "A", 1)], levels, sites(LA=LA, BOS=BOSTON), to(None, "none"))
    assert planned(plan) == [("L1", "A", "LA", 1)] and decision["by"] == "priority"
    unlocated = {"LA": Site("LA", 1, None), "BOS": Site("BOS", 2, BOSTON)}
    plan, [decision] = plan_sourcing([line("L1", "A", 1)], levels, unlocated, to(NYC))
    assert planned(plan) == [("L1", "A", "BOS", 1)] and decision["by"] == "distance"  # near, known, wins
    plan, [decision] = plan_sourcing([line("L1", "A", 6)], levels, unlocated, to(NYC))
    assert decision["by"] == "priority" and [x["distance_km"] for x in decision["locations"]] == [
        pytest.approx(306, abs=5), None]


def test_more_locations_than_the_exact_search_takes_are_chosen_greedily():
    levels = [stock("A", loc, 1) for loc in ("W1", "W2", "W3", "W4", "W5")]
    plan, [decision] = plan_sourcing([line("L1", "A", 4)], levels, {loc: Site(loc, n) for n, loc in
                                                                    enumerate(("W1", "W2", "W3", "W4", "W5"))}, {})
    assert [a.location_id for a in plan] == ["W1", "W2", "W3", "W4"] and decision["rule"] == "many_shipments"
    plan, [decision] = plan_sourcing([line("L1", "A", 9)], levels, {loc: Site(loc, 1) for loc in ("W1", "W2")}, {})
    assert decision["rule"] == "partial" and sum(a.quantity for a in plan) == 2


def test_three_hundred_locations_short_everywhere_take_the_greedy_path_and_sets_come_from_a_pool():
    levels = [stock("A", f"S{n:03d}", 1) for n in range(300)]
    located = {f"S{n:03d}": Site(f"S{n:03d}", n) for n in range(300)}
    plan, [decision] = plan_sourcing([line("L1", "A", 400)], levels, located, {})
    assert sum(a.quantity for a in plan) == 300 and decision["rule"] == "partial"
    plan, [decision] = plan_sourcing([line("L1", "A", 3)], levels, located, {})
    assert [a.location_id for a in plan] == ["S000", "S001", "S002"] and decision["rule"] == "fewest_shipments"
