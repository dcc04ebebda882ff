"""Customer lifetime value against the published numbers: the BG/NBD paper's parameters on the
CDNOW sample it uses (r = 0.243, alpha = 4.414, a = 0.793, b = 2.426), the Gamma-Gamma note's
(p = 6.25, q = 3.74, v = 15.44), and the `lifetimes` package's predictions on the same data."""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("scipy")
lifetimes = pytest.importorskip("lifetimes")

from analytics.clv import (  # noqa: E402
    BgNbd,
    GammaGamma,
    expected_average_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    p_alive,
    summarise,
)

DATA = Path(lifetimes.__file__).parent / "datasets"
CALIBRATION_END = date(1997, 9, 30)  # the paper's 39 weeks: 1997-01-01 to 1997-09-30


def cdnow_purchases() -> list[tuple[str, date, float]]:
    """The sample of 2,357 customers, one line per purchase: customer, yyyymmdd, CDs, dollars."""
    rows = []
    for line in (DATA / "CDNOW_sample.txt").read_text().split("\n"):
        if line.strip():
            _, customer, day, _, dollars = line.split()
            rows.append((customer, date(int(day[:4]), int(day[4:6]), int(day[6:])), float(dollars)))
    return rows


@pytest.fixture(scope="module")
def summaries():
    return summarise(cdnow_purchases(), CALIBRATION_END, "weeks")


def test_the_summary_follows_the_papers_rules(summaries):
    published = {row["ID"]: row for row in csv.DictReader((DATA / "cdnow_customers_summary.csv").open())}
    assert len(summaries) == 2357 == len(published)
    assert sum(s.frequency for s in summaries) == 2457 and sum(1 for s in summaries if s.frequency) == 946
    for summary in summaries:
        row = published[str(int(summary.customer_id))]  # the summary file drops the leading zeros
        assert summary.frequency == int(row["frequency"])
        assert summary.recency == pytest.approx(float(row["recency"]), abs=0.01)
        assert summary.T == pytest.approx(float(row["T"]), abs=0.01)


def test_bgnbd_reproduces_the_papers_parameters(summaries):
    model = fit_bgnbd(summaries)
    assert (model.r, model.alpha, model.a, model.b) == pytest.approx((0.243, 4.414, 0.793, 2.426), abs=0.002)
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_reproduces_the_notes_parameters(summaries):
    model = fit_gamma_gamma(summaries)
    assert (model.p, model.q, model.v) == pytest.approx((6.25, 3.74, 15.44), abs=0.01)


def test_predictions_match_lifetimes_on_the_same_parameters():
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    model = BgNbd(0.2426, 4.4136, 0.7929, 2.4259, 0.0)
    reference = BetaGeoFitter()
    reference.params_ = {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b}
    for x, t_x, T in ((2, 30.43, 38.86), (0, 0.0, 38.86), (7, 35.0, 38.0)):  # noqa: N806
        assert p_alive(model, x, t_x, T) == pytest.approx(
            float(reference.conditional_probability_alive(x, t_x, T)), rel=1e-6)
        assert expected_purchases(model, 39, x, t_x, T) == pytest.approx(
            float(reference.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T)), rel=1e-6)
    spend = GammaGamma(6.25, 3.74, 15.44, 0.0)
    gg = GammaGammaFitter()
    gg.params_ = {"p": spend.p, "q": spend.q, "v": spend.v}
    import pandas as pd

    assert expected_average_value(spend, 3, 42.5) == pytest.approx(
        float(gg.conditional_expected_average_profit(pd.Series([3]), pd.Series([42.5])).iloc[0]), rel=1e-9)


def test_the_spend_model_needs_repeat_customers():
    with pytest.raises(ValueError):
        fit_gamma_gamma(summarise([("c1", date(2026, 1, 1), 10.0)], date(2026, 2, 1)))


def test_expected_purchases_stay_right_when_nobody_drops_out():
    """A fit on customers who never stop buying drives b towards infinity: the model becomes the
    NBD, whose conditional expectation is (r + x) / (alpha + T) per time unit."""
    model = BgNbd(r=8.15, alpha=122.4, a=1.96, b=1.23e9, log_likelihood=0.0)
    for x, t_x, T in ((11, 104.0, 108.0), (1, 39.0, 48.0), (0, 0.0, 30.0)):
        expected = expected_purchases(model, 365, x, t_x, T)
        assert expected == pytest.approx((model.r + x) / (model.alpha + T) * 365, rel=1e-6)
