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
