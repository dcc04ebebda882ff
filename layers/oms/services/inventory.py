"""Locations and stock counts set by operators and warehouse systems."""
from __future__ import annotations

from oms.domain.inventory import Location, StockLevel

from .context import Context


class UnknownLocation(LookupError):
    """Stock was set for a location nobody created."""


def put_location(ctx: Context, location: Location) -> None:
    ctx.inventory.put_location(location, ctx.clock.now())


def set_stock(ctx: Context, sku: str, location_id: str, on_hand: int, safety_stock: int) -> StockLevel:
    if location_id not in {loc.location_id for loc in ctx.inventory.locations()}:
        raise UnknownLocation(location_id)
    return ctx.inventory.set_stock(sku, location_id, on_hand, safety_stock, ctx.clock.now())


def stock_of(ctx: Context, sku: str) -> list[StockLevel] | None:
    if not ctx.inventory.known_skus({sku}):
        return None
    return ctx.inventory.stock_levels({sku})


def repair_reservations(ctx: Context) -> dict:
    """Each stock item's `reserved` must equal what orders hold there (the holdings written with
    every reservation move); any difference is repaired, conditional on nothing having moved it
    since it was read, and reported as InventoryDriftRepaired. Reads each location's index and
    holdings a page at a time, never a Scan."""
    from .ports import ConcurrentModification

    checked, repaired = 0, []
    for location in ctx.inventory.locations():
        held = ctx.inventory.held_at(location.location_id)
        for indexed in ctx.inventory.stock_at(location.location_id):
            checked += 1
            if indexed.reserved == held.get(indexed.sku, 0):
                continue
            level = ctx.inventory.stock_level(indexed.sku, location.location_id)  # again, consistently
            holding = sum(units for _, units in ctx.inventory.holders(location.location_id, indexed.sku))
            if level.reserved == holding:
                continue  # it moved between the reads
            try:
                ctx.inventory.repair_reserved(level, holding)
            except ConcurrentModification:
                continue  # a reservation moved it meanwhile: the next run looks again
            repaired.append({"sku": level.sku, "location_id": level.location_id, "reserved_before": level.reserved,
                             "reserved_after": holding})
    return {"checked": checked, "repaired": repaired}
