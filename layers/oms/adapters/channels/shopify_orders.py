"""Shopify `orders/create` (Admin REST API 2024-10) mapped to the canonical order.

Pure: the webhook verifies and parses the body, this only maps. Amounts are the shop currency's
(`currency`, the `shop_money` side), never the presentment currency's. Anything that is not
recognisably a Shopify order raises UnmappablePayload; business problems (no SKU, no email,
totals that do not add up) are mapped faithfully and left to validation, which holds the order."""
from __future__ import annotations

import math
import re
from decimal import Decimal

from oms.domain.money import to_minor

from . import reading as read

# What the channel holds for the order. "partially_paid" counts as paid: Shopify collected it and
# the OMS does not take the rest. Anything else ("voided", "refunded", "expired", null) is pending:
# the order waits, and financial_status and cancelled_at go to channel_context for a person.
_PAYMENT_STATUS = {"paid": "paid", "partially_paid": "paid", "authorized": "authorized", "pending": "pending"}


def to_canonical(payload: dict, *, shop_domain: str | None) -> dict:
    order = read.obj(payload, "order")
    currency = read.currency(order.get("currency"))
    order_id = _exact_id(order, "Order")
    if order_id is None:
        raise read.unmappable("id", "missing: not a Shopify order")
    lines = [_line(item, f"line_items[{n}]", currency)
             for n, item in enumerate(read.items(order.get("line_items"), "line_items"))]
    shipping, shipping_discount, shipping_method = _shipping(order, currency)
    line_discount = sum(to_minor(line["discount"], currency) for line in lines)
    canonical = {
        "external_id": order_id,
        "channel_order_number": read.text(order.get("name"), "name") or None,
        "placed_at": (read.text(order.get("processed_at"), "processed_at")
                      or read.text(order.get("created_at"), "created_at")),
        "currency": currency,
        "customer": _customer(order),
        "billing_address": _address(order.get("billing_address"), "billing_address"),
        # Only shippable lines need it; a missing one is held by validation, not invented here.
        "shipping_address": _address(order.get("shipping_address"), "shipping_address"),
        "shipping_method": shipping_method,
        "lines": lines,
        "shipping_total": read.amount(shipping, currency),
        "tax_total": read.amount(_tax_total(order, currency), currency),
        "discount_total": read.amount(line_discount + _unallocated_discount(order, line_discount + shipping_discount,
                                                                        currency), currency),
        "total": read.amount(read.minor(order.get("total_price"), "total_price", currency), currency),
        "taxes_included": _flag(order.get("taxes_included"), False, "taxes_included"),
        "payment": _payment(order, order_id),
        "channel_context": _channel_context(order, order_id, shop_domain),
        "attributes": _attributes(order),
    }
    return read.checked(canonical)


def order_id(payload: dict) -> str:
    """The exact order id of any orders/* topic's payload (orders/cancelled, orders/paid...)."""
    found = _exact_id(read.obj(payload, "order"), "Order")
    if found is None:
        raise read.unmappable("id", "missing: not a Shopify order")
    return found


# ---- parts of the order ------------------------------------------------------------------------

def _line(raw, where: str, currency: str) -> dict:
    item = read.obj(raw, where)
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise read.unmappable(f"{where}.quantity", "missing or not a positive integer")
    line_id = _exact_id(item, "LineItem")
    gift_card = _flag(item.get("gift_card"), False, f"{where}.gift_card")
    sku = read.text(item.get("sku"), f"{where}.sku")
    if gift_card and not sku:
        # Gift cards often have no SKU; name them after the line so they are not held as unknown_sku
        # for a product the warehouse never ships. Any other line without a SKU maps to "" and is held.
        sku = f"gift-card-{line_id or 'line'}"
    return {
        # Duplicate SKUs on separate lines stay separate: each keeps its own channel_line_id.
        "sku": sku,
        "quantity": quantity,
        "unit_price": read.amount(read.minor(item.get("price"), f"{where}.price", currency), currency),
        "name": read.text(item.get("name"), f"{where}.name") or read.text(item.get("title"), f"{where}.title") or None,
        "channel_line_id": line_id,
        "discount": read.amount(_line_discount(item, where, currency), currency),
        "tax": read.amount(_taxed(item.get("tax_lines"), f"{where}.tax_lines", currency), currency),
        # Gift cards are delivered by Shopify itself, whatever requires_shipping says.
        "requires_shipping": _flag(item.get("requires_shipping"), True, f"{where}.requires_shipping") and not gift_card,
    }


def _line_discount(item: dict, where: str, currency: str) -> int:
    """discount_allocations is Shopify's current field: every discount (line-level or an order
    discount spread over the lines) allocated to this line. total_discount is deprecated and not
    always set; it is only read when allocations are absent, so nothing is counted twice."""
    if "discount_allocations" in item:
        return _allocated(item.get("discount_allocations"), f"{where}.discount_allocations", currency)
    return read.minor(item.get("total_discount") or "0", f"{where}.total_discount", currency)


def _allocated(raw, where: str, currency: str) -> int:
    return sum(read.minor(read.obj(a, f"{where}[{n}]").get("amount"), f"{where}[{n}].amount", currency)
               for n, a in enumerate(read.items(raw, where)))


def _shipping(order: dict, currency: str) -> tuple[int, int, str | None]:
    """(shipping charged, shipping discounts, the first method's name). Shipping line `price` is
    before discounts; discounts on shipping are allocated to the shipping line."""
    shipping_lines = [read.obj(s, f"shipping_lines[{n}]")
                      for n, s in enumerate(read.items(order.get("shipping_lines"), "shipping_lines"))]
    if not shipping_lines:
        total_set = read.obj_or_empty(order.get("total_shipping_price_set"), "total_shipping_price_set")
        shop_money = read.obj_or_empty(total_set.get("shop_money"), "total_shipping_price_set.shop_money")
        amount = shop_money.get("amount") or "0"
        return read.minor(amount, "total_shipping_price_set.shop_money.amount", currency), 0, None
    price = sum(read.minor(s.get("price"), f"shipping_lines[{n}].price", currency)
                for n, s in enumerate(shipping_lines))
    discount = sum(_allocated(s.get("discount_allocations"), f"shipping_lines[{n}].discount_allocations", currency)
                   for n, s in enumerate(shipping_lines))
    first = shipping_lines[0]
    method = (read.text(first.get("title"), "shipping_lines[0].title")
              or read.text(first.get("code"), "shipping_lines[0].code"))
    return price - discount, discount, method or None


def _unallocated_discount(order: dict, allocated: int, currency: str) -> int:
    """The part of total_discounts that Shopify allocated to no line or shipping line. Normally
    nothing (every discount is allocated); the documented example reports 20.00 with no allocations.
    Whether total_discounts counts shipping discounts is not clearly documented: subtracting them and
    never going below zero is right either way when everything is allocated."""
    reported = read.minor(order.get("total_discounts") or "0", "total_discounts", currency)
    return max(0, reported - allocated)


def _tax_total(order: dict, currency: str) -> int:
    if order.get("total_tax") is not None:
        return read.minor(order.get("total_tax"), "total_tax", currency)
    # Older payloads without total_tax: the order's tax lines (lines and shipping included).
    return _taxed(order.get("tax_lines"), "tax_lines", currency)


def _taxed(raw, where: str, currency: str) -> int:
    return sum(read.minor(read.obj(t, f"{where}[{n}]").get("price"), f"{where}[{n}].price", currency)
               for n, t in enumerate(read.items(raw, where)))


def _customer(order: dict) -> dict:
    customer = read.obj_or_empty(order.get("customer"), "customer")
    billing = read.obj_or_empty(order.get("billing_address"), "billing_address")
    # The names as a pair: mixing the customer's first name with the billing last name could join
    # two different people.
    names = customer if (customer.get("first_name") or customer.get("last_name")) else billing
    where = "customer" if names is customer else "billing_address"
    return {
        "email": (read.text(order.get("email"), "email") or read.text(order.get("contact_email"), "contact_email")
                  or read.text(customer.get("email"), "customer.email")),
        "first_name": read.text(names.get("first_name"), f"{where}.first_name"),
        "last_name": read.text(names.get("last_name"), f"{where}.last_name"),
        "phone": read.text(order.get("phone"), "phone") or read.text(customer.get("phone"), "customer.phone") or None,
        "customer_id": _exact_id(customer, "Customer"),
    }


def _address(raw, where: str) -> dict | None:
    if raw is None:
        return None
    address = read.obj(raw, where)
    first, last = (read.text(address.get(k), f"{where}.{k}") for k in ("first_name", "last_name"))
    mapped = {
        "name": read.text(address.get("name"), f"{where}.name") or " ".join(filter(None, [first, last])),
        "line1": read.text(address.get("address1"), f"{where}.address1"),
        "line2": read.text(address.get("address2"), f"{where}.address2"),
        "city": read.text(address.get("city"), f"{where}.city"),
        "region": read.text(address.get("province_code"), f"{where}.province_code")
        or read.text(address.get("province"), f"{where}.province"),
        "postal_code": read.text(address.get("zip"), f"{where}.zip"),
        "country": read.text(address.get("country_code"), f"{where}.country_code"),
        "phone": read.text(address.get("phone"), f"{where}.phone") or None,
    }
    for key in ("latitude", "longitude"):
        if (coordinate := _coordinate(address.get(key))) is not None:
            mapped[key] = coordinate
    return mapped


def _payment(order: dict, order_id: str) -> dict:
    status = order.get("financial_status")
    gateways = order.get("payment_gateway_names")
    gateway = gateways[0] if isinstance(gateways, list) and gateways and isinstance(gateways[0], str) else None
    return {"method": "channel",
            "status": _PAYMENT_STATUS.get(status, "pending") if isinstance(status, str) else "pending",
            "gateway": gateway, "reference": order_id}


def _channel_context(order: dict, order_id: str, shop_domain: str | None) -> dict[str, str]:
    """Where to tell Shopify about the order, and what a person needs to judge it: an orders/create
    can arrive already cancelled (the documented example is voided, cancelled_at set)."""
    context = {"shop_domain": shop_domain, "order_id": order_id}
    for key in ("admin_graphql_api_id", "financial_status", "cancelled_at", "cancel_reason"):
        context[key] = order.get(key)
    return {key: value for key, value in context.items() if isinstance(value, str) and value}


def _attributes(order: dict) -> dict:
    attributes = {}
    for entry in read.items(order.get("note_attributes"), "note_attributes"):
        # Informational only: a malformed note attribute is skipped, not a reason to refuse the order.
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            attributes[entry["name"]] = read.json_safe(entry.get("value"), "note_attributes")
    for key in ("tags", "note"):
        if isinstance(order.get(key), str) and order[key]:
            attributes[key] = order[key]
    return attributes


# ---- reading the payload -----------------------------------------------------------------------

_GID = re.compile(r"gid://shopify/(\w+)/(\d{1,20})")


def _exact_id(obj: dict, kind: str) -> str | None:
    """Shopify ids are 64-bit integers, and one pass through a JavaScript number rounds them (the
    documented example's id reads 820982911946154500 for ...508). The GraphQL id is a string, so
    its numeric tail is exact: prefer it, fall back to `id`."""
    gid = obj.get("admin_graphql_api_id")
    if isinstance(gid, str) and (match := _GID.fullmatch(gid)) and match.group(1) == kind:
        return match.group(2)
    raw = obj.get("id")
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return str(raw)
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 20:
        return raw
    return None










def _flag(value, default: bool, where: str) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise read.unmappable(where, "not true or false")
    return value


def _coordinate(value) -> float | None:
    """Latitude/longitude are coordinates, not money: a float is their canonical type."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None











