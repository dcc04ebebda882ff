"""Telling Shopify how many units of each SKU it may sell, through the GraphQL Admin API (2024-10).

- where:  OMS_SHOPIFY_LOCATION_ID, else the shop's primary location (`location` without an id),
          kept in the push state; the OMS's figure for the channel goes to that one location
- read:   the inventory items we know by id (`nodes`), the others by SKU (`inventoryItems` with a
          `sku:` search, exact matches only, remembered for next time), each with its "available"
          quantity at the location
- write:  `inventorySetQuantities` (name "available", reason "correction") for the SKUs whose count
          differs, compare-and-set: each quantity carries the compareQuantity we read, and a sale at
          Shopify in between answers COMPARE_QUANTITY_STALE and nothing is written. The stale
          quantities, and those Shopify refuses (a bundle's item), are left out and the rest sent once
          more; both kinds come back to the caller.

Shopify limits GraphQL by cost: a bucket of points (1,000 on most plans) refilled at a restore
rate (50 a second), reported with every answer in extensions.cost.throttleStatus. That report is
kept in the push state, and a call the bucket cannot pay for yet is not sent: ChannelUnavailable
says when it can be. A THROTTLED answer or an HTTP 429 is ChannelUnavailable too.

Configuration: OMS_SHOPIFY_SHOP_DOMAIN is the shop whose stock the OMS keeps (no push without it);
the token, base URL and API version are the order notifier's (see shopify_admin)."""
from __future__ import annotations

import json
import os
import time

from oms.adapters.channels.http import ChannelNotConfigured
from oms.adapters.channels.shopify_admin import SHOP_DOMAIN, ShopifyAdmin
from oms.services.ports import ChannelRejected, ChannelUnavailable, StockPush

READ_COST_PER_SKU = 3  # Shopify's requested cost for an item, its level and its quantities
MUTATION_COST = 10
LEVEL = 'inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }'
ITEMS_BY_ID = ("query($ids: [ID!]!, $location: ID!) { nodes(ids: $ids) { ... on InventoryItem { id sku "
               + LEVEL + " } } }")
ITEMS_BY_SKU = ("query($query: String!, $first: Int!, $after: String, $location: ID!) { inventoryItems("
                "first: $first, after: $after, query: $query) { nodes { id sku " + LEVEL + " } "
                "pageInfo { hasNextPage endCursor } } }")
MAX_SEARCH_PAGES = 4
PRIMARY_LOCATION = "query { location { id } }"
SET_QUANTITIES = """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) {
  inventoryAdjustmentGroup { reason } userErrors { code field message } } }"""


def configured_shop() -> str | None:
    shop = (os.environ.get("OMS_SHOPIFY_SHOP_DOMAIN") or "").strip().lower()
    if not shop:
        return None
    if not SHOP_DOMAIN.match(shop):
        raise ChannelNotConfigured(f"OMS_SHOPIFY_SHOP_DOMAIN={shop!r} is not a myshopify.com domain")
    return shop


class ShopifyInventory:
    """The ChannelStock for Shopify. `clock` is for the rate budget's arithmetic."""

    def __init__(self, shop: str, timeout: float = 10.0, clock=time.time):
        self.shop, self.admin, self.clock = shop, ShopifyAdmin(timeout), clock

    def push(self, quantities: dict[str, int], known: dict[str, str], state: dict) -> StockPush:
        """`state` is updated in place, also when the push fails half-way (the budget it spent)."""
        result = StockPush()
        location = self._location(state)
        levels = self._levels(set(quantities), known, location, state, result)
        changes = []
        for sku, wanted in sorted(quantities.items()):
            item_id, current = levels.get(sku, (None, None))
            if current is None:
                result.unknown.append(sku)  # not in the shop, or not stocked at the location
            elif current == wanted:
                result.pushed[sku] = wanted
            else:
                changes.append((sku, {"inventoryItemId": item_id, "locationId": location, "quantity": wanted,
                                      "compareQuantity": current}))
        for _ in range(2):  # once, and once more without the quantities Shopify found stale or refused
            if not changes:
                break
            stale, refused = self._set([change for _, change in changes], state)
            if not stale and not refused:
                result.pushed.update({sku: change["quantity"] for sku, change in changes})
                break
            result.stale += [changes[i][0] for i in sorted(stale)]
            result.refused.update({changes[i][0]: why for i, why in refused.items()})
            changes = [pair for i, pair in enumerate(changes) if i not in stale and i not in refused]
        else:
            result.stale += [sku for sku, _ in changes]  # refused again: the next push reads afresh
        return result

    # ---- reading ------------------------------------------------------------------------------

    def _location(self, state: dict) -> str:
        configured = (os.environ.get("OMS_SHOPIFY_LOCATION_ID") or "").strip()
        if configured:
            return configured if configured.startswith("gid://") else f"gid://shopify/Location/{configured}"
        if not state.get("location_id"):
            found = (self._graphql(PRIMARY_LOCATION, {}, 2, state).get("location") or {}).get("id")
            if not found:
                raise ChannelRejected(f"Shopify shop {self.shop} has no primary location")
            state["location_id"] = found
        return state["location_id"]

    def _levels(self, skus: set[str], known: dict[str, str], location: str, state: dict,
                result: StockPush) -> dict[str, tuple[str, int | None]]:
        """SKU -> (inventory item id, available at the location or None when not stocked there)."""
        levels: dict[str, tuple[str, int | None]] = {}
        by_id: dict[str, list[str]] = {}
        for sku in sorted(skus & set(known)):
            by_id.setdefault(known[sku], []).append(sku)
        if by_id:
            nodes = self._graphql(ITEMS_BY_ID, {"ids": sorted(by_id), "location": location},
                                  2 + READ_COST_PER_SKU * len(by_id), state).get("nodes") or []
            for node in nodes:
                # An item whose SKU changed at Shopify is not ours any more: it is searched again.
                if node and node.get("sku") in by_id.get(node.get("id"), []):
                    levels[node["sku"]] = (node["id"], _available(node))
        searched = sorted(skus - set(levels))  # new SKUs, and remembered ids Shopify no longer has for them
        if searched:
            found = self._search(searched, location, state)
            for sku in searched:
                matches = [node for node in found if node.get("sku") == sku]
                if len(matches) == 1:  # two items with one SKU: which one is ours is not ours to guess
                    levels[sku] = (matches[0]["id"], _available(matches[0]))
                    result.learned[sku] = matches[0]["id"]
        return levels

    def _search(self, skus: list[str], location: str, state: dict) -> list[dict]:
        """Items whose SKU is one of `skus`, page by page (the search may match more than asked)."""
        query = " OR ".join(f"sku:{json.dumps(sku, ensure_ascii=False)}" for sku in skus)
        first, after, found = min(250, 2 * len(skus)), None, []
        for _ in range(MAX_SEARCH_PAGES):
            page = (self._graphql(ITEMS_BY_SKU, {"query": query, "first": first, "after": after,
                                                 "location": location},
                                  2 + READ_COST_PER_SKU * first, state).get("inventoryItems") or {})
            found += page.get("nodes") or []
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                break
            after = info.get("endCursor")
        return found

    # ---- writing ------------------------------------------------------------------------------

    def _set(self, quantities: list[dict], state: dict) -> tuple[set[int], dict[int, str]]:
        """Nothing when Shopify took them all; else (the indexes of the stale quantities, those of
        the refused ones with why), and nothing was written. A refusal naming no quantity is
        ChannelRejected."""
        answer = self._graphql(SET_QUANTITIES, {"input": {
            "name": "available", "reason": "correction", "ignoreCompareQuantity": False,
            "referenceDocumentUri": "gid://oms/AvailabilityPush/channel", "quantities": quantities}},
            MUTATION_COST, state)
        stale: set[int] = set()
        refused: dict[int, str] = {}
        for error in (answer.get("inventorySetQuantities") or {}).get("userErrors") or []:
            path = [str(part) for part in error.get("field") or []]
            index = int(path[2]) if len(path) > 2 and path[1] == "quantities" and path[2].isdigit() else None
            if index is None or index >= len(quantities):
                raise ChannelRejected(f"Shopify refused the stock quantities: {error}")
            if error.get("code") == "COMPARE_QUANTITY_STALE":
                stale.add(index)
            else:
                refused[index] = f"{error.get('code')}: {error.get('message')}"
        return stale, refused

    # ---- plumbing: the rate budget --------------------------------------------------------------

    def _graphql(self, query: str, variables: dict, cost: int, state: dict) -> dict:
        self._afford(cost, state)
        answer = self.admin._post(self.shop, "graphql.json", {"query": query, "variables": variables}) or {}
        cost_report = (answer.get("extensions") or {}).get("cost") or {}
        throttle = cost_report.get("throttleStatus")
        if throttle:
            state["throttle"] = {"maximum": throttle["maximumAvailable"], "available": throttle["currentlyAvailable"],
                                 "restore_rate": throttle["restoreRate"], "at": self.clock()}
        problems = answer.get("errors") or []
        if any((p.get("extensions") or {}).get("code") == "THROTTLED" for p in problems if isinstance(p, dict)):
            wait = None
            if throttle:
                needed = cost_report.get("requestedQueryCost", cost) - throttle["currentlyAvailable"]
                wait = max(1.0, needed / throttle["restoreRate"])
            raise ChannelUnavailable("Shopify GraphQL throttled the call", retry_after=wait)
        if problems:
            raise ChannelRejected(f"Shopify GraphQL: {problems}")
        return answer.get("data") or {}

    def _afford(self, cost: int, state: dict) -> None:
        bucket = state.get("throttle")
        if not bucket or not bucket.get("restore_rate"):
            return  # nothing known yet: Shopify's answer will tell
        cost = min(cost, bucket["maximum"])
        now = self.clock()
        available = min(bucket["maximum"], bucket["available"] + bucket["restore_rate"] * max(0.0, now - bucket["at"]))
        if available < cost:
            raise ChannelUnavailable(f"Shopify's rate budget holds {available:.0f} of the {cost} points a call needs",
                                     retry_after=(cost - available) / bucket["restore_rate"])


def _available(node: dict) -> int | None:
    level = node.get("inventoryLevel")
    if not level:
        return None
    return next((int(q["quantity"]) for q in level.get("quantities") or [] if q.get("name") == "available"), None)
