"""Builders shared by the unit tests: canonical order payloads, orders built through
`build_order`, and helpers that walk an order through the pipeline steps.

Import as `from tests.unit.builders import ...` (tests/ has no __init__.py; `tests` and
`tests.unit` resolve as namespace packages from the rootdir on pytest's pythonpath)."""
from __future__ import annotations

import copy
from collections.abc import Iterable
from decimal import Decimal

from oms.domain.events import DomainEvent
from oms.domain.money import currency_exponent
from oms.domain.order import Allocation, Order
from oms.services.canonical import CanonicalOrder, build_order

US_ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "line2": "", "city": "New York",
              "region": "NY", "postal_code": "10001", "country": "US"}
GB_ADDRESS = {"name": "Alan Turing", "line1": "10 Downing Street", "line2": "", "city": "London",
              "region": "", "postal_code": "SW1A 2AA", "country": "GB"}
JP_ADDRESS = {"name": "Yamada Taro", "line1": "1-1 Chiyoda", "line2": "", "city": "Chiyoda-ku",
              "region": "Tokyo", "postal_code": "100-0001", "country": "JP"}

NOW = "2024-05-01T12:00:00Z"


def _dec(amount: str | int | Decimal) -> Decimal:
    return Decimal(str(amount))


def _fmt(value: Decimal, currency: str) -> str:
    exponent = currency_exponent(currency)
    return f"{value:.{exponent}f}"


def canonical_payload(lines: Iterable[tuple] | None = None, *, currency: str = "USD", shipping: str = "5.00",
                      tax: str = "2.00", discount: str = "0", total: str | None = None,
                      address: dict | None = None, billing_address: dict | None = None,
                      customer: dict | None = None, payment: dict | None = None,
                      delivery_groups: list[dict] | None = None, external_id: str = "EXT-1") -> dict:
    """A valid canonical order body (the generic webhook's JSON) as a plain dict.

    `lines` are (sku, quantity, unit_price) or (sku, quantity, unit_price, delivery_group).
    With `delivery_groups` the top-level shipping_address/shipping_total are left out and the
    total includes every group's shipping_total. The total is computed unless given."""
    if lines is None:
        lines = [("SKU-A", 2, "10.00"), ("SKU-B", 1, "25.50")]
    address = US_ADDRESS if address is None else address
    line_dicts = []
    for item in lines:
        sku, quantity, price, *group = item
        line = {"sku": sku, "quantity": quantity, "unit_price": price, "name": f"Item {sku}"}
        if group:
            line["delivery_group"] = group[0]
        line_dicts.append(line)
    merchandise = sum((_dec(p) * q for _, q, p, *_ in lines), Decimal(0))
    payload: dict = {
        "external_id": external_id,
        "channel_order_number": f"#{external_id}",
        "placed_at": "2024-05-01T10:00:00Z",
        "currency": currency,
        "customer": customer if customer is not None else {
            "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "phone": "+12015550123"},
        "billing_address": copy.deepcopy(billing_address if billing_address is not None else address),
        "lines": line_dicts,
        "tax_total": tax,
        "discount_total": discount,
        "payment": payment if payment is not None else {"method": "card", "token": "tok_visa"},
    }
    if delivery_groups is not None:
        payload["delivery_groups"] = copy.deepcopy(delivery_groups)
        shipping_sum = sum((_dec(g.get("shipping_total", "0")) for g in delivery_groups), Decimal(0))
    else:
        payload["shipping_address"] = copy.deepcopy(address)
        payload["shipping_method"] = "standard"
        payload["shipping_total"] = shipping
        shipping_sum = _dec(shipping)
    if total is None:
        total = _fmt(merchandise + shipping_sum + _dec(tax) - _dec(discount), currency)
    payload["total"] = total
    return payload


def order_from_payload(payload: dict, order_id: str = "O-1") -> Order:
    canonical = CanonicalOrder.model_validate(payload)
    return build_order(canonical, order_id=order_id, order_number=order_id.replace("O-", "N-"),
                       channel="web", received_at=NOW)


def make_order(lines: Iterable[tuple] | None = None, *, order_id: str = "O-1", **kwargs) -> Order:
    """An Order built the way intake builds it: canonical JSON -> CanonicalOrder -> build_order."""
    return order_from_payload(canonical_payload(lines, **kwargs), order_id=order_id)


# ---- walking an order through the pipeline -------------------------------------------------------

def event_types(events: list[DomainEvent]) -> list[str]:
    return [event.event_type for event in events]


def full_allocation(order: Order, location_id: str = "W1") -> list[Allocation]:
    return [Allocation(line.line_id, line.sku, location_id, line.unallocated)
            for line in order.lines if line.unallocated]


def validated(order: Order) -> Order:
    order.record_validation([])
    return order


def allocated(order: Order, location_id: str = "W1") -> Order:
    validated(order)
    order.record_allocation(full_allocation(order, location_id))
    return order


def authorize(order: Order, authorization_id: str = "auth_1") -> list[DomainEvent]:
    return order.record_authorization(approved=True, authorization_id=authorization_id, decline_code=None,
                                      idempotency_key=f"{order.order_id}:authorize", now=NOW)


def paid(order: Order, location_id: str = "W1") -> Order:
    """Validated, fully allocated at one location and authorised (or prepaid)."""
    allocated(order, location_id)
    if order.payment.method == "prepaid":
        order.record_prepaid(NOW)
    else:
        authorize(order)
    return order


def ready_to_ship(order: Order, location_id: str = "W1") -> Order:
    """Validated, allocated, paid, with fulfilment orders created."""
    paid(order, location_id)
    order.create_fulfillment_orders()
    return order


def ship_all(order: Order, fulfillment_order_id: str, tracking_number: str, lines: list[dict] | None = None):
    return order.ship(fulfillment_order_id, carrier="ups", tracking_number=tracking_number, service="ground",
                      lines=lines, now=NOW)


def checkpoint(status: str, occurred_at: str, description: str = "", location: str = "") -> dict:
    return {"status": status, "occurred_at": occurred_at, "description": description or status,
            "location": location, "carrier_status": None}


def tracking(status: str, occurred_at: str, description: str = "", location: str = "",
             estimated_delivery: str | None = None) -> dict:
    """A carrier update with one checkpoint, in the shape CarrierTracking.as_update gives."""
    return {"checkpoints": [checkpoint(status, occurred_at, description, location)],
            "estimated_delivery": estimated_delivery}


def capture_everything_due(order: Order, shipment_id: str) -> int:
    """What the capture service does after a shipment: capture what is due, once."""
    amount = order.capture_due()
    if amount > 0:
        order.record_capture(amount=amount, capture_id=f"cap_{shipment_id}",
                             idempotency_key=f"{order.order_id}:capture:{shipment_id}",
                             shipment_id=shipment_id, now=NOW)
    return amount


def assert_buckets_consistent(order: Order) -> None:
    for line in order.lines:
        assert 0 <= line.delivered <= line.shipped <= line.allocated <= line.ordered - line.cancelled, line


def units(line_id: str, **counts: int) -> list[dict]:
    """A receipt's entries for one order line: units per condition (zeros left out)."""
    return [{"line_id": line_id, "condition": c, "quantity": q} for c, q in counts.items() if q]
