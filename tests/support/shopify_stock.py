"""A stand-in for Shopify's inventory in the GraphQL Admin API, for a RecordingServer rule:
inventory items by SKU with an "available" count at one location, answering the queries and the
mutation the OMS sends as Shopify does (2024-10): `location` (the primary one), `nodes(ids)`,
`inventoryItems(query: "sku:...")`, and `inventorySetQuantities` with compare-and-set, all or
nothing, COMPARE_QUANTITY_STALE with the quantity's index. Every answer reports a cost bucket
like Shopify's (extensions.cost.throttleStatus).

    stock = ShopifyStock({"SKU-1": 4})
    server.answer("POST", "/admin/api/2024-10/graphql.json", respond=stock.respond)
    stock.before_set = lambda: stock.sell("SKU-1", 1)   # a sale between the OMS's read and write
"""
from __future__ import annotations

import json
import re
import threading
import time

LOCATION = "gid://shopify/Location/905684977"
_SKU = re.compile(r'sku:("(?:[^"\\]|\\.)*")')


class ShopifyStock:
    def __init__(self, counts: dict[str, int], maximum: int = 1000, available: int = 1000, restore_rate: int = 50):
        self.items = {sku: {"id": f"gid://shopify/InventoryItem/{4900 + n}", "sku": sku, "available": count,
                            "stocked": True, "mutable": True}
                      for n, (sku, count) in enumerate(sorted(counts.items()))}
        self.maximum, self.available, self.restore_rate = maximum, available, restore_rate
        self._filled_at = time.monotonic()
        self._lock = threading.Lock()
        self.before_set = None  # called once before the next inventorySetQuantities is applied
        self.hold_sets = threading.Event()  # cleared: a mutation waits until it is set again
        self.hold_sets.set()
        self.set_waiting = threading.Event()  # set while a mutation waits
        self.sets: list[list[dict]] = []  # the quantities of every mutation Shopify applied
        self.denied = False  # True: the token lacks the write_inventory scope

    def sell(self, sku: str, units: int) -> None:
        self.items[sku]["available"] -= units

    def count(self, sku: str) -> int:
        return self.items[sku]["available"]

    def respond(self, request: dict) -> tuple:
        if "inventorySetQuantities" in request["body"]["query"] and not self.hold_sets.is_set():
            self.set_waiting.set()
            self.hold_sets.wait(10)
        with self._lock:
            return self._answer(request)

    def _answer(self, request: dict) -> tuple:
        query, variables = request["body"]["query"], request["body"].get("variables") or {}
        if self.denied and "inventorySetQuantities" in query:
            return 200, {"errors": [{"message": "Access denied for inventorySetQuantities field.",
                                     "extensions": {"code": "ACCESS_DENIED"}}]}
        cost = 10 if "inventorySetQuantities" in query else 2 + 3 * len(variables.get("ids") or [None] * variables.get(
            "first", 1))
        now = time.monotonic()
        self.available = min(self.maximum, self.available + self.restore_rate * (now - self._filled_at))
        self._filled_at = now
        if cost > self.available:
            return 200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                         "extensions": self._cost(cost)}
        self.available -= cost
        if "inventorySetQuantities" in query:
            data = self._set(variables["input"])
        elif "nodes(" in query:
            by_id = {item["id"]: item for item in self.items.values()}
            data = {"nodes": [self._node(by_id[i], variables["location"]) if i in by_id else None
                              for i in variables["ids"]]}
        elif "inventoryItems" in query:
            wanted = {json.loads(found) for found in _SKU.findall(variables["query"])}
            found = [self._node(item, variables["location"]) for _, item in sorted(self.items.items())
                     if item["sku"] in wanted]
            start = int(variables.get("after") or 0)
            end = start + variables["first"]
            data = {"inventoryItems": {"nodes": found[start:end], "pageInfo": {
                "hasNextPage": end < len(found), "endCursor": str(end)}}}
        else:
            data = {"location": {"id": LOCATION}}
        return 200, {"data": data, "extensions": self._cost(cost)}

    def _node(self, item: dict, location: str) -> dict:
        level = None
        if item["stocked"] and location == LOCATION:
            level = {"quantities": [{"name": "available", "quantity": item["available"]}]}
        return {"id": item["id"], "sku": item["sku"], "inventoryLevel": level}

    def _set(self, given: dict) -> dict:
        if self.before_set is not None:
            hook, self.before_set = self.before_set, None
            hook()
        by_id = {item["id"]: item for item in self.items.values()}
        errors = []
        for n, quantity in enumerate(given["quantities"]):
            item = by_id.get(quantity["inventoryItemId"])
            if item is None:
                errors.append({"code": "INVALID_INVENTORY_ITEM", "field": ["input", "quantities", str(n),
                                                                           "inventoryItemId"],
                               "message": "The specified inventory item could not be found."})
            elif not item["mutable"]:
                errors.append({"code": "NON_MUTABLE_INVENTORY_ITEM", "field": ["input", "quantities", str(n),
                                                                               "inventoryItemId"],
                               "message": "The specified inventory item is not allowed to be adjusted via API."})
            elif not given.get("ignoreCompareQuantity") and quantity.get("compareQuantity") != item["available"]:
                errors.append({"code": "COMPARE_QUANTITY_STALE", "field": ["input", "quantities", str(n),
                                                                           "compareQuantity"],
                               "message": "The compareQuantity argument no longer matches the persisted quantity."})
        if errors:
            return {"inventorySetQuantities": {"inventoryAdjustmentGroup": None, "userErrors": errors}}
        for quantity in given["quantities"]:
            by_id[quantity["inventoryItemId"]]["available"] = quantity["quantity"]
        self.sets.append(given["quantities"])
        return {"inventorySetQuantities": {"inventoryAdjustmentGroup": {"reason": given["reason"]}, "userErrors": []}}

    def _cost(self, requested: int) -> dict:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested, "throttleStatus": {
            "maximumAvailable": float(self.maximum), "currentlyAvailable": self.available,
            "restoreRate": float(self.restore_rate)}}}
