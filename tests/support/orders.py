"""Canonical order bodies for tests."""
from __future__ import annotations

import copy
import uuid

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "line2": "", "city": "New York", "region": "NY",
           "postal_code": "10001", "country": "US"}


def canonical_order(external_id: str | None = None, lines=None, token: str = "tok_visa", **overrides) -> dict:
    lines = lines or [{"sku": "SKU-1", "quantity": 2, "unit_price": "19.99"}]
    merchandise = sum(int(round(float(line["unit_price"]) * 100)) * line["quantity"] for line in lines)
    total = merchandise + 500 + 320
    body = {
        "external_id": external_id or f"WEB-{uuid.uuid4().hex[:10]}",
        "channel_order_number": "100045",
        "placed_at": "2026-11-26T10:00:00Z",
        "currency": "USD",
        "customer": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                     "phone": "+1 212 555 0100"},
        "billing_address": copy.deepcopy(ADDRESS),
        "shipping_address": copy.deepcopy(ADDRESS),
        "shipping_method": "standard",
        "lines": lines,
        "shipping_total": "5.00", "tax_total": "3.20", "discount_total": "0.00",
        "total": f"{total // 100}.{total % 100:02d}",
        "payment": {"method": "card", "token": token},
    }
    body.update(overrides)
    return body
