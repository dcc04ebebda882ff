"""The analytics API through Chalice's test client: history import, KPIs as JSON and CSV, the
lifetime value fit as a job (on the CDNOW sample, through the store and its SQL, reproducing
the paper), forecasts, the dashboard page, and what bad input gets."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.analytics_store import analytics_store, drain_facts_queue, sqs_event
from tests.support.harness import OPS

pytest.importorskip("duckdb")
ROOT = Path(__file__).resolve().parents[2]
NDJSON = {**OPS, "Content-Type": "application/x-ndjson"}


@pytest.fixture
def client(monkeypatch):
    from chalice.test import Client

    with analytics_store(monkeypatch):
        import app

        with Client(app.app, stage_name="dev", project_dir=str(ROOT)) as chalice_client:
            yield chalice_client.http


def ndjson(rows) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


def run_jobs() -> list[dict]:
    """What the jobs queue's Lambda does with what is waiting."""
    import os

    import boto3

    from functions.analytics import handle_jobs

    sqs, bodies = boto3.client("sqs"), []
    for message in sqs.receive_message(QueueUrl=os.environ["OMS_ANALYTICS_JOBS_QUEUE_URL"],
                                       MaxNumberOfMessages=10).get("Messages", []):
        bodies.append(json.loads(message["Body"]))
        handle_jobs(sqs_event([bodies[-1]]))
    return bodies


def test_history_import_then_summary_and_csv(client):
    rows = [{"order_id": f"h{n}", "customer_id": f"c{n % 3}", "placed_at": f"2026-10-0{1 + n % 5}T12:00:00Z",
             "total": "10.50", "currency": "GBP", "channel": "web"} for n in range(10)]
    response = client.post("/analytics/history", headers=NDJSON, body=ndjson(rows + rows[:2]))
    assert response.status_code == 202 and response.json_body == {"accepted": 10}
    drain_facts_queue()
    summary = client.get("/analytics/summary?from=2026-10-01&to=2026-10-31&granularity=month", headers=OPS)
    assert summary.status_code == 200
    assert {k: summary.json_body["GBP"][k] for k in ("orders", "revenue", "aov")} == {
        "orders": 10, "revenue": "105.00", "aov": "10.50"}
    exported = client.get("/analytics/summary.csv?from=2026-10-01&to=2026-10-31&granularity=month", headers=OPS)
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert "GBP,total,,10,0,105.00,0.00,105.00,10.50,0,0,0.0" in exported.body.decode().splitlines()


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    (b'{"order_id": "h1"}', OPS, 415, "unsupported_media_type"),
    (b'{"order_id": "h1", "customer_id": "c", "placed_at": "2026-10-01T12:00:00Z", "total": "1.00", "currency": '
     b'"USD", "channel": "web"}\nnot json', NDJSON, 422, "invalid_history"),
    (b'{"order_id": "h1", "customer_id": "c", "placed_at": "2026-10-01T12:00:00", "total": "1.00", "currency": "USD",'
     b' "channel": "web"}', NDJSON, 422, "invalid_history"),  # no time zone
    (b'{"order_id": "h1", "customer_id": "c", "placed_at": "2026-10-01T12:00:00Z", "total": "1.001", "currency": '
     b'"USD", "channel": "web"}', NDJSON, 422, "invalid_history"),  # more decimals than the dollar has
    (b'{"order_id": "h1", "customer_id": "c", "placed_at": "2026-10-01T12:00:00Z", "total": "1.00", "currency": '
     b'"XYZ", "channel": "web"}', NDJSON, 422, "invalid_history"),
    (b"", NDJSON, 422, "invalid_history"),
    (b"x" * (1024 * 1024 + 1), NDJSON, 413, "payload_too_large"),
])
def test_bad_history_is_refused_whole(client, body, headers, status, code):
    import boto3

    response = client.post("/analytics/history", headers=headers, body=body)
    assert response.status_code == status and response.json_body["error"]["code"] == code
    assert drain_facts_queue() == 0  # nothing was sent
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="oms-test-analytics-123456789012")


def test_the_analytics_api_needs_the_ops_token(client):
    for path in ("/analytics/summary", "/analytics/fulfilment", "/analytics/clv/model", "/analytics/customers",
                 "/analytics/forecast?sku=A"):
        assert client.get(path).status_code == 401
    assert client.post("/analytics/history", body=b"{}", headers={"Content-Type": "application/x-ndjson"}
                       ).status_code == 401


def test_bad_queries_get_422(client):
    for path in ("/analytics/summary?granularity=year", "/analytics/summary?from=2026-13-01",
                 "/analytics/fulfilment?from=2026-11-02&to=2026-11-01", "/analytics/forecast",
                 "/analytics/forecast?sku=A&days=0", "/analytics/forecast?sku=A&days=%C2%B2",
                 "/analytics/customers?sort=name", "/analytics/customers?limit=x",
                 "/analytics/customers?limit=%C2%B2", "/analytics/customers?run_id=" + "x" * 2000):
        response = client.get(path, headers=OPS)
        assert response.status_code == 422, path
        assert response.json_body["error"]["code"] == "validation_failed"
    for body in ({"calibration_end": "2026-02-30"}, {"time_unit": "months"}, {"calibration_end": "2999-01-01"},
                 {"unknown": 1}):
        assert client.post("/analytics/clv/fit", headers=OPS, body=json.dumps(body)).status_code == 422


def cdnow_history() -> list[dict]:
    lifetimes = pytest.importorskip("lifetimes")
    rows = []
    sample = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
    for n, line in enumerate(sample.read_text().split("\n")):
        if line.strip():
            _, customer, day, _, dollars = line.split()
            rows.append({"order_id": f"cdnow-{n}", "customer_id": customer, "channel": "web", "currency": "USD",
                         "placed_at": f"{day[:4]}-{day[4:6]}-{day[6:]}T12:00:00Z", "total": dollars})
    return rows


def test_lifetime_values_from_the_store_reproduce_the_paper(client):
    """The CDNOW sample imported as history, summarised by the store's SQL, fitted by the job."""
    rows = cdnow_history()
    for start in range(0, len(rows), 4000):  # under the 1 MiB limit a request
        assert client.post("/analytics/history", headers=NDJSON, body=ndjson(rows[start:start + 4000])
                           ).status_code == 202
    drain_facts_queue()
    assert client.get("/analytics/clv/model", headers=OPS).status_code == 404
    assert client.get("/analytics/customers", headers=OPS).status_code == 404
    requested = client.post("/analytics/clv/fit", headers=OPS,
                            body=json.dumps({"calibration_end": "1997-09-30", "time_unit": "weeks"}))
    assert requested.status_code == 202
    run_id = requested.json_body["run_id"]
    queued = client.get("/analytics/clv/model", headers=OPS).json_body
    assert (queued["run_id"], queued["status"]) == (run_id, "queued")
    [job] = run_jobs()
    from functions.analytics import handle_jobs

    handle_jobs(sqs_event([job]))  # delivered twice: the fitted run is left as it is
    model = client.get("/analytics/clv/model", headers=OPS).json_body
    assert (model["status"], model["run_id"], model["calibration_end"], model["time_unit"], model["customers"]) == (
        "succeeded", run_id, "1997-09-30", "weeks", 2357)
    bgnbd, spend = model["bgnbd"], model["gamma_gamma"]
    assert (bgnbd["r"], bgnbd["alpha"], bgnbd["a"], bgnbd["b"]) == pytest.approx((0.243, 4.414, 0.793, 2.426),
                                                                                 abs=0.002)
    assert bgnbd["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert (spend["p"], spend["q"], spend["v"]) == pytest.approx((6.25, 3.74, 15.44), abs=0.01)
    top = client.get("/analytics/customers?sort=clv&limit=5", headers=OPS).json_body["customers"]
    assert len(top) == 5
    assert [float(c["clv_365d"]) for c in top] == sorted((float(c["clv_365d"]) for c in top), reverse=True)
    assert set(top[0]) == {"customer_id", "frequency", "recency", "T", "p_alive", "expected_purchases_90d",
                           "expected_average_value", "clv_365d"}
    assert all(0 <= c["p_alive"] <= 1 and float(c["clv_365d"]) > 0 for c in top)


def test_a_fit_without_enough_customers_fails_plainly(client):
    response = client.post("/analytics/clv/fit", headers=OPS, body=json.dumps({"time_unit": "days"}))
    assert response.status_code == 202
    run_jobs()
    model = client.get("/analytics/clv/model", headers=OPS).json_body
    assert model["status"] == "failed" and model["error"] == "no orders before the calibration end"


def test_a_fit_that_keeps_failing_says_so_on_its_last_attempt(client, monkeypatch):
    import analytics.clv_runs
    from functions.analytics import handle_jobs

    def broken(*args, **kwargs):
        raise RuntimeError("the store is down")

    monkeypatch.setattr(analytics.clv_runs, "fit", broken)
    assert client.post("/analytics/clv/fit", headers=OPS, body=json.dumps({})).status_code == 202
    import os

    import boto3

    [message] = boto3.client("sqs").receive_message(QueueUrl=os.environ["OMS_ANALYTICS_JOBS_QUEUE_URL"])["Messages"]
    with pytest.raises(RuntimeError):
        handle_jobs(sqs_event([json.loads(message["Body"])], receive_count=1))  # retried by the queue
    assert client.get("/analytics/clv/model", headers=OPS).json_body["status"] == "queued"
    handle_jobs(sqs_event([json.loads(message["Body"])], receive_count=3))
    model = client.get("/analytics/clv/model", headers=OPS).json_body
    assert model["status"] == "failed" and "the store is down" in model["error"]


def test_forecast_of_a_sku_with_weekly_demand(client):
    from functions.analytics import handle_facts
    from tests.integration.analytics_store import bus_event

    today = datetime.now(UTC).date()
    events = []
    for n in range(120):
        day = today - timedelta(days=120 - n)
        quantity = 8 if day.weekday() >= 5 else 2  # busy weekends
        placed = f"{day.isoformat()}T10:00:00Z"
        events.append(bus_event("OrderReceived", f"o{n}", 1, placed, {
            "order_number": f"N{n}", "channel": "web", "external_id": f"e{n}", "channel_order_number": f"e{n}",
            "currency": "USD", "total": 100 * quantity, "line_count": 1, "placed_at": placed, "customer_id": "c",
            "lines": [{"line_id": "L1", "sku": "WEEKLY", "quantity": quantity, "unit_price": 100}],
            "shipping_methods": []}))
    handle_facts(sqs_event(events[:60]))
    handle_facts(sqs_event(events[60:]))
    response = client.get("/analytics/forecast?sku=WEEKLY&days=14", headers=OPS)
    assert response.status_code == 200
    body = response.json_body
    assert (body["sku"], body["model"], len(body["daily"]), body["history_days"]) == (
        "WEEKLY", "holt_winters_weekly", 14, 120)
    assert body["daily"][0]["date"] == today.isoformat()
    by_day = {date.fromisoformat(d["date"]).weekday(): d["mean"] for d in body["daily"][:7]}
    assert by_day[5] == pytest.approx(8, abs=0.5) and by_day[1] == pytest.approx(2, abs=0.5)
    assert all(d["low"] <= d["mean"] <= d["high"] for d in body["daily"])
    assert body["backtest"]["mae"] < body["backtest"]["naive_mae"] or body["backtest"]["mae"] < 0.01
    unknown = client.get("/analytics/forecast?sku=NEVER%2FSOLD%2B1", headers=OPS).json_body  # any SKU an order takes
    assert unknown["history_days"] == 0 and all(d["mean"] == 0 for d in unknown["daily"])


def test_the_dashboard_page_inlines_its_chart_library(client):
    response = client.get("/dashboard")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert "/*CHART_JS*/" not in page and "Chart.js v4.6.1" in page
    assert "https://" not in page.split("<script", 1)[0]  # nothing fetched from elsewhere before the scripts
