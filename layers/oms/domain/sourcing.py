"""Where an order's units ship from. Per delivery group, in this order of importance:

1. the fewest shipments (locations) that hold every unit, trying every location alone, then
   every set of 2 and 3 among the MAX_POOL that hold most of it; failing that (or when the
   stock is short anyway), greedily the location that covers most of what is left, then the
   next, and what no location has is backordered;
2. the shortest great-circle distance from those locations to the shipping address (the sum,
   over the locations chosen), when both ends have coordinates;
3. the locations' priority (lower first), then their ids.

Locations that do not ship, or that have taken their daily capacity of fulfilment orders, are
left out. Each group's decision is recorded with the reason, so an operator can see why."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import asin, cos, radians, sin, sqrt

from .inventory import StockLevel
from .order import Allocation, Line

MAX_EXACT_LOCATIONS = 3
MAX_POOL = 24  # sets of 2 or 3 are sought among this many locations: C(24, 3) = 2024 sets
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Site:
    """A location as sourcing sees it."""
    location_id: str
    priority: int = 100
    coordinates: tuple[float, float] | None = None
    ships: bool = True
    full: bool = False  # took its daily capacity of fulfilment orders


@dataclass(frozen=True)
class Destination:
    group_id: str
    coordinates: tuple[float, float] | None
    located_by: str  # "address" (the channel's coordinates), "postal_code" (its centroid) or "none"


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(radians, (*a, *b))
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def plan_sourcing(lines: list[Line], stock: list[StockLevel], sites: dict[str, Site],
                  destinations: dict[str, Destination]) -> tuple[list[Allocation], list[dict]]:
    """The reservations to attempt, and per delivery group what was decided and why. `lines`
    carry their delivery group; a group without a destination is sourced by priority."""
    free = {(level.sku, level.location_id): level.available for level in stock
            if level.location_id in sites and sites[level.location_id].ships and not sites[level.location_id].full}
    plan: list[Allocation] = []
    decisions: list[dict] = []
    groups: dict[str, list[Line]] = {}
    for line in lines:
        if line.unallocated > 0:
            groups.setdefault(line.delivery_group, []).append(line)
    for group_id, wanted in groups.items():
        destination = destinations.get(group_id) or Destination(group_id, None, "none")
        allocations, decision = _source_group(wanted, free, sites, destination)
        for allocation in allocations:
            free[(allocation.sku, allocation.location_id)] -= allocation.quantity
        plan += allocations
        decisions.append(decision)
    return plan, decisions


def _source_group(lines: list[Line], free: dict[tuple[str, str], int], sites: dict[str, Site],
                  destination: Destination) -> tuple[list[Allocation], dict]:
    need: dict[str, int] = {}
    for line in lines:
        need[line.sku] = need.get(line.sku, 0) + line.unallocated
    holding = sorted({location for (sku, location), units in free.items() if units > 0 and sku in need})

    def distance(location_id: str) -> float | None:
        here = sites[location_id].coordinates
        if here is None or destination.coordinates is None:
            return None
        return distance_km(here, destination.coordinates)

    def rank(chosen: tuple[str, ...]) -> tuple:
        known = [distance(location) for location in chosen]
        far = sum(d for d in known if d is not None) if all(d is not None for d in known) else float("inf")
        return (len(chosen), far, sum(sites[location].priority for location in chosen), chosen)

    chosen: tuple[str, ...] | None = None
    coverable = all(sum(free.get((sku, location), 0) for location in holding) >= units for sku, units in need.items())
    for size in range(1, min(MAX_EXACT_LOCATIONS, len(holding)) + 1) if coverable else ():
        # Sets of several locations are searched among the best few (most units, nearest, first by priority).
        pool = holding if size == 1 else sorted(holding, key=lambda location: (
            -sum(min(units, free.get((sku, location), 0)) for sku, units in need.items()),
            rank((location,))[1:]))[:MAX_POOL]
        covering = [combo for combo in combinations(pool, size)
                    if all(sum(free.get((sku, location), 0) for location in combo) >= units
                           for sku, units in need.items())]
        if covering:
            chosen = min(covering, key=rank)
            break
    if chosen is not None:
        rule = "one_shipment" if len(chosen) == 1 else "fewest_shipments"
    else:
        chosen = _greedy(need, free, holding, rank)
        rule = "backordered" if not chosen else "partial"  # what no location has waits for stock
    order = sorted(chosen, key=lambda location: rank((location,))[1:])  # nearest (or first by priority) first
    allocations = _fill(lines, free, order)
    if rule == "partial" and sum(a.quantity for a in allocations) == sum(need.values()):
        rule = "many_shipments"  # every unit, but from more than MAX_EXACT_LOCATIONS locations
    return allocations, {
        "group_id": destination.group_id, "rule": rule,
        "by": "distance" if destination.coordinates is not None and all(distance(x) is not None for x in order)
        else "priority",
        "destination_located_by": destination.located_by,
        "locations": [{"location_id": location, "distance_km": _rounded(distance(location)),
                       "priority": sites[location].priority} for location in order]}


def _greedy(need: dict[str, int], free: dict[tuple[str, str], int], holding: list[str], rank) -> tuple[str, ...]:
    """More locations than MAX_EXACT_LOCATIONS, or not enough stock anywhere: each time the
    location that covers most of what is still needed (nearest, then priority, on a tie)."""
    left, chosen = dict(need), []
    while any(left.values()):
        def covers(location: str) -> int:
            return sum(min(units, free.get((sku, location), 0)) for sku, units in left.items())
        candidates = [location for location in holding if location not in chosen and covers(location) > 0]
        if not candidates:
            break
        best = min(candidates, key=lambda location: (-covers(location), rank((location,))[1:]))
        chosen.append(best)
        for sku in left:
            left[sku] -= min(left[sku], free.get((sku, best), 0))
    return tuple(chosen)


def _fill(lines: list[Line], free: dict[tuple[str, str], int], order: list[str]) -> list[Allocation]:
    taken: dict[tuple[str, str], int] = {}
    allocations = []
    for line in lines:
        still = line.unallocated
        for location in order:
            left = free.get((line.sku, location), 0) - taken.get((line.sku, location), 0)
            take = min(still, left)
            if take > 0:
                allocations.append(Allocation(line.line_id, line.sku, location, take))
                taken[(line.sku, location)] = taken.get((line.sku, location), 0) + take
                still -= take
    return allocations


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
