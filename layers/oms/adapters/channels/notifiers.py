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


def stock_for(channel: str):
    """The channel's stock API when the OMS keeps the channel's count (Shopify, with
    OMS_SHOPIFY_SHOP_DOMAIN set), or None."""
    if channel == "shopify":
        from oms.adapters.channels.shopify_inventory import ShopifyInventory, configured_shop

        shop = configured_shop()
        return ShopifyInventory(shop) if shop else None
    return None
