"""Stock levels and sourcing: which location reserves which units of which line."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StockLevel:
    sku: str
    location_id: str
    on_hand: int
    reserved: int
    safety_stock: int
    inbound: int = 0  # on its way here: open purchase orders and transfers
    version: int = 0  # of the stock item, for a write conditional on what was read
    moved_at: str | None = None  # when on hand last changed

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


@dataclass(frozen=True)
class StockChange:
    """A stock item's new counts, decided from what was read (`before`), and why: written only
    if nothing changed it meanwhile (its version and its reservations), with InventoryAdjusted."""
    before: StockLevel
    on_hand: int
    inbound: int
    safety_stock: int
    reason: str  # see the InventoryAdjusted schema: count, return_restock, reconciliation, purchase_order, ...
    reference: str | None = None  # the snapshot, purchase order, transfer or return behind it

    @classmethod
    def by(cls, before: StockLevel, reason: str, reference: str | None = None, *, on_hand: int = 0,
           inbound: int = 0) -> StockChange:
        """Move the counts by these amounts."""
        return cls(before, before.on_hand + on_hand, before.inbound + inbound, before.safety_stock, reason, reference)


@dataclass(frozen=True)
class Location:
    location_id: str
    name: str
    type: str
    priority: int  # lower number = sourced first
    address: dict
    latitude: float | None = None
    longitude: float | None = None
    ships: bool = True  # False: stock is kept there but never shipped from it
    daily_capacity: int | None = None  # fulfilment orders it can take a day (None: no limit)
