"""Sourcing through the API: locations with coordinates, ships and a daily capacity; an order is
sent from the nearest location that has everything (the channel's coordinates, else the ZIP
code's centroid), and says why."""
from __future__ import annotations

import copy

from tests.support.orders import ADDRESS, canonical_order

NEW_YORK, BOSTON, LOS_ANGELES = (40.7508, -73.9961), (42.3601, -71.0589), (34.0522, -118.2437)


def _place(api, location: str, sku: str = "SKU-7", **address) -> dict:
    body = canonical_order(lines=[{"sku": sku, "quantity": 1, "unit_price": "10.00"}])
    body["shipping_address"] = {**copy.deepcopy(ADDRESS), **address}
    order_id = api.place(body)
    api.pipeline.drain()
    return api.order(order_id)


def _location(api, location_id: str, point, priority: int, **extra):
    response = api.ops("PUT", f"/locations/{location_id}", {
        "name": location_id, "type": "store", "priority": priority, "latitude": point[0], "longitude": point[1],
        **extra})
    assert response.status_code == 200, response.body
    return response.json_body


def test_the_nearest_store_ships_and_the_order_says_why(api):
    _location(api, "LA", LOS_ANGELES, priority=1)
    _location(api, "BOS", BOSTON, priority=2)
    for location in ("LA", "BOS"):
        api.stock("SKU-7", 5, location=location)
    api.pipeline.drain()
    order = _place(api, "BOS")  # New York 10001: by its ZIP code's centroid
    assert {a["location_id"] for a in order["allocations"]} == {"BOS"}
    [why] = order["sourcing"]
    assert (why["rule"], why["by"], why["destination_located_by"]) == ("one_shipment", "distance", "postal_code")
    assert 280 < why["locations"][0]["distance_km"] < 320
    california = _place(api, "LA", latitude=37.7749, longitude=-122.4194, postal_code="94103", region="CA",
                        city="San Francisco")
    assert {a["location_id"] for a in california["allocations"]} == {"LA"}
    assert california["sourcing"][0]["destination_located_by"] == "address"
    abroad = _place(api, "LA", country="DE", postal_code="10115", city="Berlin", region="")
    assert abroad["sourcing"][0]["by"] == "priority"  # no coordinates: LA is priority 1


def test_a_store_at_its_daily_capacity_or_not_shipping_is_passed_over(api):
    _location(api, "BOS", BOSTON, priority=1, daily_capacity=1)
    _location(api, "NYC", NEW_YORK, priority=2, ships=False)
    _location(api, "LA", LOS_ANGELES, priority=3)
    for location in ("BOS", "NYC", "LA"):
        api.stock("SKU-7", 5, location=location)
    api.pipeline.drain()
    first, second = _place(api, "BOS"), _place(api, "BOS")
    assert [a["location_id"] for a in first["allocations"]] == ["BOS"]
    assert [a["location_id"] for a in second["allocations"]] == ["LA"]  # Boston took its one; NYC never ships


def test_a_location_refuses_half_a_coordinate(api):
    response = api.ops("PUT", "/locations/X", {"name": "X", "type": "store", "latitude": 40.0})
    assert response.status_code == 422
    response = api.ops("PUT", "/locations/X", {"name": "X", "type": "store", "latitude": 91, "longitude": 0})
    assert response.status_code == 422
