"""Replenishment: each SKU and location with a policy gets a suggestion (see
oms.domain.replenishment) from the units ordered per day; a daily check says which crossed
their reorder point (ReplenishmentNeeded, once per crossing)."""
from __future__ import annotations

import os
from dataclasses import asdict
from datetime import date, timedelta

from oms.domain.events import DomainEvent
from oms.domain.replenishment import ReplenishmentPolicy, suggestion

from .context import Context
from .ports import ConcurrentModification, Document, DuplicateReference, StockCommit

POLICY = "RPOLICY"
FORECAST = "DFORECAST"
FORECAST_FRESH_DAYS = 3  # an older forecast (the nightly job stopped) gives way to the window's history


def window_days() -> int:
    return int(os.environ.get("OMS_DEMAND_WINDOW_DAYS", "56"))


def put_policy(ctx: Context, sku: str, location_id: str, policy: ReplenishmentPolicy) -> dict:
    from .inventory import UnknownLocation

    if location_id not in {loc.location_id for loc in ctx.inventory.locations()}:
        raise UnknownLocation(location_id)
    doc_id = f"{sku}@{location_id}"
    for _ in range(5):
        found = ctx.inventory.load_document(POLICY, doc_id)
        doc = {"sku": sku, "location_id": location_id, **asdict(policy),
               "below_reorder_point": found[0].get("below_reorder_point", False) if found else False,
               "history_length": found[0].get("history_length", 0) if found else 0}
        try:
            ctx.inventory.commit_stock(StockCommit(documents=[Document(
                POLICY, doc_id, doc, version=found[1] if found else None, index=(f"RPOLICY#{location_id}", sku))]))
            return {k: v for k, v in doc.items() if k not in ("below_reorder_point", "history_length")}
        except (ConcurrentModification, DuplicateReference):
            continue
    raise ConcurrentModification(doc_id)


def _policy(doc: dict) -> ReplenishmentPolicy:
    return ReplenishmentPolicy(**{k: doc[k] for k in ReplenishmentPolicy.__dataclass_fields__})


def suggestions(ctx: Context, location_id: str) -> list[dict]:
    """For every SKU with a policy at the location, over the last OMS_DEMAND_WINDOW_DAYS days."""
    return [_suggest(ctx, doc) for doc, _ in ctx.inventory.documents_listed(f"RPOLICY#{location_id}")]


def _suggest(ctx: Context, doc: dict) -> dict:
    today = date.fromisoformat(ctx.clock.now()[:10])
    days = [(today - timedelta(days=n)).isoformat() for n in range(window_days(), 0, -1)]  # whole days before today
    ordered = ctx.inventory.daily_demand(doc["sku"], doc["location_id"], days[0], days[-1])
    level = ctx.inventory.stock_level(doc["sku"], doc["location_id"])
    return suggestion(doc["sku"], doc["location_id"], on_hand=level.on_hand, available=level.available,
                      inbound=level.inbound, daily_units=[ordered.get(day, 0) for day in days], policy=_policy(doc),
                      forecast=_forecast(ctx, doc, today))


def _forecast(ctx: Context, doc: dict, today: date) -> tuple[float, float] | None:
    found = ctx.inventory.load_document(FORECAST, f"{doc['sku']}@{doc['location_id']}")
    if not found or (today - date.fromisoformat(found[0]["as_of"])).days > FORECAST_FRESH_DAYS:
        return None
    return found[0]["daily_mean"], found[0]["daily_std"]


def policies(ctx: Context) -> list[dict]:
    return [doc for location in ctx.inventory.locations()
            for doc, _ in ctx.inventory.documents_listed(f"RPOLICY#{location.location_id}")]


def save_forecast(ctx: Context, sku: str, location_id: str, forecast: dict) -> None:
    """The analytics job's forecast of a SKU's daily demand at a location: `as_of`, `model`,
    `daily_mean` (over the policy's protection period) and `daily_std`."""
    doc_id = f"{sku}@{location_id}"
    for _ in range(5):
        found = ctx.inventory.load_document(FORECAST, doc_id)
        doc = {"sku": sku, "location_id": location_id, **forecast,
               "history_length": found[0].get("history_length", 0) if found else 0}
        try:
            ctx.inventory.commit_stock(StockCommit(documents=[Document(
                FORECAST, doc_id, doc, version=found[1] if found else None)]))
            return
        except (ConcurrentModification, DuplicateReference):
            continue
    raise ConcurrentModification(doc_id)


def check(ctx: Context) -> list[dict]:
    """Daily: each SKU whose available plus inbound fell to its reorder point since the last
    check is reported (ReplenishmentNeeded, on its policy's history); one that rose above it again
    may be reported when it next falls."""
    needed = []
    for location in ctx.inventory.locations():
        for doc, version in ctx.inventory.documents_listed(f"RPOLICY#{location.location_id}"):
            advice = _suggest(ctx, doc)
            below = advice["available"] + advice["inbound"] <= advice["reorder_point"] and \
                advice["daily_demand_mean"] > 0
            if below == doc.get("below_reorder_point", False):
                continue
            events = [DomainEvent("ReplenishmentNeeded", {k: advice[k] for k in (
                "sku", "location_id", "available", "inbound", "reorder_point", "suggested_order_quantity")})
                      ] if below else []
            try:
                ctx.inventory.commit_stock(StockCommit(documents=[Document(
                    POLICY, f"{doc['sku']}@{doc['location_id']}", {**doc, "below_reorder_point": below}, events,
                    version, (f"RPOLICY#{doc['location_id']}", doc["sku"]))]))
            except ConcurrentModification:
                continue  # the policy changed meanwhile: the next check looks again
            needed += [advice] if below else []
    return needed
