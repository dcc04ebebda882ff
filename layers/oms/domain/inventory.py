"""Stock levels and sourcing: which location reserves which units of which line."""
from __future__ import annotations

from dataclasses import dataclass

from .order import Allocation, Line


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


def plan_sourcing(lines: list[Line], stock: list[StockLevel], priorities: dict[str, int]) -> list[Allocation]:
    """Reserve every unallocated unit if possible, preferring one location that can ship
    everything; otherwise take what each location has, highest priority first. Returns the
    reservations to attempt; units left out are backordered."""
    wanted = [line for line in lines if line.unallocated > 0]
    if not wanted:
        return []

    def rank(location_id: str) -> tuple[int, str]:
        return (priorities.get(location_id, 1_000_000), location_id)

    free = {(s.sku, s.location_id): s.available for s in stock}
    locations = sorted({s.location_id for s in stock}, key=rank)

    for location_id in locations:
        need: dict[str, int] = {}
        for line in wanted:
            need[line.sku] = need.get(line.sku, 0) + line.unallocated
        if all(free.get((sku, location_id), 0) >= qty for sku, qty in need.items()):
            return [Allocation(line.line_id, line.sku, location_id, line.unallocated) for line in wanted]

    plan: list[Allocation] = []
    for line in wanted:
        need_qty = line.unallocated
        for location_id in locations:
            take = min(need_qty, free.get((line.sku, location_id), 0))
            if take > 0:
                plan.append(Allocation(line.line_id, line.sku, location_id, take))
                free[(line.sku, location_id)] -= take
                need_qty -= take
            if need_qty == 0:
                break
    return plan
