"""Query rows shaped into the API's figures: money as exact decimal strings in each currency's
minor unit (AOV rounded half-even), rates as fractions, every period of the range present."""
from __future__ import annotations

import csv
import io
import math
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from oms.domain.money import MoneyError, currency_exponent, to_decimal_string

CSV_COLUMNS = ("currency", "scope", "key", "orders", "units", "revenue", "refunded", "net_revenue", "aov",
               "cancelled_orders", "returned_units", "return_rate")


def _money(minor, currency: str) -> str:
    try:
        return to_decimal_string(int(minor or 0), currency)
    except MoneyError:  # a currency ISO 4217 no longer lists: two decimals
        return f"{Decimal(int(minor or 0)).scaleb(-2):.2f}"


def _aov(revenue, orders: int, currency: str) -> str:
    if not orders:
        return _money(0, currency)
    return _money((Decimal(int(revenue or 0)) / orders).quantize(Decimal(1), rounding=ROUND_HALF_EVEN), currency)


def _figures(row: dict, currency: str) -> dict:
    orders, cancelled = int(row["orders"] or 0), int(row["cancelled_orders"] or 0)
    revenue, refunded = int(row["revenue"] or 0), int(row["refunded"] or 0)
    units, returned = int(row["units"] or 0), int(row["returned_units"] or 0)
    return {"orders": orders, "units": units, "revenue": _money(revenue, currency),
            "refunded": _money(refunded, currency), "net_revenue": _money(revenue - refunded, currency),
            "aov": _aov(revenue, orders - cancelled, currency), "cancelled_orders": cancelled,
            "returned_units": returned, "return_rate": round(returned / units, 4) if units else 0.0}


def periods(first: date, last: date, granularity: str) -> list[date]:
    """The start of every period that overlaps [first, last] (weeks start on Monday, as date_trunc's)."""
    if granularity == "week":
        start = first - timedelta(days=first.weekday())
    elif granularity == "month":
        start = first.replace(day=1)
    else:
        start = first
    found = []
    while start <= last:
        found.append(start)
        if granularity == "month":
            start = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            start += timedelta(days=7 if granularity == "week" else 1)
    return found


def summary(rows: list[dict], first: date, last: date, granularity: str) -> dict:
    """{currency: figures + by_channel + series}."""
    result: dict[str, dict] = {}
    for row in rows:
        if row["g_channel"] and row["g_period"]:
            result[row["currency"]] = {**_figures(row, row["currency"]), "by_channel": {}, "series": {}}
    for row in rows:
        currency, figures = row["currency"], result[row["currency"]]
        if not row["g_channel"]:
            figures["by_channel"][row["channel"]] = _figures(row, currency)
        elif not row["g_period"]:
            period = row["period"] if isinstance(row["period"], date) else date.fromisoformat(str(row["period"]))
            figures["series"][period] = row
    for currency, figures in result.items():
        by_period = figures["series"]
        figures["series"] = []
        for period in periods(first, last, granularity):
            row = by_period.get(period)
            orders = int(row["orders"]) if row else 0
            kept = orders - (int(row["cancelled_orders"] or 0) if row else 0)
            revenue = int(row["revenue"] or 0) if row else 0
            figures["series"].append({"period": period.isoformat(), "orders": orders,
                                      "revenue": _money(revenue, currency), "aov": _aov(revenue, kept, currency)})
    return result


def summary_csv(result: dict) -> str:
    """One row per currency overall, per channel and per period: a spreadsheet's view of /analytics/summary."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for currency, figures in sorted(result.items()):
        rows = [("total", "", figures)]
        rows += [("channel", name, channel) for name, channel in sorted(figures["by_channel"].items())]
        rows += [("period", point["period"], point) for point in figures["series"]]
        for scope, key, values in rows:
            writer.writerow([currency, scope, key, *(values.get(column, "") for column in CSV_COLUMNS[3:])])
    return out.getvalue()


def percentile(row: dict, name: str) -> float | None:
    """Linear interpolation between the two ranks around the percentile's position (sql._percentiles)."""
    low, high, position = row[f"{name}_low"], row[f"{name}_high"], row[f"{name}_position"]
    if low is None:
        return None
    position = float(position)
    return round(float(low) + (position - math.floor(position)) * (float(high) - float(low)), 2)


def _rate(part, whole) -> float | None:
    return round(int(part or 0) / int(whole), 4) if whole else None


def fulfilment(row: dict, holds: list[dict]) -> dict:
    return {"orders_shipped": int(row["orders_shipped"] or 0),
            "time_to_ship_hours": {"p50": percentile(row, "ship_p50"), "p90": percentile(row, "ship_p90")},
            "time_to_deliver_hours": {"p50": percentile(row, "deliver_p50"), "p90": percentile(row, "deliver_p90")},
            "on_time_rate": _rate(row["delivered_on_time"], row["orders_delivered"]),
            "split_shipment_rate": _rate(row["split_orders"], row["orders_shipped"]),
            "backorder_rate": _rate(row["backordered"], row["orders_placed"]),
            "holds_by_type": {hold["hold_type"]: int(hold["holds"]) for hold in holds}}


def daily_series(rows: list[dict], today: date) -> list[float]:
    """Units a day from the first day with a sale to yesterday, the days without one as 0."""
    units = {(r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"]))): float(r["units"])
             for r in rows}
    if not units:
        return []
    first = min(units)
    return [units.get(first + timedelta(days=n), 0.0) for n in range((today - first).days)]


def exponent(currency: str) -> int:
    try:
        return currency_exponent(currency)
    except MoneyError:
        return 2
