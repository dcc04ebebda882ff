"""Every query the analytics API runs, written once in DuckDB's dialect and translated to
Athena's (Trino) with sqlglot. Only what both can mean the same is written here: exact
percentiles, which Athena lacks, are worked out from ranks (`_percentiles`).

Facts arrive at least once, so every query reads them through `_once`: one row per event id
(per order id for orders, which also makes a re-imported order count once). `dt` is the day a
row was written, never before the day it happened, so `dt >= <first day asked>` prunes
partitions without losing a row."""
from __future__ import annotations

from datetime import date, datetime

import sqlglot
from sqlglot import exp

GRANULARITIES = ("day", "week", "month")


def to_athena(sql: str) -> str:
    return sqlglot.transpile(sql, read="duckdb", write="athena")[0]


def literal(value) -> str:
    """A value as SQL, quoted by sqlglot: the only way a caller's input reaches a query."""
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return exp.Literal.string(str(value)).sql(dialect="duckdb")


def _once(table: str, key: str, since: date | None, columns: str = "*") -> str:
    where = f"WHERE dt >= {literal(since)}" if since else ""
    return (f"(SELECT {columns} FROM (SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY dt, event_id) AS copy_n"
            f" FROM {table} {where}) AS ranked WHERE copy_n = 1)")


def summary(start: datetime, end: datetime, granularity: str, channel: str | None) -> str:
    """Orders placed in [start, end), per currency: overall (g_channel = g_period = 1), per
    channel and per period. Revenue and refunds leave out orders cancelled in full."""
    assert granularity in GRANULARITIES
    since = start.date()
    channel_filter = f"AND channel = {literal(channel)}" if channel else ""
    return f"""
WITH placed AS (
  SELECT order_id, channel, currency, total, units, placed_at
  FROM {_once("orders", "order_id", since)} AS o
  WHERE placed_at >= {literal(start)} AND placed_at < {literal(end)} {channel_filter}
),
cancellations AS (
  SELECT order_id, max(CASE WHEN event_type = 'OrderCancelled' THEN 1 ELSE 0 END) AS whole,
         sum(CASE WHEN event_type = 'OrderLinesCancelled' THEN units ELSE 0 END) AS line_units
  FROM {_once("order_events", "event_id", since)} AS e
  WHERE event_type IN ('OrderCancelled', 'OrderLinesCancelled')
  GROUP BY order_id
),
refunds AS (
  SELECT order_id, sum(amount) AS refunded
  FROM {_once("payments", "event_id", since)} AS p
  WHERE event_type = 'RefundSucceeded'
  GROUP BY order_id
),
returned AS (
  SELECT order_id, sum(units) AS units
  FROM {_once("returns", "event_id", since)} AS r
  WHERE event_type = 'ReturnReceived'
  GROUP BY order_id
),
per_order AS (
  SELECT placed.currency, placed.channel,
         CAST(date_trunc('{granularity}', placed.placed_at) AS DATE) AS period,
         CASE WHEN coalesce(c.whole, 0) = 1 THEN 1 ELSE 0 END AS cancelled,
         CASE WHEN coalesce(c.whole, 0) = 1 THEN 0 ELSE placed.total END AS revenue,
         CASE WHEN coalesce(c.whole, 0) = 1 THEN 0 ELSE coalesce(placed.units, 0) - coalesce(c.line_units, 0) END
           AS units,
         CASE WHEN coalesce(c.whole, 0) = 1 THEN 0 ELSE coalesce(f.refunded, 0) END AS refunded,
         coalesce(r.units, 0) AS returned_units
  FROM placed
  LEFT JOIN cancellations AS c ON c.order_id = placed.order_id
  LEFT JOIN refunds AS f ON f.order_id = placed.order_id
  LEFT JOIN returned AS r ON r.order_id = placed.order_id
)
SELECT currency, channel, period, grouping(channel) AS g_channel, grouping(period) AS g_period,
       count(*) AS orders, sum(cancelled) AS cancelled_orders, sum(units) AS units, sum(revenue) AS revenue,
       sum(refunded) AS refunded, sum(returned_units) AS returned_units
FROM per_order
GROUP BY GROUPING SETS ((currency), (currency, channel), (currency, period))
ORDER BY currency, period, channel
"""


def _percentiles(column: str, name: str) -> str:
    """The neighbours and position of the 50th and 90th percentiles (linear interpolation, as
    DuckDB's quantile_cont), in SQL both engines share: Athena has no exact percentile, and
    `reports.percentile` finishes the interpolation."""
    parts = []
    for q in (50, 90):
        position = f"(1 + {q / 100} * (n - 1))"
        ranked, label = f"ranked_{name}", f"{name}_p{q}"
        parts.append(f"(SELECT max(CASE WHEN k = floor({position}) THEN {column} END) FROM {ranked}) AS {label}_low")
        parts.append(f"(SELECT max(CASE WHEN k = ceil({position}) THEN {column} END) FROM {ranked}) AS {label}_high")
        parts.append(f"(SELECT max({position}) FROM {ranked}) AS {label}_position")
    return ",\n  ".join(parts)


def fulfilment(start: datetime, end: datetime) -> str:
    """One row: shipping and delivery in [start, end), backorders of the orders placed in it.
    An order's first parcel and each parcel's last delivery are found over all its facts, so an
    order shipped across the range's edge counts in one range only."""
    return f"""
WITH placed AS (
  SELECT order_id, placed_at, deliver_by, source FROM {_once("orders", "order_id", None)} AS o
),
shipment_events AS (
  SELECT * FROM {_once("shipments", "event_id", None)} AS s
),
shipped AS (
  SELECT order_id, min(occurred_at) AS first_shipped, count(DISTINCT shipment_id) AS shipments
  FROM shipment_events WHERE event_type = 'ShipmentCreated' GROUP BY order_id
),
shipped_in AS (
  SELECT shipped.*, date_diff('second', placed.placed_at, shipped.first_shipped) / 3600.0 AS hours
  FROM shipped JOIN placed ON placed.order_id = shipped.order_id
  WHERE first_shipped >= {literal(start)} AND first_shipped < {literal(end)}
),
deliveries AS (
  SELECT order_id, shipment_id, max(occurred_at) AS delivered_at
  FROM shipment_events WHERE event_type = 'ShipmentDelivered' GROUP BY order_id, shipment_id
),
delivered_in AS (
  SELECT date_diff('second', placed.placed_at, d.delivered_at) / 3600.0 AS hours
  FROM deliveries AS d JOIN placed ON placed.order_id = d.order_id
  WHERE d.delivered_at >= {literal(start)} AND d.delivered_at < {literal(end)}
),
ranked_ship AS (
  SELECT hours, row_number() OVER (ORDER BY hours) AS k, count(*) OVER () AS n FROM shipped_in
),
ranked_deliver AS (
  SELECT hours, row_number() OVER (ORDER BY hours) AS k, count(*) OVER () AS n FROM delivered_in
),
lifecycle AS (
  SELECT * FROM {_once("order_events", "event_id", None)} AS e
),
completed AS (
  SELECT e.order_id, max(e.occurred_at) AS delivered_at, max(placed.deliver_by) AS deliver_by
  FROM lifecycle AS e JOIN placed ON placed.order_id = e.order_id
  WHERE e.event_type = 'OrderDelivered' AND placed.deliver_by IS NOT NULL
  GROUP BY e.order_id
  HAVING max(e.occurred_at) >= {literal(start)} AND max(e.occurred_at) < {literal(end)}
),
placed_in AS (
  SELECT order_id FROM placed
  WHERE source = 'oms' AND placed_at >= {literal(start)} AND placed_at < {literal(end)}
),
backordered AS (
  SELECT DISTINCT order_id FROM lifecycle
  WHERE event_type = 'OrderHeld' AND hold_type = 'backorder' AND occurred_at >= {literal(start)}
)
SELECT
  (SELECT count(*) FROM shipped_in) AS orders_shipped,
  (SELECT sum(CASE WHEN shipments > 1 THEN 1 ELSE 0 END) FROM shipped_in) AS split_orders,
  {_percentiles("hours", "ship")},
  {_percentiles("hours", "deliver")},
  (SELECT count(*) FROM completed) AS orders_delivered,
  (SELECT sum(CASE WHEN delivered_at <= deliver_by THEN 1 ELSE 0 END) FROM completed) AS delivered_on_time,
  (SELECT count(*) FROM placed_in) AS orders_placed,
  (SELECT count(*) FROM placed_in JOIN backordered ON backordered.order_id = placed_in.order_id) AS backordered
"""


def holds_by_type(start: datetime, end: datetime) -> str:
    return f"""
SELECT hold_type, count(*) AS holds
FROM {_once("order_events", "event_id", start.date())} AS e
WHERE event_type = 'OrderHeld' AND occurred_at >= {literal(start)} AND occurred_at < {literal(end)}
GROUP BY hold_type ORDER BY holds DESC, hold_type
"""


def main_currency(before: datetime) -> str:
    return f"""
SELECT currency, count(*) AS orders FROM {_once("orders", "order_id", None)} AS o
WHERE placed_at < {literal(before)} GROUP BY currency ORDER BY orders DESC, currency LIMIT 1
"""


def purchase_history(before: datetime, currency: str) -> str:
    """Per customer, as the BG/NBD and Gamma-Gamma models count (one purchase a day): repeat
    purchase days, the first and last purchase day, and the total of the repeat days. Orders
    cancelled in full were never purchases."""
    return f"""
WITH cancelled AS (
  SELECT DISTINCT order_id FROM order_events WHERE event_type = 'OrderCancelled'
),
purchases AS (
  SELECT o.customer_id, CAST(o.placed_at AS DATE) AS day, sum(o.total) AS amount
  FROM {_once("orders", "order_id", None)} AS o
  WHERE o.placed_at < {literal(before)} AND o.currency = {literal(currency)} AND o.customer_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM cancelled WHERE cancelled.order_id = o.order_id)
  GROUP BY o.customer_id, CAST(o.placed_at AS DATE)
),
numbered AS (
  SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS k FROM purchases
)
SELECT customer_id, count(*) - 1 AS frequency, min(day) AS first_day, max(day) AS last_day,
       sum(CASE WHEN k > 1 THEN amount ELSE 0 END) AS repeat_amount
FROM numbered GROUP BY customer_id ORDER BY customer_id
"""


def daily_demand(sku: str, location_id: str | None, start: datetime, end: datetime) -> str:
    """Units of a SKU a day: ordered (anywhere), or sent to a location to fulfil."""
    if location_id:
        lines = _once("fulfilment_lines", "event_id, line_id", start.date())
        source = (f"SELECT CAST(occurred_at AS DATE) AS day, quantity FROM {lines} AS f"
                  f" WHERE sku = {literal(sku)} AND location_id = {literal(location_id)}"
                  f" AND occurred_at >= {literal(start)} AND occurred_at < {literal(end)}")
    else:
        lines = _once("order_lines", "event_id, line_id", start.date())
        source = (f"SELECT CAST(placed_at AS DATE) AS day, quantity FROM {lines} AS l"
                  f" WHERE sku = {literal(sku)} AND placed_at >= {literal(start)} AND placed_at < {literal(end)}")
    return f"SELECT day, sum(quantity) AS units FROM ({source}) AS demand GROUP BY day ORDER BY day"


def demand_by_location(start: datetime, end: datetime) -> str:
    """Units of every SKU sent to each location to fulfil, a day: what replenishment forecasts."""
    lines = _once("fulfilment_lines", "event_id, line_id", start.date())
    return f"""
SELECT sku, location_id, CAST(occurred_at AS DATE) AS day, sum(quantity) AS units
FROM {lines} AS f
WHERE occurred_at >= {literal(start)} AND occurred_at < {literal(end)}
GROUP BY sku, location_id, CAST(occurred_at AS DATE) ORDER BY sku, location_id, day
"""
