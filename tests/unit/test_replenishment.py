"""The replenishment formulas against values computed by hand."""
from __future__ import annotations

import pytest

from oms.domain.replenishment import ReplenishmentPolicy, suggestion

POLICY = ReplenishmentPolicy(lead_time_days=7, service_level=0.95, review_period_days=2, order_cost=50,
                             holding_cost_per_unit_year=2, min_order_quantity=10, pack_size=12)


def test_mean_std_safety_stock_reorder_point_and_order_quantity():
    # 8 days: 4,6,5,5,0,10,5,5 -> mean 5, population variance (1+1+0+0+25+25+0+0)/8 = 6.5
    days = [4, 6, 5, 5, 0, 10, 5, 5]
    got = suggestion("A", "WH1", on_hand=40, available=30, inbound=0, daily_units=days, policy=POLICY)
    std = 6.5 ** 0.5  # 2.5495
    safety = 1.6448536269514722 * std * 3  # z(0.95) * std * sqrt(7 + 2)
    assert got["daily_demand_mean"] == 5 and got["daily_demand_std"] == pytest.approx(std, abs=1e-4)
    assert got["safety_stock"] == pytest.approx(safety, abs=0.01)  # 12.58
    assert got["reorder_point"] == pytest.approx(45 + safety, abs=0.01)  # 57.58
    # EOQ = sqrt(2 * 5 * 365 * 50 / 2) = sqrt(91250) = 302.08 -> 26 packs of 12 = 312
    assert got["suggested_order_quantity"] == 312 and got["days_of_cover"] == 6.0


def test_nothing_is_suggested_above_the_reorder_point_or_without_demand():
    days = [4, 6, 5, 5, 0, 10, 5, 5]
    assert suggestion("A", "WH1", on_hand=80, available=50, inbound=10, daily_units=days,
                      policy=POLICY)["suggested_order_quantity"] == 0
    quiet = suggestion("A", "WH1", on_hand=0, available=0, inbound=0, daily_units=[0] * 56, policy=POLICY)
    assert quiet["suggested_order_quantity"] == 0 and quiet["days_of_cover"] is None


def test_the_minimum_and_the_pack_size_raise_a_small_order():
    policy = ReplenishmentPolicy(lead_time_days=1, service_level=0.5, order_cost=1, holding_cost_per_unit_year=100,
                                 min_order_quantity=10, pack_size=4)
    got = suggestion("A", "WH1", on_hand=0, available=0, inbound=0, daily_units=[1, 1], policy=policy)
    assert got["safety_stock"] == 0 and got["suggested_order_quantity"] == 12  # EOQ 2.7 -> min 10 -> 3 packs
