"""The analytics use cases behind the HTTP API: import history, KPIs, lifetime values, forecasts."""
from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import boto3

from . import reports, sql
from .clv_runs import ClvRuns, new_run
from .facts import history_rows
from .history import InvalidHistory, parse_history

NAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
SKU = re.compile(r"^[\x21-\x7e]{1,100}$")  # as an order line's SKU: printable, no spaces
MAX_RANGE_DAYS = 5 * 366
SQS_MESSAGE_BYTES = 200_000  # under SQS's 256 KiB with room for the envelope
SORTS = ("clv", "p_alive", "expected_purchases_90d", "frequency")


class InvalidQuery(Exception):
    def __init__(self, message: str, code: str = "validation_failed", details: list | None = None):
        super().__init__(message)
        self.code, self.details = code, details or []


class AnalyticsService:
    def __init__(self, engine, runs: ClvRuns, sqs, facts_queue_url: str, jobs_queue_url: str,
                 clock=lambda: datetime.now(UTC)):
        self.engine, self.runs, self.sqs, self.clock = engine, runs, sqs, clock
        self.facts_queue_url, self.jobs_queue_url = facts_queue_url, jobs_queue_url

    @classmethod
    def from_environment(cls) -> AnalyticsService:
        from .store import engine

        return cls(engine(), ClvRuns(), boto3.client("sqs"), os.environ["OMS_ANALYTICS_QUEUE_URL"],
                   os.environ["OMS_ANALYTICS_JOBS_QUEUE_URL"])

    # ---- history ------------------------------------------------------------------------
    def import_history(self, body: bytes) -> int:
        """Validated whole (nothing is sent unless every line is good), then sent to the facts
        writer in messages under SQS's size limit. Idempotent by order id: queries count an
        order once however often it is imported."""
        try:
            orders = parse_history(body, now=self.clock())
        except InvalidHistory as error:
            raise InvalidQuery(str(error), "invalid_history", error.details) from None
        rows = [row for order in orders for row in history_rows(order)["orders"]]
        chunk, size = [], 0
        for row in rows:
            encoded = len(json.dumps(row)) + 2
            if chunk and size + encoded > SQS_MESSAGE_BYTES:
                self._send_rows(chunk)
                chunk, size = [], 0
            chunk.append(row)
            size += encoded
        if chunk:
            self._send_rows(chunk)
        return len(rows)

    def _send_rows(self, rows: list[dict]) -> None:
        self.sqs.send_message(QueueUrl=self.facts_queue_url, MessageBody=json.dumps({"facts": {"orders": rows}}))

    # ---- KPIs ---------------------------------------------------------------------------
    def summary(self, params: dict) -> dict:
        start, end = self._range(params)
        granularity = params.get("granularity") or "day"
        if granularity not in sql.GRANULARITIES:
            raise InvalidQuery("granularity must be day, week or month")
        channel = params.get("channel") or None
        if channel is not None and not NAME.match(channel):
            raise InvalidQuery("channel is not a channel name")
        rows = self.engine.query(sql.summary(start, end, granularity, channel))
        return reports.summary(rows, start.date(), (end - timedelta(days=1)).date(), granularity)

    def fulfilment(self, params: dict) -> dict:
        start, end = self._range(params)
        # Side by side: in AWS each is an Athena query, and API Gateway waits 29 s for both.
        with ThreadPoolExecutor(max_workers=2) as pool:
            figures = pool.submit(self.engine.query, sql.fulfilment(start, end))
            holds = pool.submit(self.engine.query, sql.holds_by_type(start, end))
            return reports.fulfilment(figures.result()[0], holds.result())

    def _range(self, params: dict) -> tuple[datetime, datetime]:
        today = self.clock().date()
        last = _day(params.get("to"), "to") or today
        first = _day(params.get("from"), "from") or last - timedelta(days=29)
        if first > last:
            raise InvalidQuery("from is after to")
        if (last - first).days > MAX_RANGE_DAYS:
            raise InvalidQuery(f"from and to are more than {MAX_RANGE_DAYS} days apart")
        start = datetime.combine(first, datetime.min.time())
        return start, datetime.combine(last + timedelta(days=1), datetime.min.time())

    # ---- lifetime value -------------------------------------------------------------------
    def request_clv_fit(self, data: dict) -> dict:
        unknown = set(data) - {"calibration_end", "time_unit"}
        if unknown:
            raise InvalidQuery(f"unknown fields: {', '.join(sorted(unknown))}")
        today = self.clock().date()
        end = _day(data.get("calibration_end"), "calibration_end") or today
        if end > today:
            raise InvalidQuery("calibration_end is in the future")
        time_unit = data.get("time_unit", "weeks")
        if time_unit not in ("days", "weeks"):
            raise InvalidQuery("time_unit must be days or weeks")
        run = new_run(end, time_unit, self.clock())
        # Saved before it is sent, so the job's own record of it (running, fitted) comes after.
        self.runs.save(run, latest=True)
        self.sqs.send_message(QueueUrl=self.jobs_queue_url, MessageBody=json.dumps({"clv_fit": run}))
        return {"run_id": run["run_id"], "status": run["status"]}

    def clv_model(self, run_id: str | None) -> dict | None:
        if run_id is not None and not NAME.match(run_id):
            raise InvalidQuery("run_id is not a run id")
        run = self.runs.load(run_id) if run_id else self.runs.latest()
        return {key: value for key, value in run.items() if key != "currency_exponent"} if run else None

    def customers(self, params: dict) -> list[dict] | None:
        sort = params.get("sort") or "clv"
        if sort not in SORTS:
            raise InvalidQuery(f"sort must be one of {', '.join(SORTS)}")
        limit = _count(params.get("limit"), "limit", default=50, most=1000)
        if params.get("run_id") is not None and not NAME.match(params["run_id"]):
            raise InvalidQuery("run_id is not a run id")
        scored = self.runs.customers(params.get("run_id"))
        if scored is None:
            return None
        key = {"clv": "clv_365d", "p_alive": "p_alive"}.get(sort, sort)
        return sorted(scored, key=lambda c: (-float(c[key]), c["customer_id"]))[:limit]

    # ---- forecasts ------------------------------------------------------------------------
    def forecast(self, params: dict) -> dict:
        from .forecast import backtest, forecast

        sku = params.get("sku") or ""
        if not SKU.match(sku):
            raise InvalidQuery("sku is required (printable, no spaces, at most 100 characters)")
        location_id = params.get("location_id") or None
        if location_id is not None and not NAME.match(location_id):
            raise InvalidQuery("location_id is not a location id")
        days = _count(params.get("days"), "days", default=28, most=366)
        today = self.clock().date()
        end = datetime.combine(today, datetime.min.time())
        rows = self.engine.query(sql.daily_demand(sku, location_id, end - timedelta(days=365), end))
        history = reports.daily_series(rows, today)
        made = forecast(history, days)
        return {"sku": sku, "location_id": location_id, "model": made.model, "history_days": len(history),
                "daily": made.daily(today), "backtest": backtest(history)}


def _day(value: str | None, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)) if len(str(value)) == 10 else _bad_day(name)
    except ValueError:
        return _bad_day(name)


def _bad_day(name: str):
    raise InvalidQuery(f"{name} must be a date, YYYY-MM-DD")


def _count(value: str | None, name: str, default: int, most: int) -> int:
    if value in (None, ""):
        return default
    if not (str(value).isascii() and str(value).isdigit()) or not 1 <= int(value) <= most:
        raise InvalidQuery(f"{name} must be a whole number from 1 to {most}")
    return int(value)

