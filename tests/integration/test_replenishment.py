"""Replenishment from the units ordered per day (by placed_at, so imported orders count): the
suggestion's figures, and the daily check reporting a SKU that fell to its reorder point once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.orders import canonical_order


def test_suggestions_follow_the_units_ordered_and_the_check_reports_a_crossing_once(stocked):
    from oms.bootstrap import context
    from oms.services.replenishment import check

    api = stocked
    api.stock("SKU-8", 40)
    today = datetime.now(UTC).date()
    for days_ago, units in ((1, 4), (2, 6), (3, 2)):  # 12 units over the last 56 days
        placed = (today - timedelta(days=days_ago)).isoformat() + "T12:00:00Z"
        api.place(canonical_order(placed_at=placed, lines=[{"sku": "SKU-8", "quantity": units, "unit_price": "1.00"}]))
    api.place(canonical_order(placed_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                              lines=[{"sku": "SKU-8", "quantity": 1, "unit_price": "1.00"}]))  # today: not counted
    api.pipeline.drain()
    policy = {"lead_time_days": 10, "service_level": 0.95, "review_period_days": 4, "order_cost": 20,
              "holding_cost_per_unit_year": 1.5, "min_order_quantity": 24, "pack_size": 6}
    assert api.ops("PUT", "/inventory/SKU-8/locations/WH1/policy", policy).status_code == 200
    assert api.ops("PUT", "/inventory/SKU-8/locations/NOPE/policy", policy).status_code == 422
    [advice] = api.ops("GET", "/replenishment/suggestions?location_id=WH1").json_body["suggestions"]
    mean = 12 / 56
    std = (sum((u - mean) ** 2 for u in [4, 6, 2] + [0] * 53) / 56) ** 0.5
    safety = 1.6448536269514722 * std * 14 ** 0.5
    assert advice["daily_demand_mean"] == round(mean, 4) and advice["daily_demand_std"] == round(std, 4)
    assert advice["safety_stock"] == round(safety, 2) and advice["reorder_point"] == round(mean * 14 + safety, 2)
    assert (advice["on_hand"], advice["available"], advice["inbound"]) == (40, 27, 0)  # 13 units reserved
    assert advice["suggested_order_quantity"] == 0  # 27 available is above the reorder point (~5)

    ctx = context()
    assert check(ctx) == []
    api.stock("SKU-8", 16)  # 3 available: at or below the reorder point
    needed = check(ctx)
    assert [n["sku"] for n in needed] == ["SKU-8"] and needed[0]["suggested_order_quantity"] == 48  # EOQ 45.7: 8 packs
    assert check(ctx) == []  # once per crossing
