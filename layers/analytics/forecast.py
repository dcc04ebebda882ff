"""Daily demand forecasts for a SKU at a location, with numpy only.

- Regular demand: exponential smoothing with an additive weekly season (Holt-Winters without
  trend), its two smoothing constants chosen on a grid by the one-step-ahead squared error.
- Intermittent demand (most days sell nothing): Croston's method with the Syntetos-Boylan
  correction, which forecasts a rate (units a day) from the sizes of the non-zero days and the
  gaps between them.

Intervals are the forecast plus or minus 1.96 standard deviations of the one-step-ahead errors
(never below 0). The backtest holds out the last `holdout` days, forecasts them from the rest,
and compares the mean absolute error with the seasonal naive forecast (the same weekday a week
before), which a useful model should beat."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

SEASON = 7
INTERMITTENT_ZERO_SHARE = 0.5
GRID = (0.05, 0.1, 0.2, 0.3, 0.5)
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Forecast:
    model: str
    means: np.ndarray
    sigma: float

    def daily(self, first_day: date) -> list[dict]:
        return [{"date": (first_day + timedelta(days=n)).isoformat(), "mean": round(float(mean), 3),
                 "low": round(max(0.0, float(mean) - Z_95 * self.sigma), 3),
                 "high": round(float(mean) + Z_95 * self.sigma, 3)} for n, mean in enumerate(self.means)]


def forecast(history: list[float], days: int) -> Forecast:
    """`history`: units per day, oldest first, every day present (zeros included)."""
    series = np.asarray(history, dtype=float)
    if len(series) < 2 * SEASON:
        mean = float(series.mean()) if len(series) else 0.0
        return Forecast("mean", np.full(days, mean), float(series.std()) if len(series) else 0.0)
    if (series == 0).mean() > INTERMITTENT_ZERO_SHARE:
        return _croston(series, days)
    return _seasonal_smoothing(series, days)


def backtest(history: list[float], holdout: int = 28) -> dict:
    """{"mae", "naive_mae"} over the last `holdout` days, forecast from the days before them."""
    series = np.asarray(history, dtype=float)
    if len(series) < holdout + 2 * SEASON:
        return {"mae": None, "naive_mae": None}
    train, actual = series[:-holdout], series[-holdout:]
    predicted = forecast(list(train), holdout).means
    naive = np.array([train[len(train) - SEASON + (n % SEASON)] for n in range(holdout)])
    return {"mae": round(float(np.abs(actual - predicted).mean()), 4),
            "naive_mae": round(float(np.abs(actual - naive).mean()), 4)}


def _seasonal_smoothing(series: np.ndarray, days: int) -> Forecast:
    best = None
    for alpha in GRID:
        for gamma in GRID:
            level, season, errors = _smooth(series, alpha, gamma)
            sse = float((errors ** 2).sum())
            if best is None or sse < best[0]:
                best = (sse, level, season, errors)
    _, level, season, errors = best
    start = len(series)
    means = np.array([max(0.0, level + season[(start + n) % SEASON]) for n in range(days)])
    return Forecast("holt_winters_weekly", means, float(errors.std()))


def _smooth(series: np.ndarray, alpha: float, gamma: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Additive level and weekly season, started from the first two weeks; the one-step errors."""
    level = series[:SEASON].mean()
    season = np.zeros(SEASON)
    for day in range(SEASON):
        season[day] = (series[day] + series[day + SEASON]) / 2 - (series[:2 * SEASON].mean())
    errors = np.empty(len(series) - SEASON)
    for t in range(SEASON, len(series)):
        slot = t % SEASON
        predicted = level + season[slot]
        errors[t - SEASON] = series[t] - predicted
        level = alpha * (series[t] - season[slot]) + (1 - alpha) * level
        season[slot] = gamma * (series[t] - level) + (1 - gamma) * season[slot]
    return level, season, errors


def _croston(series: np.ndarray, days: int, alpha: float = 0.1) -> Forecast:
    demands = np.nonzero(series)[0]
    if len(demands) == 0:
        return Forecast("croston_sba", np.zeros(days), 0.0)
    size, gap, last = series[demands[0]], float(demands[0] + 1), demands[0]
    rates = []
    for t in range(len(series)):
        rates.append((1 - alpha / 2) * size / gap)  # the rate forecast for day t, before seeing it
        if t > demands[0] and series[t] > 0:
            size = alpha * series[t] + (1 - alpha) * size
            gap = alpha * (t - last) + (1 - alpha) * gap
            last = t
    rate = (1 - alpha / 2) * size / gap
    errors = series[demands[0] + 1:] - np.array(rates[demands[0] + 1:])
    return Forecast("croston_sba", np.full(days, rate), float(errors.std()) if len(errors) else 0.0)
