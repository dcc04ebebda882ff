"""Lifetime value fits as runs: requested (queued), fitted by the jobs queue's Lambda, kept on S3
beside the facts (`clv/runs/<run_id>.json` and its scored customers), never in the order table."""
from __future__ import annotations

import gzip
import json
import secrets
from datetime import UTC, date, datetime, timedelta

import boto3
from botocore.exceptions import ClientError

from . import sql
from .reports import exponent

HORIZON_DAYS = 365
NEAR_DAYS = 90
MIN_CUSTOMERS = 10


def new_run(calibration_end: date, time_unit: str, now: datetime) -> dict:
    return {"run_id": f"clv-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}", "status": "queued",
            "calibration_end": calibration_end.isoformat(), "time_unit": time_unit,
            "requested_at": now.isoformat(timespec="seconds"), "currency": None, "customers": None,
            "bgnbd": None, "gamma_gamma": None, "error": None}


class ClvRuns:
    def __init__(self, bucket_name: str | None = None, s3=None):
        from .store import bucket

        self.bucket, self.s3 = bucket_name or bucket(), s3 or boto3.client("s3")

    def save(self, run: dict, latest: bool = False) -> None:
        self._put(f"clv/runs/{run['run_id']}.json", json.dumps(run).encode())
        if latest:
            self._put("clv/latest.json", json.dumps({"run_id": run["run_id"]}).encode())

    def load(self, run_id: str) -> dict | None:
        found = self._get(f"clv/runs/{run_id}.json")
        return json.loads(found) if found else None

    def latest(self, fitted: bool = False) -> dict | None:
        pointer = self._get("clv/fitted.json" if fitted else "clv/latest.json")
        return self.load(json.loads(pointer)["run_id"]) if pointer else None

    def save_customers(self, run: dict, customers: list[dict]) -> None:
        self._put(f"clv/runs/{run['run_id']}/customers.json.gz", gzip.compress(json.dumps(customers).encode()))
        self.save(run)
        self._put("clv/fitted.json", json.dumps({"run_id": run["run_id"]}).encode())

    def customers(self, run_id: str | None) -> list[dict] | None:
        run = self.load(run_id) if run_id else self.latest(fitted=True)
        if not run or run["status"] != "succeeded":
            return None
        return json.loads(gzip.decompress(self._get(f"clv/runs/{run['run_id']}/customers.json.gz")))

    def _put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def _get(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise


def fit(run: dict, engine, runs: ClvRuns, clock=lambda: datetime.now(UTC)) -> dict:
    """Fit the models on every purchase up to the calibration end and score each customer.
    A run already fitted is left alone (the job may be delivered twice)."""
    from . import clv

    stored = runs.load(run["run_id"])
    if stored and stored["status"] in ("succeeded", "failed"):
        return stored
    run = {**run, "status": "running", "started_at": clock().isoformat(timespec="seconds")}
    runs.save(run)
    end = date.fromisoformat(run["calibration_end"])
    before = datetime.combine(end + timedelta(days=1), datetime.min.time())
    found = engine.query(sql.main_currency(before))
    if not found:
        return fail(run, runs, "no orders before the calibration end", clock)
    currency = found[0]["currency"]
    scale = 10 ** exponent(currency)
    unit = clv.UNIT_DAYS[run["time_unit"]]
    summaries = [_summary(row, end, unit, scale) for row in engine.query(sql.purchase_history(before, currency))]
    repeaters = sum(1 for s in summaries if s.frequency > 0)
    if len(summaries) < MIN_CUSTOMERS or repeaters < 3:
        return fail(run, runs, f"too few customers to fit: {len(summaries)} ({repeaters} repeat)", clock)
    purchases, spend = clv.fit_bgnbd(summaries), clv.fit_gamma_gamma(summaries)
    scored = [_score(s, purchases, spend, unit, currency, scale) for s in summaries]
    run.update(status="succeeded", currency=currency, customers=len(scored),
               finished_at=clock().isoformat(timespec="seconds"),
               bgnbd={"r": purchases.r, "alpha": purchases.alpha, "a": purchases.a, "b": purchases.b,
                      "log_likelihood": purchases.log_likelihood},
               gamma_gamma={"p": spend.p, "q": spend.q, "v": spend.v})
    runs.save_customers(run, scored)
    return run


def _summary(row: dict, end: date, unit: int, scale: int):
    from .clv import CustomerSummary

    first, last = (value if isinstance(value, date) else date.fromisoformat(str(value))
                   for value in (row["first_day"], row["last_day"]))
    frequency = int(row["frequency"])
    monetary = int(row["repeat_amount"]) / scale / frequency if frequency else 0.0
    return CustomerSummary(row["customer_id"], frequency, (last - first).days / unit, (end - first).days / unit,
                           monetary)


def _score(s, purchases, spend, unit: int, currency: str, scale: int) -> dict:
    from .clv import expected_average_value, expected_purchases, p_alive

    value = expected_average_value(spend, s.frequency, s.monetary)
    horizon = expected_purchases(purchases, HORIZON_DAYS / unit, s.frequency, s.recency, s.T)
    return {"customer_id": s.customer_id, "frequency": s.frequency, "recency": s.recency, "T": s.T,
            "p_alive": round(p_alive(purchases, s.frequency, s.recency, s.T), 6),
            "expected_purchases_90d": round(expected_purchases(purchases, NEAR_DAYS / unit, s.frequency, s.recency,
                                                               s.T), 6),
            "expected_average_value": _amount(value, currency, scale),
            "clv_365d": _amount(horizon * value, currency, scale)}


def _amount(value: float, currency: str, scale: int) -> str:
    from .reports import _money

    return _money(round(value * scale), currency)


def fail(run: dict, runs: ClvRuns, reason: str, clock=lambda: datetime.now(UTC)) -> dict:
    run = {**run, "status": "failed", "error": reason, "finished_at": clock().isoformat(timespec="seconds")}
    runs.save(run)
    return run
