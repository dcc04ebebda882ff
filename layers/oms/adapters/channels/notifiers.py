"""Which API tells a sales channel what happened to its orders."""
from __future__ import annotations

from oms.adapters.channels.sfcc_orders_api import SfccOrders
from oms.adapters.channels.shopify_admin import ShopifyAdmin
from oms.services.ports import ChannelNotifier


def notifier_for(channel: str) -> ChannelNotifier | None:
    """The channel's notifier, or None for a channel with no callback API (the generic
    webhook channel learns about its orders from our events or by asking)."""
    if channel == "shopify":
        return ShopifyAdmin()
    if channel == "sfcc":
        return SfccOrders()
    return None
