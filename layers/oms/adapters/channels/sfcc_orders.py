"""Salesforce B2C Commerce (SCAPI Orders API) order document mapped to the canonical order.

Pure: the webhook parses the body with `json.loads(body, parse_float=Decimal)`, so money arrives
as Decimal (or int) and never as float; a float is refused. Anything that is not recognisably an
SFCC order raises UnmappablePayload; business problems (no email, no country) are mapped
faithfully and left to validation, which holds the order.

Prices: SFCC gives each item's line price (grossPrice includes tax, netPrice excludes it) and
adjustments as negative prices. orderTotal is what the shopper pays: the sum of item and adjustment
gross prices plus each shipment's shippingTotal. So unless the document says `"taxation": "net"`,
the order is mapped in gross terms (taxes_included). This reconciles both documented examples;
inferring "net" from basePrice*quantity != grossPrice would not (CreateFullOrder has basePrice 99,
grossPrice 103.95 and only adds up in gross terms)."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from oms.domain.money import MoneyError, currency_exponent, to_decimal_string, to_minor
from oms.services.canonical import CanonicalOrder, UnmappablePayload, error_details

_LINE_PRICE = {"gross": "grossPrice", "net": "netPrice"}


def to_canonical(payload: dict, *, received_at: str) -> dict:
    """`received_at` (ISO 8601, UTC) stands in for placed_at when the document has no creationDate."""
    order = _object(payload, "order")
    currency = _currency(order.get("currency"))
    order_no = _text(order.get("orderNo"), "orderNo")
    if not order_no:
        raise _unmappable("orderNo", "missing: not an SFCC order")
    view = "net" if order.get("taxation") == "net" else "gross"
    groups = _delivery_groups(order, currency)
    group_ids = {group["group_id"] for group in groups}
    lines: list[dict] = []
    line_discount = 0
    for n, item in enumerate(_required_list(order.get("productItems"), "productItems")):
        item_lines, discount = _lines(item, n, group_ids, view, currency)
        lines += item_lines
        line_discount += discount
    # Order-level adjustments add to the order's discount and are spread over no line.
    order_discount = _discount(order.get("orderPriceAdjustments"), "orderPriceAdjustments", view, currency)
    canonical = {
        "external_id": order_no,
        "channel_order_number": order_no,
        "placed_at": _text(order.get("creationDate"), "creationDate") or received_at,
        "currency": currency,
        "customer": _customer(order),
        "billing_address": _address(order.get("billingAddress"), "billingAddress"),
        "delivery_groups": groups,
        "lines": lines,
        "tax_total": _amount(_minor(order.get("taxTotal", 0), "taxTotal", currency), currency),
        "discount_total": _amount(line_discount + order_discount, currency),
        "total": _amount(_minor(order.get("orderTotal"), "orderTotal", currency), currency),
        "taxes_included": view == "gross",
        "payment": _payment(order),
        "channel_context": _channel_context(order, order_no),
        # Order-level custom attributes only; item-level c_* are not kept yet.
        "attributes": {key: _json_safe(value) for key, value in order.items()
                       if isinstance(key, str) and key.startswith("c_")},
    }
    return _checked(canonical)


# ---- parts of the order ------------------------------------------------------------------------

def _delivery_groups(order: dict, currency: str) -> list[dict]:
    """One delivery group per shipment. shippingTotal is after shipping discounts (and includes
    tax on gross sites), so it is the shipment's charge as is."""
    shipments = _required_list(order.get("shipments"), "shipments")
    groups = []
    for n, raw in enumerate(shipments):
        where = f"shipments[{n}]"
        shipment = _object(raw, where)
        group_id = _text(shipment.get("shipmentId"), f"{where}.shipmentId")
        if not group_id:
            raise _unmappable(f"{where}.shipmentId", "missing")
        if any(group["group_id"] == group_id for group in groups):
            raise _unmappable(f"{where}.shipmentId", "names the same shipment twice")
        groups.append({
            "group_id": group_id,
            "shipping_address": _address(shipment.get("shippingAddress"), f"{where}.shippingAddress"),
            "shipping_method": _shipping_method(shipment.get("shippingMethod"), f"{where}.shippingMethod"),
            "shipping_total": _amount(_minor(shipment.get("shippingTotal", 0), f"{where}.shippingTotal", currency),
                                      currency),
        })
    return groups


def _shipping_method(value, where: str) -> str:
    if isinstance(value, dict):  # the expanded form: {"id": "EXPRESS", "name": ...}
        value = value.get("id")
    return _text(value, where) or "standard"


def _lines(raw, n: int, group_ids: set[str], view: str, currency: str) -> tuple[list[dict], int]:
    """An item's canonical line(s) and its discount."""
    where = f"productItems[{n}]"
    item = _object(raw, where)
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise _unmappable(f"{where}.quantity", "missing or not a positive integer")
    group = _text(item.get("shipmentId"), f"{where}.shipmentId")
    if group not in group_ids:
        raise _unmappable(f"{where}.shipmentId", "does not name one of the order's shipments")
    price_key = _LINE_PRICE[view] if _LINE_PRICE[view] in item else "price"
    line_total = _minor(item.get(price_key), f"{where}.{price_key}", currency)
    discount = _discount(item.get("priceAdjustments"), f"{where}.priceAdjustments", view, currency)
    line_id = _text(item.get("itemId"), f"{where}.itemId") or f"{group}:{n}"
    parts = _priced_parts(line_total, quantity)
    caps = [part_quantity * unit for part_quantity, unit in parts]
    discounts, taxes = _shares(discount, caps), _shares(_item_tax(item, where, currency), caps)
    lines = []
    for k, (part_quantity, unit) in enumerate(parts):
        lines.append({
            "sku": _text(item.get("productId"), f"{where}.productId"),
            "quantity": part_quantity,
            "unit_price": _amount(unit, currency),
            "name": _text(item.get("productName"), f"{where}.productName")
            or _text(item.get("itemText"), f"{where}.itemText") or None,
            "delivery_group": group,
            # A split item keeps the SFCC id with #1/#2, so each line still traces back to it.
            "channel_line_id": line_id if len(parts) == 1 else f"{line_id}#{k + 1}",
            "discount": _amount(discounts[k], currency),
            "tax": _amount(taxes[k], currency),
        })
    return lines, discount


def _priced_parts(line_total: int, quantity: int) -> list[tuple[int, int]]:
    """(quantity, unit price) pairs adding up exactly to the item's line price. SFCC prices the line;
    per unit it may not be whole cents (10.00 for 3), so the last unit carries the remainder."""
    unit, remainder = divmod(line_total, quantity)
    if remainder == 0:
        return [(quantity, unit)]
    return [(quantity - 1, unit), (1, unit + remainder)]


def _shares(amount: int, caps: list[int]) -> list[int]:
    """An item's discount or tax over its split lines: each takes up to its own price, the last the rest."""
    shares = []
    for cap in caps[:-1]:
        share = max(0, min(amount, cap))
        shares.append(share)
        amount -= share
    return [*shares, amount]


def _discount(raw, where: str, view: str, currency: str) -> int:
    """Adjustments are negative prices (6.00 off is grossPrice -6). Their `amount` is the
    promotion's own figure (5 for "5 off", or a percentage), not money, and is not read. A positive
    adjustment is a surcharge, which the canonical order cannot carry: refused, not netted."""
    total = 0
    for n, entry in enumerate(_list(raw, where)):
        adjustment = _object(entry, f"{where}[{n}]")
        key = _LINE_PRICE[view] if _LINE_PRICE[view] in adjustment else "price"
        price = _minor(adjustment.get(key), f"{where}[{n}].{key}", currency)
        if price > 0:
            raise _unmappable(f"{where}[{n}].{key}", "a surcharge (positive adjustment) is not supported")
        total -= price
    return total


def _item_tax(item: dict, where: str, currency: str) -> int:
    """The item's tax after its own adjustments (informational: validation reads tax_total)."""
    if item.get("adjustedTax") is not None:
        return _minor(item["adjustedTax"], f"{where}.adjustedTax", currency)
    adjustments = _list(item.get("priceAdjustments"), f"{where}.priceAdjustments")
    return _minor(item.get("tax", 0), f"{where}.tax", currency) + sum(
        _minor(_object(a, f"{where}.priceAdjustments[{n}]").get("tax", 0), f"{where}.priceAdjustments[{n}].tax",
               currency) for n, a in enumerate(adjustments))


def _customer(order: dict) -> dict:
    info = _object_or_empty(order.get("customerInfo"), "customerInfo")
    billing = _object_or_empty(order.get("billingAddress"), "billingAddress")
    first = _text(billing.get("firstName"), "billingAddress.firstName")
    last = _text(billing.get("lastName"), "billingAddress.lastName")
    if not (first or last):
        # Only a full name: kept whole in first_name, since names do not split reliably.
        first = _text(info.get("customerName"), "customerInfo.customerName") or _text(order.get("customerName"),
                                                                                      "customerName")
    return {
        # No email in the document stays "": validation holds the order (invalid_customer).
        "email": _text(info.get("email"), "customerInfo.email") or _text(order.get("customerEmail"), "customerEmail"),
        "first_name": first,
        "last_name": last,
        "phone": _text(billing.get("phone"), "billingAddress.phone") or None,
        "customer_id": (_text(info.get("customerId"), "customerInfo.customerId")
                        or _text(info.get("customerNo"), "customerInfo.customerNo") or None),
    }


def _address(raw, where: str) -> dict | None:
    if raw is None:
        return None
    address = _object(raw, where)

    def text(key: str) -> str:
        return _text(address.get(key), f"{where}.{key}")

    extras = []  # address2, then suite and post box, each once
    for part in (text("address2"), text("suite"), text("postBox")):
        if part and part not in extras:
            extras.append(part)
    return {
        "name": text("fullName") or " ".join(filter(None, [text("firstName"), text("lastName")])),
        "line1": text("address1"),
        "line2": ", ".join(extras),
        "city": text("city"),
        "region": text("stateCode"),
        "postal_code": text("postalCode"),
        "country": text("countryCode"),
        "phone": text("phone") or None,
    }


def _payment(order: dict) -> dict:
    """SFCC takes payment at checkout. A paymentTransaction is its record of the authorisation;
    paymentStatus "paid" means captured."""
    instruments = [_object(raw, f"paymentInstruments[{n}]")
                   for n, raw in enumerate(_list(order.get("paymentInstruments"), "paymentInstruments"))]
    with_transaction = next((i for i in instruments if isinstance(i.get("paymentTransaction"), dict)), None)
    instrument = with_transaction or (instruments[0] if instruments else {})
    transaction = instrument.get("paymentTransaction") if with_transaction else {}
    if order.get("paymentStatus") == "paid":
        status = "paid"
    else:
        status = "authorized" if with_transaction else "pending"
    return {"method": "channel", "status": status,
            "gateway": _text(instrument.get("paymentMethodId"), "paymentInstruments.paymentMethodId") or None,
            "reference": _text(transaction.get("transactionId"), "paymentTransaction.transactionId") or None}


def _channel_context(order: dict, order_no: str) -> dict[str, str]:
    context = {"order_no": order_no}
    if isinstance(order.get("channelType"), str) and order["channelType"]:
        context["channel_type"] = order["channelType"]
    return context


# ---- reading the payload -----------------------------------------------------------------------

def _currency(value) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise _unmappable("currency", "missing or not a three-letter currency code")
    try:
        currency_exponent(value)
    except MoneyError:
        raise _unmappable("currency", "not an ISO 4217 currency") from None
    return value.upper()


def _minor(value, where: str, currency: str) -> int:
    """An amount in minor units, from the Decimal or int the parser gave. A float means the body was
    parsed without parse_float=Decimal and may already have lost cents: refused, never rounded."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _unmappable(where, "missing or not a decimal amount (parse JSON numbers as Decimal)")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise _unmappable(where, "not a decimal amount") from None
    if not amount.is_finite() or amount.adjusted() > 15 or amount.as_tuple().exponent < -15:
        raise _unmappable(where, "not a plausible amount")
    try:
        return to_minor(amount, currency)
    except MoneyError:
        raise _unmappable(where, f"more decimals than {currency} allows") from None


def _amount(minor: int, currency: str) -> str:
    return to_decimal_string(minor, currency)


def _text(value, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)  # e.g. an orderNo or postal code sent as a number
    raise _unmappable(where, "not text")


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise _unmappable(where, "missing or not an object")
    return value


def _object_or_empty(value, where: str) -> dict:
    return {} if value is None else _object(value, where)


def _list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _unmappable(where, "not a list")
    return value


def _required_list(value, where: str) -> list:
    if not isinstance(value, list) or not value:
        raise _unmappable(where, "missing or empty")
    return value


def _json_safe(value, depth: int = 0):
    """c_* attributes are stored as JSON: Decimals become strings (as given), never floats."""
    if depth > 20:
        raise _unmappable("c_*", "nested too deeply")
    if isinstance(value, dict):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, Decimal | float):
        return str(value)
    return value


def _checked(canonical: dict) -> dict:
    """The mapped order, guaranteed to parse as a CanonicalOrder; otherwise the payload was unmappable."""
    try:
        CanonicalOrder.model_validate(canonical)
    except ValidationError as error:
        raise UnmappablePayload(error_details(error)) from None
    return canonical


def _unmappable(field: str, problem: str) -> UnmappablePayload:
    return UnmappablePayload([{"field": field, "problem": problem}])
