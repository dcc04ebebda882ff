"""What a sales channel may sell: available to fulfil now (ATF) and available to order (ATO).

ATF is on hand less reserved and safety stock, over the channel's locations, of which the
channel gets its share, less its buffer, never below 0. ATO adds the units expected at those
locations within the horizon (open purchase orders due by then, transfers on their way), of
which the channel gets the same share."""
from __future__ import annotations

from dataclasses import dataclass

from .events import DomainEvent
from .inventory import StockLevel


@dataclass(frozen=True)
class ChannelPolicy:
    locations: tuple[str, ...] | None = None  # None: every location
    buffer_units: int = 0
    share_percent: int = 100

    def sells_from(self, location_id: str) -> bool:
        return self.locations is None or location_id in self.locations


def availability(sku: str, levels: list[StockLevel], policy: ChannelPolicy, expected: int) -> dict:
    """`levels`: the SKU's stock items; `expected`: units due at the channel's locations within
    the horizon."""
    available = sum(level.available for level in levels if policy.sells_from(level.location_id))
    atf = max(0, available * policy.share_percent // 100 - policy.buffer_units)
    ato = atf + expected * policy.share_percent // 100
    return {"sku": sku, "atf": atf, "ato": ato}


def policy_changed(channel: str, policy: ChannelPolicy) -> DomainEvent:
    """What the channel may sell of every SKU may have changed: channels that keep a count are told."""
    return DomainEvent("ChannelInventoryPolicyChanged", {
        "channel": channel, "locations": list(policy.locations) if policy.locations is not None else None,
        "buffer_units": policy.buffer_units, "share_percent": policy.share_percent})
