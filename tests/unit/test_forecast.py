"""Demand forecasts: a weekly pattern is learnt and beats the seasonal naive forecast in the
backtest; intermittent demand is forecast as a rate (Croston, Syntetos-Boylan)."""
from __future__ import annotations

from datetime import date

import pytest

np = pytest.importorskip("numpy")

from analytics.forecast import backtest, forecast  # noqa: E402

WEEK = [10, 12, 11, 13, 20, 35, 30]  # Monday to Sunday: weekends sell more


def weekly(days: int, noise: float, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    return [max(0.0, WEEK[n % 7] + rng.normal(0, noise)) for n in range(days)]


def test_a_weekly_pattern_is_learnt_and_beats_the_seasonal_naive_forecast():
    history = weekly(140, noise=3)
    result = forecast(history, 14)
    assert result.model == "holt_winters_weekly"
    assert result.means[:7] == pytest.approx([WEEK[(140 + n) % 7] for n in range(7)], abs=3)
    runs = [backtest(weekly(140, noise=3, seed=seed)) for seed in range(10)]
    # Over ten histories, not one (a single week's noise can favour either): the naive forecast
    # repeats last week's noise, the smoothed season averages it out.
    assert sum(r["mae"] for r in runs) < 0.85 * sum(r["naive_mae"] for r in runs)


def test_daily_rows_carry_an_interval_that_never_goes_below_zero():
    rows = forecast(weekly(70, noise=4), 3).daily(date(2026, 12, 2))
    assert [row["date"] for row in rows] == ["2026-12-02", "2026-12-03", "2026-12-04"]
    for row in rows:
        assert 0 <= row["low"] <= row["mean"] <= row["high"]


def test_intermittent_demand_is_forecast_as_a_rate():
    history = [0.0] * 120
    for n in range(3, 120, 6):  # 2 units every 6 days: a third of a unit a day
        history[n] = 2.0
    result = forecast(history, 28)
    assert result.model == "croston_sba"
    assert result.means[0] == pytest.approx(2 / 6 * (1 - 0.05), rel=0.05)
    assert len(set(result.means.round(6))) == 1  # a flat rate


def test_short_or_empty_histories_fall_back_to_the_mean():
    assert forecast([], 2).means.tolist() == [0.0, 0.0]
    assert forecast([1, 2, 3], 1).model == "mean" and backtest([1, 2, 3]) == {"mae": None, "naive_mae": None}
