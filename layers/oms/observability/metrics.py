"""Business and health counters as CloudWatch embedded-metric-format lines (Powertools Metrics):
namespace `OMS`, dimension `stage`, and for some a second dimension set that breaks the total
down (by channel, hold type, carrier, webhook). The template's alarms and dashboard and the
README's operations section are built from CATALOGUE; a test keeps them in step."""
from __future__ import annotations

import os
from dataclasses import dataclass

NAMESPACE = "OMS"


@dataclass(frozen=True)
class Metric:
    name: str
    meaning: str
    by: str | None = None  # the second dimension, if the total is also broken down


CATALOGUE: tuple[Metric, ...] = (
    Metric("OrdersReceived", "new orders accepted from a channel (a redelivered webhook is not counted)", "channel"),
    Metric("OrdersHeld", "holds put on orders (validation, payment, backorder, ...)", "hold_type"),
    Metric("Allocations", "allocations committed: an order's units reserved at locations"),
    Metric("Backorders", "orders that went to wait for stock"),
    Metric("OversellConflictsRetried", "reservations that lost a race for the last units and were tried again"),
    Metric("PaymentAuthorizations", "payment authorisations that succeeded"),
    Metric("PaymentDeclines", "payment authorisations the processor declined"),
    Metric("PaymentCaptures", "captures on shipment"),
    Metric("Refunds", "refunds the processor confirmed"),
    Metric("Disputes", "chargebacks and disputes opened"),
    Metric("Shipments", "parcels handed to a carrier"),
    Metric("Deliveries", "parcels the carrier delivered"),
    Metric("Returns", "returns requested"),
    Metric("ChannelCallFailures", "calls to a sales channel's API that failed or were refused", "channel"),
    Metric("CarrierCallFailures", "calls to a carrier's API that failed or were refused", "carrier"),
    Metric("WebhookSignatureFailures", "webhooks refused with 401 for a missing or wrong signature", "webhook"),
)
BY_NAME = {metric.name: metric for metric in CATALOGUE}

# Committed domain events that are counted, and the dimension value each takes from its data.
EVENT_METRICS: dict[str, tuple[str, str | None]] = {
    "OrderReceived": ("OrdersReceived", "channel"),
    "OrderHeld": ("OrdersHeld", "hold_type"),
    "OrderAllocated": ("Allocations", None),
    "PaymentAuthorized": ("PaymentAuthorizations", None),
    "PaymentDeclined": ("PaymentDeclines", None),
    "PaymentCaptured": ("PaymentCaptures", None),
    "RefundSucceeded": ("Refunds", None),
    "DisputeOpened": ("Disputes", None),
    "ShipmentCreated": ("Shipments", None),
    "ShipmentDelivered": ("Deliveries", None),
    "ReturnRequested": ("Returns", None),
}


def count(name: str, value: int = 1, dimension: str | None = None) -> None:
    """One EMF line: the total under `stage`, and under (`stage`, the metric's `by`) when given.
    A metric set of its own, flushed at once: the local stack's threads never share one."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    metric = BY_NAME[name]
    emf = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, metric_set={}, dimension_set={}, metadata_set={})
    emf.set_default_dimensions(stage=os.environ.get("OMS_STAGE", "local"))
    if metric.by and dimension:
        emf.add_dimensions(**{metric.by: str(dimension)})
    emf.add_metric(name=name, unit=MetricUnit.Count, value=value)
    emf.flush_metrics()


def count_event(event_type: str, data: dict) -> None:
    """Count a committed domain event, if it is one the catalogue counts."""
    if event_type not in EVENT_METRICS:
        return
    name, field = EVENT_METRICS[event_type]
    count(name, dimension=data.get(field) if field else None)
    if event_type == "OrderHeld" and data.get("hold_type") == "backorder":
        count("Backorders")
