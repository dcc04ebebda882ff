"""The analytics store behind the real wiring: orders placed through the API reach the facts by
the template's rule and queue, and the nightly forecasts reach replenishment's suggestions."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.analytics_store import analytics_store, bus_event, deliver
from tests.integration.conftest import Api
from tests.support.harness import Pipeline
from tests.support.orders import canonical_order

pytest.importorskip("duckdb")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def wired(monkeypatch):
    from chalice.test import Client

    from infra.local_api import emulate_api_gateway

    with analytics_store(monkeypatch, provisioned=True):
        import app

        emulate_api_gateway()
        with Client(app.app, stage_name="dev", project_dir=str(ROOT)) as client:
            yield Api(Pipeline(client, analytics=True))


def test_an_order_placed_reaches_the_summary_once(wired):
    wired.location("WH1")
    wired.stock("AN-1", 10)
    placed_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    body = canonical_order(lines=[{"sku": "AN-1", "quantity": 2, "unit_price": "12.50"}],
                           placed_at=placed_at.isoformat().replace("+00:00", "Z"))
    order_id = wired.place(body)
    assert wired.webhook("orders", body).status_code == 200  # the channel sends it again: still one order
    wired.pipeline.drain()
    day = placed_at.date().isoformat()
    summary = wired.ops("GET", f"/analytics/summary?from={day}&to={day}").json_body
    order = wired.order(order_id)
    assert summary[order["currency"]]["orders"] == 1 and summary[order["currency"]]["units"] == 2
    assert wired.pipeline.queue_depth("AnalyticsDeadLetterQueue") == 0


def test_nightly_forecasts_drive_replenishment(wired):
    from analytics.replenishment_forecasts import forecast_policies
    from analytics.store import DuckDBEngine
    from oms.bootstrap import context

    wired.location("WH1")
    wired.stock("FC-1", 5)
    policy = {"lead_time_days": 7, "service_level": 0.95, "review_period_days": 0}
    assert wired.ops("PUT", "/inventory/FC-1/locations/WH1/policy", policy).status_code == 200
    [before] = wired.ops("GET", "/replenishment/suggestions?location_id=WH1").json_body["suggestions"]
    assert before["demand_from"] == "history" and before["daily_demand_mean"] == 0
    today = datetime.now(UTC).date()
    events = []
    for n in range(70):  # ten weeks sent to WH1 to fulfil: 2 a weekday, 9 a weekend day
        day = today - timedelta(days=70 - n)
        at = f"{day.isoformat()}T09:00:00Z"
        events.append(bus_event("FulfillmentOrderCreated", f"o{n}", 3, at, {
            "fulfillment_order_id": f"o{n}-F1", "location_id": "WH1", "delivery_group": "G1",
            "lines": [{"line_id": "L1", "sku": "FC-1", "quantity": 9 if day.weekday() >= 5 else 2, "shipped": 0}]}))
    deliver(events)
    assert forecast_policies(context(), DuckDBEngine(), today) == 1
    [after] = wired.ops("GET", "/replenishment/suggestions?location_id=WH1").json_body["suggestions"]
    assert after["demand_from"] == "forecast"
    assert after["daily_demand_mean"] == pytest.approx((5 * 2 + 2 * 9) / 7, abs=0.3)  # a week's mean
    assert after["suggested_order_quantity"] > 0 and after["reorder_point"] > 7 * 3
