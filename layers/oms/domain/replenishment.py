"""What to reorder and when, per SKU and location, from the daily units ordered.

Over the last N days (zero-demand days included): mean and population standard deviation of
daily units; z the standard normal quantile of the service level; the protection period the
lead time plus the review period (days):

    safety stock   = z * std * sqrt(protection period)
    reorder point  = mean * protection period + safety stock
    order quantity = the economic order quantity sqrt(2 * annual demand * order cost / holding
                     cost per unit and year), raised to the minimum order quantity and rounded
                     up to a whole pack; suggested when what is available plus inbound is at or
                     below the reorder point, else 0.

Once the analytics store has forecast a SKU's daily demand at a location (nightly), the
forecast's mean over the protection period and its one-step error replace the window's mean and
deviation: demand with a trend or a weekly season is then reordered for what is coming."""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist, fmean, pstdev


@dataclass(frozen=True)
class ReplenishmentPolicy:
    lead_time_days: float
    service_level: float
    review_period_days: float = 0
    order_cost: float = 0
    holding_cost_per_unit_year: float = 0
    min_order_quantity: int = 1
    pack_size: int = 1


def suggestion(sku: str, location_id: str, *, on_hand: int, available: int, inbound: int,
               daily_units: list[int], policy: ReplenishmentPolicy,
               forecast: tuple[float, float] | None = None) -> dict:
    """`forecast`: the (mean, standard deviation) of daily demand a forecast expects, if there is one."""
    if forecast is not None:
        mean, std = forecast
    else:
        mean = fmean(daily_units) if daily_units else 0.0
        std = pstdev(daily_units) if daily_units else 0.0
    protection = policy.lead_time_days + policy.review_period_days
    z = NormalDist().inv_cdf(policy.service_level)
    safety = z * std * math.sqrt(protection)
    reorder_point = mean * protection + safety
    quantity = 0
    if available + inbound <= reorder_point and mean > 0:
        eoq = (math.sqrt(2 * mean * 365 * policy.order_cost / policy.holding_cost_per_unit_year)
               if policy.holding_cost_per_unit_year > 0 else 0.0)
        wanted = max(eoq, policy.min_order_quantity, 1)
        quantity = math.ceil(wanted / policy.pack_size) * policy.pack_size
    return {"sku": sku, "location_id": location_id, "on_hand": on_hand, "available": available, "inbound": inbound,
            "daily_demand_mean": round(mean, 4), "daily_demand_std": round(std, 4),
            "demand_from": "forecast" if forecast is not None else "history",
            "safety_stock": round(safety, 2), "reorder_point": round(reorder_point, 2),
            "suggested_order_quantity": quantity,
            "days_of_cover": round(available / mean, 1) if mean > 0 else None}
