"""The analytics store's pure parts: events to fact rows, one SQL for two engines, history lines,
periods and money in the figures."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from analytics import facts, reports, sql
from analytics.history import InvalidHistory, parse_history

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_every_query_translates_to_athena_with_nothing_athena_lacks():
    start, end = datetime(2026, 11, 1), datetime(2026, 12, 1)
    queries = [sql.summary(start, end, "week", "web"), sql.fulfilment(start, end), sql.holds_by_type(start, end),
               sql.main_currency(end), sql.purchase_history(end, "USD"), sql.daily_demand("A", None, start, end),
               sql.daily_demand("A", "WH1", start, end), sql.demand_by_location(start, end)]
    for query in queries:
        athena = sql.to_athena(query).upper()
        assert "PERCENTILE" not in athena and "QUANTILE" not in athena and "MEDIAN" not in athena
        assert "QUALIFY" not in athena and "GROUP BY ALL" not in athena
    assert "CAST('2026-11-01 00:00:00' AS TIMESTAMP)" in sql.to_athena(sql.fulfilment(start, end))


@pytest.mark.parametrize("seed", range(6))
def test_percentiles_from_ranks_equal_duckdbs_exact_ones(seed):
    """What Athena gets (ranks and interpolation) gives what DuckDB's quantile_cont gives."""
    import random

    import duckdb

    values = [round(random.Random(seed).uniform(0, 200), 3) for _ in range(random.Random(seed).randint(1, 40))]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE shipped_in AS SELECT unnest(?::DOUBLE[]) AS hours", [values])
    query = (f"WITH ranked_ship AS (SELECT hours, row_number() OVER (ORDER BY hours) AS k, count(*) OVER () AS n "
             f"FROM shipped_in) SELECT {sql._percentiles('hours', 'ship')}")
    cursor = connection.execute(query)
    row = dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True))
    exact = connection.execute("SELECT quantile_cont(hours, 0.5), quantile_cont(hours, 0.9) FROM shipped_in").fetchone()
    assert reports.percentile(row, "ship_p50") == pytest.approx(exact[0], abs=0.006)
    assert reports.percentile(row, "ship_p90") == pytest.approx(exact[1], abs=0.006)


def test_a_callers_text_reaches_sql_only_as_a_quoted_literal():
    query = sql.summary(datetime(2026, 11, 1), datetime(2026, 12, 1), "day", "it's")
    assert "channel = 'it''s'" in query
    with pytest.raises(AssertionError):
        sql.summary(datetime(2026, 11, 1), datetime(2026, 12, 1), "day; DROP", None)


def test_an_order_received_becomes_an_order_and_its_lines():
    rows = facts.rows_for_event({
        "event_id": "o1:1", "event_type": "OrderReceived", "occurred_at": "2026-11-02T10:00:01Z", "aggregate_id": "o1",
        "data": {"channel": "shopify", "currency": "JPY", "total": 1200, "placed_at": "2026-11-02T19:00:00+09:00",
                 "customer_id": "c1", "shipping_methods": ["express"],
                 "lines": [{"line_id": "L1", "sku": "A", "quantity": 2, "unit_price": 500},
                           {"line_id": "L2", "sku": "B", "quantity": 1, "unit_price": 200}]}},
        deliver_by=lambda placed_at, methods: "2026-11-04T10:00:00+00:00" if methods == ["express"] else None)
    assert rows["orders"] == [{"event_id": "o1:1", "order_id": "o1", "customer_id": "c1", "channel": "shopify",
                               "currency": "JPY", "total": 1200, "units": 3, "placed_at": "2026-11-02 10:00:00",
                               "deliver_by": "2026-11-04 10:00:00", "source": "oms"}]
    assert [(r["line_id"], r["sku"], r["quantity"]) for r in rows["order_lines"]] == [("L1", "A", 2), ("L2", "B", 1)]
    assert all(set(r) == {name for name, _ in facts.TABLES[table]} for table, found in rows.items() for r in found)


@pytest.mark.parametrize(("kind", "data", "table", "expected"), [
    ("OrderLinesCancelled", {"lines": [{"quantity": 2}, {"quantity": 1}]}, "order_events", {"units": 3}),
    ("OrderHeld", {"hold_type": "backorder", "detail": "x"}, "order_events", {"hold_type": "backorder"}),
    ("OrderDelivered", {"delivered_at": "2026-11-05T08:00:00-02:00"}, "order_events",
     {"occurred_at": "2026-11-05 10:00:00"}),
    ("RefundSucceeded", {"refund_id": "o1-R1", "amount": 250, "currency": "EUR"}, "payments",
     {"amount": 250, "currency": "EUR"}),
    ("ShipmentCreated", {"fulfillment_order_id": "o1-F2", "shipment_id": "o1-F2-S1", "location_id": "WH1",
                         "lines": [{"quantity": 2}]}, "shipments", {"order_id": "o1", "units": 2}),
    ("ReturnReceived", {"return_id": "r1", "order_id": "o9", "lines": [
        {"sellable": 1, "damaged": 1, "missing": 1, "kept": 0},
        {"sellable": 0, "damaged": 0, "missing": 0, "kept": 2}]},
     "returns", {"order_id": "o9", "units": 4}),  # a missing unit is not a returned one
    ("CaseEscalated", {"case_id": "k1", "level": 1, "queue": "tier2", "breach": True}, "cases",
     {"case_id": "k1", "breach": True, "queue": "tier2"}),
])
def test_events_become_rows(kind, data, table, expected):
    rows = facts.rows_for_event({"event_id": "x:1", "event_type": kind, "occurred_at": "2026-11-03T00:00:00Z",
                                 "aggregate_id": "o1", "data": data})
    [row] = rows[table]
    assert {key: row[key] for key in expected} == expected
    assert set(row) == {name for name, _ in facts.TABLES[table]}


def test_events_analytics_does_not_count_add_nothing():
    assert facts.rows_for_event({"event_id": "x:1", "event_type": "InventoryAdjusted", "aggregate_id": "SKU",
                                 "occurred_at": "2026-11-03T00:00:00Z", "data": {}}) == {}


def test_history_lines_are_checked_whole():
    good = {"order_id": "h1", "customer_id": "c1", "placed_at": "2026-11-01T10:00:00-05:00", "total": 12.5,
            "currency": "usd", "channel": "web"}
    [order] = parse_history((json.dumps(good) + "\n\n" + json.dumps({**good, "total": "99.00"})).encode(), NOW)
    assert order == {"order_id": "h1", "customer_id": "c1", "placed_at": "2026-11-01T10:00:00-05:00", "total": 1250,
                     "currency": "USD", "channel": "web"}  # the first line of an order wins
    bad = [{**good, "order_id": "has space"}, {**good, "total": "-1.00"}, {**good, "total": True},
           {**good, "placed_at": "2027-01-01T00:00:00Z"}, {**good, "extra": 1},
           {k: v for k, v in good.items() if k != "channel"}, {**good, "total": "99999999999999999999"},
           {**good, "total": "1e400"}, {**good, "placed_at": "0001-01-01T00:00:00+01:00"}]
    with pytest.raises(InvalidHistory) as refused:
        parse_history("\n".join([json.dumps(good)] + [json.dumps(b) for b in bad]).encode(), NOW)
    assert [detail["line"] for detail in refused.value.details] == [2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_periods_cover_the_range_from_their_starts():
    assert reports.periods(date(2026, 11, 1), date(2026, 11, 16), "week") == [
        date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
    assert reports.periods(date(2026, 1, 31), date(2026, 3, 1), "month") == [
        date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert len(reports.periods(date(2024, 1, 1), date(2024, 12, 31), "day")) == 366


def test_aov_rounds_half_even_in_the_currencys_minor_unit():
    row = {"orders": 2, "cancelled_orders": 0, "revenue": 2001, "refunded": 0, "units": 0, "returned_units": 0}
    assert reports._figures(row, "JPY")["aov"] == "1000"
    assert reports._figures({**row, "revenue": 2003}, "JPY")["aov"] == "1002"
    assert reports._figures({**row, "revenue": 2001}, "KWD")["aov"] == "1.000"
    assert reports._figures({**row, "revenue": 2001, "orders": 3, "cancelled_orders": 3}, "USD")["aov"] == "0.00"
