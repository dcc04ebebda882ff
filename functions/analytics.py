"""The analytics functions: the facts writer (bus events and imported history to Parquet), the
model-fit jobs, and the nightly fit. Their packages carry DuckDB or numpy/scipy; the order
path never imports this module."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from oms.observability.logs import logger

LAST_ATTEMPT = 3  # the jobs queue's maxReceiveCount (template.yaml)


def _deliver_by(placed_at: str, shipping_methods: list[str]) -> str | None:
    """The delivery promise of a new order: its slowest shipping method's days after it was placed."""
    from oms.services.labels import promise_days

    days = [d for d in (promise_days(method) for method in shipping_methods) if d is not None]
    if not days:
        return None
    return (datetime.fromisoformat(placed_at.replace("Z", "+00:00")) + timedelta(days=max(days))).isoformat()


def handle_facts(event) -> dict:
    """One Parquet file per table for the whole batch. A record that is not an event is reported
    failed (and so reaches the dead-letter queue); if the write fails, the whole batch is retried
    (a row written twice is counted once: queries keep one row per event id)."""
    from analytics.facts import merge, rows_for_event
    from analytics.store import FactWriter

    records = event.to_dict()["Records"]
    rows, failed = {}, []
    for record in records:
        try:
            body = json.loads(record["body"])
            if "detail" in body:
                merge(rows, rows_for_event(body["detail"], _deliver_by))
            else:
                merge(rows, body["facts"])
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("not an analytics fact", extra={"message_id": record["messageId"], "error": str(error)})
            failed.append({"itemIdentifier": record["messageId"]})
    if rows:
        FactWriter().write(rows)
    return {"batchItemFailures": failed}


def handle_jobs(event) -> dict:
    """A lifetime value fit, or the replenishment forecasts; each may be delivered twice."""
    from analytics.store import engine

    for record in event.to_dict()["Records"]:
        job = json.loads(record["body"])
        if "clv_fit" in job:
            from analytics.clv_runs import ClvRuns, fail, fit

            run, runs = job["clv_fit"], ClvRuns()
            logger.append_keys(run_id=run["run_id"])
            try:
                done = fit(run, engine(timeout_s=600), runs)
            except Exception as error:
                # Retried until the queue's last attempt; then the run says why instead of "running" forever.
                if int(record["attributes"].get("ApproximateReceiveCount", "1")) < LAST_ATTEMPT:
                    raise
                logger.exception("lifetime value fit failed")
                done = fail(run, runs, f"the fit failed: {type(error).__name__}: {error}"[:500])
            logger.info("lifetime value fit", extra={"status": done["status"], "customers": done.get("customers")})
        else:
            from analytics.replenishment_forecasts import forecast_policies
            from oms.bootstrap import context

            as_of = datetime.fromisoformat(job["replenishment_forecasts"]["as_of"]).date()
            saved = forecast_policies(context(), engine(timeout_s=600), as_of)
            logger.info("replenishment forecasts", extra={"saved": saved})
    return {"batchItemFailures": []}


def run_nightly(event) -> dict:
    """Every night: a lifetime value fit on everything up to yesterday, and the forecasts
    replenishment reorders by."""
    import os

    import boto3

    from analytics.service import AnalyticsService

    today = datetime.now(UTC).date()
    boto3.client("sqs").send_message(QueueUrl=os.environ["OMS_ANALYTICS_JOBS_QUEUE_URL"], MessageBody=json.dumps(
        {"replenishment_forecasts": {"as_of": today.isoformat()}}))
    yesterday = today - timedelta(days=1)
    return AnalyticsService.from_environment().request_clv_fit({"calibration_end": yesterday.isoformat()})
