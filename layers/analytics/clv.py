"""Customer lifetime value from purchase history, with numpy and scipy only (light enough for a Lambda):

- how often a customer buys, and whether they still do: the BG/NBD model (Fader, Hardie and Lee
  2005, "Counting your customers the easy way"), fitted by maximum likelihood on each customer's
  (frequency, recency, T);
- how much they spend a purchase: the Gamma-Gamma model (Fader and Hardie 2013, "The Gamma-Gamma
  model of monetary value"), fitted on repeat customers' mean spend.

As in the paper: purchases on one day are one purchase (their totals summed); frequency counts the
repeat purchase days; recency is the time from the first purchase to the last, T from the first
purchase to the end of the calibration period, in days or weeks. The spend of a customer is the
mean of their repeat purchase days' totals (the first purchase left out; customers without a
repeat purchase left out of the Gamma-Gamma fit)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

UNIT_DAYS = {"days": 1, "weeks": 7}


@dataclass(frozen=True)
class CustomerSummary:
    customer_id: str
    frequency: int  # repeat purchase days
    recency: float  # first purchase to the last, in time units
    T: float  # first purchase to the end of the calibration period  # noqa: N815 (the paper's name)
    monetary: float  # mean total of the repeat purchase days (0 without one)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    log_likelihood: float


def summarise(purchases, calibration_end: date, time_unit: str = "weeks") -> list[CustomerSummary]:
    """`purchases`: (customer_id, day, amount) in any order; those after `calibration_end` are left out."""
    unit = UNIT_DAYS[time_unit]
    days: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for customer_id, day, amount in purchases:
        if day <= calibration_end:
            days[customer_id][day] += float(amount)
    summaries = []
    for customer_id, totals in sorted(days.items()):
        ordered = sorted(totals)
        first, last = ordered[0], ordered[-1]
        repeats = [totals[day] for day in ordered[1:]]
        summaries.append(CustomerSummary(customer_id, len(repeats), (last - first).days / unit,
                                         (calibration_end - first).days / unit,
                                         sum(repeats) / len(repeats) if repeats else 0.0))
    return summaries


def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:  # noqa: N803
    """Each customer's log-likelihood (the paper's equation 6, without the Gauss hypergeometric)."""
    r, alpha, a, b = params
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    ln_a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                         -np.inf)
    return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)


def fit_bgnbd(summaries: list[CustomerSummary]) -> BgNbd:
    x, t_x, T = _arrays(summaries)  # noqa: N806
    params, log_likelihood = _maximise(lambda p: bgnbd_log_likelihood(p, x, t_x, T).sum(), 4)
    return BgNbd(*params, log_likelihood)


def gamma_gamma_log_likelihood(params, x, m) -> np.ndarray:
    p, q, v = params
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
            + p * x * np.log(x) - (p * x + q) * np.log(v + m * x))


def fit_gamma_gamma(summaries: list[CustomerSummary]) -> GammaGamma:
    repeaters = [s for s in summaries if s.frequency > 0 and s.monetary > 0]
    if not repeaters:
        raise ValueError("no customer bought twice: the spend model needs repeat purchases")
    x = np.array([s.frequency for s in repeaters], dtype=float)
    m = np.array([s.monetary for s in repeaters], dtype=float)
    params, log_likelihood = _maximise(lambda p: gamma_gamma_log_likelihood(p, x, m).sum(), 3)
    return GammaGamma(*params, log_likelihood)


def p_alive(model: BgNbd, x: float, t_x: float, T: float) -> float:  # noqa: N803
    """The probability the customer still buys (the paper's equation 12)."""
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + model.a / (model.b + x - 1) * ((model.alpha + T) / (model.alpha + t_x)) ** (model.r + x))


def expected_purchases(model: BgNbd, t: float, x: float, t_x: float, T: float) -> float:  # noqa: N803
    """Purchases expected in the next `t` time units (the paper's equation 10)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    # The paper's 2F1(r+x, b+x; a+b+x-1; z) times (1-z)^(r+x), through Euler's transformation:
    # its second parameter becomes a-1, small, where scipy stays accurate even when the fit's b is
    # huge (customers who never drop out), as the untransformed function is not (it went negative).
    body = 1 - (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    odds = model.a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x) if x > 0 else 0.0
    return float(head * body / (1 + odds))


def expected_average_value(model: GammaGamma, x: float, m: float) -> float:
    """The spend to expect of a purchase: the population mean pulled towards the customer's own
    (Fader and Hardie's note, equation 5)."""
    p, q, v = model.p, model.q, model.v
    population = p * v / (q - 1)
    weight = p * x / (p * x + q - 1)
    return float((1 - weight) * population + weight * m)


def _arrays(summaries: list[CustomerSummary]):
    return (np.array([s.frequency for s in summaries], dtype=float),
            np.array([s.recency for s in summaries], dtype=float), np.array([s.T for s in summaries], dtype=float))


def _maximise(log_likelihood, size: int) -> tuple[list[float], float]:
    """Maximum likelihood over positive parameters, searched on their logarithms."""
    def negative(log_params):
        value = log_likelihood(np.exp(log_params))
        return -value if np.isfinite(value) else 1e300
    found = minimize(negative, np.zeros(size), method="Nelder-Mead",
                     options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 20_000, "maxfev": 40_000})
    return [float(v) for v in np.exp(found.x)], float(-found.fun)
