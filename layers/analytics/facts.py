"""The analytics store's facts: one table per kind of thing that happens, one row per event (and
per line where an event has lines), and the mapping from the bus's events to those rows. Pure:
no AWS, no DuckDB.

Every table is partitioned by `dt`, the UTC day its rows were written (never earlier than the
day they happened), and carries the `event_id` that wrote it, so that a redelivered event is
counted once (queries keep one row per event id, or per order for `orders`). Money is in minor
units of the row's currency; times are UTC."""
from __future__ import annotations

from datetime import UTC, datetime

# Column names and DuckDB types; the template's Glue tables declare the same (a package test checks).
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "orders": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("customer_id", "VARCHAR"),
               ("channel", "VARCHAR"), ("currency", "VARCHAR"), ("total", "BIGINT"), ("units", "INTEGER"),
               ("placed_at", "TIMESTAMP"), ("deliver_by", "TIMESTAMP"), ("source", "VARCHAR")),
    "order_lines": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("line_id", "VARCHAR"), ("sku", "VARCHAR"),
                    ("quantity", "INTEGER"), ("unit_price", "BIGINT"), ("currency", "VARCHAR"),
                    ("placed_at", "TIMESTAMP")),
    "order_events": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("event_type", "VARCHAR"),
                     ("hold_type", "VARCHAR"), ("units", "INTEGER"), ("occurred_at", "TIMESTAMP")),
    "payments": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("event_type", "VARCHAR"), ("amount", "BIGINT"),
                 ("currency", "VARCHAR"), ("occurred_at", "TIMESTAMP")),
    "shipments": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("event_type", "VARCHAR"),
                  ("fulfillment_order_id", "VARCHAR"), ("shipment_id", "VARCHAR"), ("location_id", "VARCHAR"),
                  ("units", "INTEGER"), ("occurred_at", "TIMESTAMP")),
    "fulfilment_lines": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("fulfillment_order_id", "VARCHAR"),
                         ("location_id", "VARCHAR"), ("line_id", "VARCHAR"), ("sku", "VARCHAR"),
                         ("quantity", "INTEGER"), ("occurred_at", "TIMESTAMP")),
    "returns": (("event_id", "VARCHAR"), ("order_id", "VARCHAR"), ("return_id", "VARCHAR"), ("event_type", "VARCHAR"),
                ("units", "INTEGER"), ("occurred_at", "TIMESTAMP")),
    "cases": (("event_id", "VARCHAR"), ("case_id", "VARCHAR"), ("order_id", "VARCHAR"), ("event_type", "VARCHAR"),
              ("case_type", "VARCHAR"), ("priority", "VARCHAR"), ("queue", "VARCHAR"), ("breach", "BOOLEAN"),
              ("occurred_at", "TIMESTAMP")),
}

ORDER_EVENTS = ("OrderCancelled", "OrderLinesCancelled", "OrderHeld", "HoldReleased", "OrderDelivered")
PAYMENT_EVENTS = ("PaymentAuthorized", "PaymentDeclined", "PaymentFailed", "PaymentCaptured", "PaymentVoided",
                  "PaymentRecorded", "RefundSucceeded", "RefundFailed", "ChargebackDebited", "ChargebackReversed",
                  "DisputeOpened", "DisputeClosed")
SHIPMENT_EVENTS = ("FulfillmentOrderCreated", "ShipmentCreated", "ShipmentDelivered", "ShipmentException")
RETURN_EVENTS = ("ReturnRequested", "ReturnApproved", "ReturnDeclined", "ReturnInTransit", "ReturnReceived",
                 "ReturnClosed", "ReturnCancelled")
CASE_EVENTS = ("CaseOpened", "CaseAssigned", "CaseEscalated", "CaseStatusChanged")
# What the analytics queue subscribes to (the template's rule lists the same; a package test checks).
EVENT_TYPES = ("OrderReceived", *ORDER_EVENTS, *PAYMENT_EVENTS, *SHIPMENT_EVENTS, *RETURN_EVENTS, *CASE_EVENTS)

Rows = dict[str, list[dict]]


def timestamp(value: str | None) -> str | None:
    """ISO 8601 with any offset -> naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff' (Parquet TIMESTAMP)."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


def rows_for_event(detail: dict, deliver_by=None) -> Rows:
    """The rows one bus event adds. `deliver_by(placed_at, shipping_methods)` gives the delivery
    promise of a new order (the OMS's setting), or None."""
    kind, data, event_id = detail["event_type"], detail.get("data") or {}, detail["event_id"]
    at = timestamp(detail.get("occurred_at"))
    order_id = data.get("order_id") or detail.get("aggregate_id")
    if kind == "OrderReceived":
        return _order_received(event_id, order_id, data, deliver_by)
    if kind in ORDER_EVENTS:
        units = sum(line["quantity"] for line in data.get("lines", [])) if kind == "OrderLinesCancelled" else None
        when = timestamp(data.get("delivered_at")) if kind == "OrderDelivered" else at
        return {"order_events": [{"event_id": event_id, "order_id": order_id, "event_type": kind,
                                  "hold_type": data.get("hold_type"), "units": units, "occurred_at": when or at}]}
    if kind in PAYMENT_EVENTS:
        return {"payments": [{"event_id": event_id, "order_id": order_id, "event_type": kind,
                              "amount": data.get("amount"), "currency": data.get("currency"), "occurred_at": at}]}
    if kind in SHIPMENT_EVENTS:
        return _shipment(event_id, order_id, kind, data, at)
    if kind in RETURN_EVENTS:
        return {"returns": [{"event_id": event_id, "order_id": order_id, "return_id": data.get("return_id"),
                             "event_type": kind, "units": _returned_units(kind, data), "occurred_at": at}]}
    if kind in CASE_EVENTS:
        return {"cases": [{"event_id": event_id, "case_id": data.get("case_id") or detail.get("aggregate_id"),
                           "order_id": data.get("order_id"), "event_type": kind, "case_type": data.get("type"),
                           "priority": data.get("priority"), "queue": data.get("queue"),
                           "breach": data.get("breach"), "occurred_at": at}]}
    return {}


def _order_received(event_id: str, order_id: str, data: dict, deliver_by) -> Rows:
    placed_at = timestamp(data["placed_at"])
    lines = data.get("lines") or []
    promise = deliver_by(data["placed_at"], data.get("shipping_methods") or []) if deliver_by else None
    return {
        "orders": [{"event_id": event_id, "order_id": order_id, "customer_id": data.get("customer_id"),
                    "channel": data["channel"], "currency": data["currency"], "total": data["total"],
                    "units": sum(line["quantity"] for line in lines), "placed_at": placed_at,
                    "deliver_by": timestamp(promise), "source": "oms"}],
        "order_lines": [{"event_id": event_id, "order_id": order_id, "line_id": line["line_id"], "sku": line["sku"],
                         "quantity": line["quantity"], "unit_price": line["unit_price"], "currency": data["currency"],
                         "placed_at": placed_at} for line in lines],
    }


def _shipment(event_id: str, order_id: str, kind: str, data: dict, at: str | None) -> Rows:
    fulfillment_order_id = data.get("fulfillment_order_id")
    if order_id is None and fulfillment_order_id:
        order_id = fulfillment_order_id.rsplit("-F", 1)[0]
    lines = data.get("lines") or []
    when = timestamp(data.get("delivered_at")) if kind == "ShipmentDelivered" else at
    rows: Rows = {"shipments": [{"event_id": event_id, "order_id": order_id, "event_type": kind,
                                 "fulfillment_order_id": fulfillment_order_id, "shipment_id": data.get("shipment_id"),
                                 "location_id": data.get("location_id"),
                                 "units": sum(line.get("quantity", 0) for line in lines) if lines else None,
                                 "occurred_at": when or at}]}
    if kind == "FulfillmentOrderCreated":
        rows["fulfilment_lines"] = [{"event_id": event_id, "order_id": order_id,
                                     "fulfillment_order_id": fulfillment_order_id,
                                     "location_id": data["location_id"], "line_id": line["line_id"],
                                     "sku": line["sku"],
                                     "quantity": line["quantity"], "occurred_at": at} for line in lines]
    return rows


def _returned_units(kind: str, data: dict) -> int | None:
    """Units a received return brought back or let the customer keep; a missing unit is not returned."""
    if kind != "ReturnReceived":
        return None
    return sum(int(line.get("sellable") or 0) + int(line.get("damaged") or 0) + int(line.get("kept") or 0)
               for line in data.get("lines", []))


def history_rows(order: dict) -> Rows:
    """An order from the merchant's past (POST /analytics/history), already validated."""
    return {"orders": [{"event_id": f"history:{order['order_id']}", "order_id": order["order_id"],
                        "customer_id": order["customer_id"], "channel": order["channel"],
                        "currency": order["currency"], "total": order["total"], "units": None,
                        "placed_at": timestamp(order["placed_at"]), "deliver_by": None, "source": "history"}]}


def merge(into: Rows, more: Rows) -> Rows:
    for table, rows in more.items():
        into.setdefault(table, []).extend(rows)
    return into
