"""The KPIs against figures worked out by hand: three currencies (two, zero and two decimals),
refunds, whole and partial cancellations, a return, imported history, and events delivered
twice in separate batches, all through the facts writer, Parquet on S3 and DuckDB."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.integration.analytics_store import BUCKET, analytics_store, bus_event, deliver, drain_facts_queue

pytest.importorskip("duckdb")

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def received(order_id, placed_at, total, currency="USD", channel="web", lines=((2, 5000),), customer="c1"):
    return bus_event("OrderReceived", order_id, 1, placed_at, {
        "order_number": order_id.upper(), "channel": channel, "external_id": order_id, "channel_order_number": order_id,
        "currency": currency, "total": total, "line_count": len(lines), "placed_at": placed_at, "customer_id": customer,
        "lines": [{"line_id": f"L{n}", "sku": f"SKU-{n}", "quantity": q, "unit_price": p}
                  for n, (q, p) in enumerate(lines, start=1)],
        "shipping_methods": ["standard"]})


def event(kind, aggregate_id, sequence, at, **data):
    return bus_event(kind, aggregate_id, sequence, at, data)


ORDERS = [
    received("o1", "2026-11-02T10:00:00Z", 10001, lines=((2, 5000), (1, 1))),
    received("o2", "2026-11-03T10:00:00Z", 5000, lines=((1, 5000),)),
    received("o3", "2026-11-10T10:00:00Z", 3000, channel="shopify", lines=((2, 1500),)),
    received("o4", "2026-11-11T10:00:00Z", 2000, channel="shopify", lines=((4, 500),)),
    received("o5", "2026-10-31T23:59:59Z", 999),  # before the range
    received("o7", "2026-11-20T10:00:00Z", 1001, currency="JPY", lines=((1, 1001),)),
    received("o8", "2026-11-21T10:00:00Z", 1000, currency="JPY", lines=((1, 1000),)),
]
AFTER_SALE = [
    event("RefundSucceeded", "o1", 9, "2026-11-08T10:00:00Z", refund_id="o1-R1", amount=1000, currency="USD"),
    event("ReturnReceived", "o1", 10, "2026-11-08T09:00:00Z", return_id="r1", rma_number="RMA-1", order_id="o1",
          receipt=1, location_id="WH1", restocking_fee_percent="0", complete=True, returnless=False,
          lines=[{"line_id": "L1", "sku": "SKU-1", "reason": "changed_mind", "sellable": 1, "damaged": 0, "missing": 0,
                  "kept": 0, "exchanged": False, "return_line": 0}]),
    # Paid, then cancelled in full and refunded: neither its total nor its refund is revenue.
    event("OrderCancelled", "o3", 5, "2026-11-10T12:00:00Z", reason="customer", source="operator"),
    event("RefundSucceeded", "o3", 6, "2026-11-10T13:00:00Z", refund_id="o3-R1", amount=3000, currency="USD"),
    event("OrderLinesCancelled", "o4", 3, "2026-11-11T11:00:00Z", channel="shopify", reason="customer",
          source="operator", amount_due=1500, released=[],
          lines=[{"line_id": "L1", "sku": "SKU-1", "quantity": 1, "channel_line_id": None}]),
]
def shipped(order_id, shipment, at, units=1):
    return event("ShipmentCreated", order_id, 20 + shipment, at, channel="web", fulfillment_order_id=f"{order_id}-F1",
                 shipment_id=f"{order_id}-F1-S{shipment}", location_id="WH1", carrier="UPS", tracking_number="1Z",
                 service="Ground", lines=[{"line_id": "L1", "sku": "SKU-1", "quantity": units, "shipped": units}])


def delivered(order_id, shipment, at):
    return event("ShipmentDelivered", order_id, 30 + shipment, at, channel="web",
                 shipment_id=f"{order_id}-F1-S{shipment}", fulfillment_order_id=f"{order_id}-F1", delivered_at=at)


FULFILMENT = [
    shipped("o1", 1, "2026-11-03T10:00:00Z"), shipped("o1", 2, "2026-11-04T10:00:00Z"),  # 24 h, split
    delivered("o1", 1, "2026-11-05T10:00:00Z"), delivered("o1", 2, "2026-11-06T10:00:00Z"),  # 72 h, 96 h
    event("OrderDelivered", "o1", 40, "2026-11-06T10:00:05Z", delivered_at="2026-11-06T10:00:00Z"),  # promised 11-07
    shipped("o2", 1, "2026-11-03T22:00:00Z"), delivered("o2", 1, "2026-11-10T10:00:00Z"),  # 12 h; 168 h
    event("OrderDelivered", "o2", 40, "2026-11-10T10:00:05Z", delivered_at="2026-11-10T10:00:00Z"),  # late: 11-08
    event("OrderHeld", "o4", 2, "2026-11-11T10:30:00Z", hold_type="backorder", detail="no stock"),
    event("OrderHeld", "o4", 4, "2026-11-11T10:40:00Z", hold_type="payment_declined", detail="card declined"),
    shipped("o4", 1, "2026-11-13T10:00:00Z", units=3),  # 48 h
]
HISTORY = [
    {"order_id": "h1", "customer_id": "c9", "placed_at": "2026-11-05T08:00:00+01:00", "total": "19.99",
     "currency": "EUR", "channel": "store"},
    {"order_id": "h2", "customer_id": "c9", "placed_at": "2026-11-06T08:00:00Z", "total": "0.02", "currency": "EUR",
     "channel": "store"},
]


@pytest.fixture
def service(monkeypatch):
    with analytics_store(monkeypatch):
        from analytics.service import AnalyticsService

        service = AnalyticsService.from_environment()
        service.clock = lambda: NOW
        deliver(ORDERS[:4])
        deliver(ORDERS[1:2] + ORDERS[4:])  # o2 again, in another batch: another file
        deliver(AFTER_SALE)
        deliver(AFTER_SALE[:1])  # the refund again
        deliver(FULFILMENT)
        deliver(FULFILMENT[2:3])  # a delivery again
        body = "\n".join(json.dumps(row) for row in HISTORY).encode()
        assert service.import_history(body) == 2
        assert service.import_history(body) == 2  # imported twice: counted once
        drain_facts_queue()
        yield service


def test_summary_per_currency_by_hand(service):
    result = service.summary({"from": "2026-11-01", "to": "2026-11-30", "granularity": "week"})
    assert set(result) == {"USD", "EUR", "JPY"}
    usd = result["USD"]
    # o1 + o2 + o4 (o3 was cancelled in full): 100.01 + 50.00 + 20.00
    assert {k: usd[k] for k in ("orders", "cancelled_orders", "revenue", "refunded", "net_revenue", "aov")} == {
        "orders": 4, "cancelled_orders": 1, "revenue": "170.01", "refunded": "10.00", "net_revenue": "160.01",
        "aov": "56.67"}  # 17001 / 3 = 5667
    assert (usd["units"], usd["returned_units"], usd["return_rate"]) == (7, 1, 0.1429)  # 3 + 1 + 0 + (4 - 1)
    # 15001 / 2 = 7500.5: half-even to 75.00
    assert usd["by_channel"]["web"] == {"orders": 2, "units": 4, "revenue": "150.01", "refunded": "10.00",
                                        "net_revenue": "140.01", "aov": "75.00", "cancelled_orders": 0,
                                        "returned_units": 1, "return_rate": 0.25}
    assert usd["by_channel"]["shopify"]["revenue"] == "20.00" and usd["by_channel"]["shopify"]["aov"] == "20.00"
    assert [(p["period"], p["orders"], p["revenue"], p["aov"]) for p in usd["series"]] == [
        ("2026-10-26", 0, "0.00", "0.00"), ("2026-11-02", 2, "150.01", "75.00"), ("2026-11-09", 2, "20.00", "20.00"),
        ("2026-11-16", 0, "0.00", "0.00"), ("2026-11-23", 0, "0.00", "0.00"), ("2026-11-30", 0, "0.00", "0.00")]
    # Yen have no minor unit: 2001 / 2 = 1000.5, half-even to 1000.
    assert (result["JPY"]["revenue"], result["JPY"]["aov"]) == ("2001", "1000")
    # History counts once however often it came: (19.99 + 0.02) / 2 = 10.005, half-even to 10.00.
    assert {k: result["EUR"][k] for k in ("orders", "revenue", "aov", "units")} == {
        "orders": 2, "revenue": "20.01", "aov": "10.00", "units": 0}


def test_summary_by_channel_and_day(service):
    result = service.summary({"from": "2026-11-02", "to": "2026-11-03", "granularity": "day", "channel": "web"})
    assert set(result) == {"USD"}
    assert [(p["period"], p["orders"], p["revenue"]) for p in result["USD"]["series"]] == [
        ("2026-11-02", 1, "100.01"), ("2026-11-03", 1, "50.00")]


def test_summary_csv_has_the_same_figures(service):
    from analytics.reports import summary_csv

    text = summary_csv(service.summary({"from": "2026-11-01", "to": "2026-11-30", "granularity": "month"}))
    lines = text.splitlines()
    assert lines[0] == ("currency,scope,key,orders,units,revenue,refunded,net_revenue,aov,cancelled_orders,"
                        "returned_units,return_rate")
    assert "USD,total,,4,7,170.01,10.00,160.01,56.67,1,1,0.1429" in lines
    assert "USD,period,2026-11-01,4,,170.01,,,56.67,,," in lines


def test_the_parquet_layout_read_back_by_duckdb(service):
    import boto3
    import duckdb

    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="facts/")["Contents"]]
    assert {key.split("/")[1] for key in keys} == {"orders", "order_lines", "order_events", "payments", "returns",
                                                   "shipments"}
    today = datetime.now(UTC).date().isoformat()  # the day the rows were written, not when they happened
    assert all(key.split("/")[2] == f"dt={today}" and key.endswith(".parquet") for key in keys)
    key = next(key for key in keys if key.startswith("facts/orders/"))
    local = f"/tmp/{key.replace('/', '_')}"
    boto3.client("s3").download_file(BUCKET, key, local)
    columns = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{local}')").fetchall()
    from analytics.facts import TABLES

    assert [(c[0], c[1]) for c in columns] == list(TABLES["orders"])


def test_fulfilment_by_hand(service):
    result = service.fulfilment({"from": "2026-11-01", "to": "2026-11-30"})
    assert result == {
        "orders_shipped": 3,
        # hours to the first parcel 12, 24, 48: the 90th percentile is 24 + 0.8 * 24
        "time_to_ship_hours": {"p50": 24.0, "p90": 43.2},
        # hours to each parcel's delivery 72, 96, 168 (the delivery sent twice counts once)
        "time_to_deliver_hours": {"p50": 96.0, "p90": 153.6},
        "on_time_rate": 0.5, "split_shipment_rate": 0.3333,
        "backorder_rate": 0.1667,  # o4 of the six orders the OMS took in (history has no backorders)
        "holds_by_type": {"backorder": 1, "payment_declined": 1}}


def test_an_order_shipped_across_the_ranges_edge_counts_in_one_range(service):
    # o1's parcels left on 11-03 and 11-04: shipped (and split) on 11-03, not again on 11-04.
    early = service.fulfilment({"from": "2026-11-01", "to": "2026-11-03"})
    later = service.fulfilment({"from": "2026-11-04", "to": "2026-11-30"})
    assert (early["orders_shipped"], early["split_shipment_rate"]) == (2, 0.5)
    assert (later["orders_shipped"], later["split_shipment_rate"], later["time_to_ship_hours"]["p50"]) == (1, 0.0, 48.0)


def test_fulfilment_of_an_empty_range(service):
    result = service.fulfilment({"from": "2025-01-01", "to": "2025-01-31"})
    assert result["orders_shipped"] == 0 and result["time_to_ship_hours"] == {"p50": None, "p90": None}
    assert result["on_time_rate"] is None and result["holds_by_type"] == {}


def test_a_bad_range_is_refused(service):
    from analytics.service import InvalidQuery

    for params in ({"from": "2026-11-30", "to": "2026-11-01"}, {"from": "yesterday"},
                   {"granularity": "hour"}, {"channel": "web; DROP TABLE orders"}):
        with pytest.raises(InvalidQuery):
            service.summary(params)
