"""Nightly: every SKU and location with a replenishment policy gets a forecast of its daily
demand over the policy's protection period (lead time plus review period), which replenishment
then uses instead of its window's mean and deviation (oms.services.replenishment)."""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta

from . import sql
from .reports import daily_series

MIN_HISTORY_DAYS = 28  # under four weeks there is no season to see: the window's history is as good


def forecast_policies(ctx, engine, today: date) -> int:
    """How many forecasts were saved."""
    from oms.services.replenishment import policies, save_forecast

    from .forecast import forecast

    wanted = policies(ctx)
    if not wanted:
        return 0
    end = datetime.combine(today, datetime.min.time())
    demand: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in engine.query(sql.demand_by_location(end - timedelta(days=365), end)):
        demand[(row["sku"], row["location_id"])].append(row)
    saved = 0
    for policy in wanted:
        history = daily_series(demand.get((policy["sku"], policy["location_id"]), []), today)
        if len(history) < MIN_HISTORY_DAYS:
            continue
        horizon = max(1, math.ceil(policy["lead_time_days"] + policy.get("review_period_days", 0)))
        made = forecast(history, horizon)
        save_forecast(ctx, policy["sku"], policy["location_id"], {
            "as_of": today.isoformat(), "model": made.model, "horizon_days": horizon,
            "daily_mean": round(float(made.means.mean()), 4), "daily_std": round(made.sigma, 4),
            "history_days": len(history)})
        saved += 1
    return saved
