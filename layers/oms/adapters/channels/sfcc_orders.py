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

from . import reading as read

_LINE_PRICE = {"gross": "grossPrice", "net": "netPrice"}


def to_canonical(payload: dict, *, received_at: str) -> dict:
    """`received_at` (ISO 8601, UTC) stands in for placed_at when the document has no creationDate."""
    order = read.obj(payload, "order")
    currency = read.currency(order.get("currency"))
    order_no = read.text(order.get("orderNo"), "orderNo")
    if not order_no:
        raise read.unmappable("orderNo", "missing: not an SFCC order")
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
        "placed_at": read.text(order.get("creationDate"), "creationDate") or received_at,
        "currency": currency,
        "customer": _customer(order),
        "billing_address": _address(order.get("billingAddress"), "billingAddress"),
        "delivery_groups": groups,
        "lines": lines,
        "tax_total": read.amount(read.minor(order.get("taxTotal", 0), "taxTotal", currency), currency),
        "discount_total": read.amount(line_discount + order_discount, currency),
        "total": read.amount(read.minor(order.get("orderTotal"), "orderTotal", currency), currency),
        "taxes_included": view == "gross",
        "payment": _payment(order),
        "channel_context": _channel_context(order, order_no),
        # Order-level custom attributes only; item-level c_* are not kept yet.
        "attributes": {key: read.json_safe(value, "c_*") for key, value in order.items()
                       if isinstance(key, str) and key.startswith("c_")},
    }
    return read.checked(canonical)


# ---- parts of the order ------------------------------------------------------------------------

def _delivery_groups(order: dict, currency: str) -> list[dict]:
    """One delivery group per shipment. shippingTotal is after shipping discounts (and includes
    tax on gross sites), so it is the shipment's charge as is."""
    shipments = _required_list(order.get("shipments"), "shipments")
    groups = []
    for n, raw in enumerate(shipments):
        where = f"shipments[{n}]"
        shipment = read.obj(raw, where)
        group_id = read.text(shipment.get("shipmentId"), f"{where}.shipmentId")
        if not group_id:
            raise read.unmappable(f"{where}.shipmentId", "missing")
        if any(group["group_id"] == group_id for group in groups):
            raise read.unmappable(f"{where}.shipmentId", "names the same shipment twice")
        groups.append({
            "group_id": group_id,
            "shipping_address": _address(shipment.get("shippingAddress"), f"{where}.shippingAddress"),
            "shipping_method": _shipping_method(shipment.get("shippingMethod"), f"{where}.shippingMethod"),
            "shipping_total": read.amount(
                read.minor(shipment.get("shippingTotal", 0), f"{where}.shippingTotal", currency), currency),
        })
    return groups


def _shipping_method(value, where: str) -> str:
    if isinstance(value, dict):  # the expanded form: {"id": "EXPRESS", "name": ...}
        value = value.get("id")
    return read.text(value, where) or "standard"


def _lines(raw, n: int, group_ids: set[str], view: str, currency: str) -> tuple[list[dict], int]:
    """An item's canonical line(s) and its discount."""
    where = f"productItems[{n}]"
    item = read.obj(raw, where)
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise read.unmappable(f"{where}.quantity", "missing or not a positive integer")
    group = read.text(item.get("shipmentId"), f"{where}.shipmentId")
    if group not in group_ids:
        raise read.unmappable(f"{where}.shipmentId", "does not name one of the order's shipments")
    price_key = _LINE_PRICE[view] if _LINE_PRICE[view] in item else "price"
    line_total = read.minor(item.get(price_key), f"{where}.{price_key}", currency)
    discount = _discount(item.get("priceAdjustments"), f"{where}.priceAdjustments", view, currency)
    line_id = read.text(item.get("itemId"), f"{where}.itemId") or f"{group}:{n}"
    parts = _priced_parts(line_total, quantity)
    caps = [part_quantity * unit for part_quantity, unit in parts]
    discounts, taxes = _shares(discount, caps), _shares(_item_tax(item, where, currency), caps)
    lines = []
    for k, (part_quantity, unit) in enumerate(parts):
        lines.append({
            "sku": read.text(item.get("productId"), f"{where}.productId"),
            "quantity": part_quantity,
            "unit_price": read.amount(unit, currency),
            "name": read.text(item.get("productName"), f"{where}.productName")
            or read.text(item.get("itemText"), f"{where}.itemText") or None,
            "delivery_group": group,
            # A split item keeps the SFCC id with #1/#2, so each line still traces back to it.
            "channel_line_id": line_id if len(parts) == 1 else f"{line_id}#{k + 1}",
            "discount": read.amount(discounts[k], currency),
            "tax": read.amount(taxes[k], currency),
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
    for n, entry in enumerate(read.items(raw, where)):
        adjustment = read.obj(entry, f"{where}[{n}]")
        key = _LINE_PRICE[view] if _LINE_PRICE[view] in adjustment else "price"
        price = read.minor(adjustment.get(key), f"{where}[{n}].{key}", currency)
        if price > 0:
            raise read.unmappable(f"{where}[{n}].{key}", "a surcharge (positive adjustment) is not supported")
        total -= price
    return total


def _item_tax(item: dict, where: str, currency: str) -> int:
    """The item's tax after its own adjustments (informational: validation reads tax_total)."""
    if item.get("adjustedTax") is not None:
        return read.minor(item["adjustedTax"], f"{where}.adjustedTax", currency)
    adjustments = read.items(item.get("priceAdjustments"), f"{where}.priceAdjustments")
    return read.minor(item.get("tax", 0), f"{where}.tax", currency) + sum(
        read.minor(read.obj(a, f"{where}.priceAdjustments[{n}]").get("tax", 0), f"{where}.priceAdjustments[{n}].tax",
               currency) for n, a in enumerate(adjustments))


def _customer(order: dict) -> dict:
    info = read.obj_or_empty(order.get("customerInfo"), "customerInfo")
    billing = read.obj_or_empty(order.get("billingAddress"), "billingAddress")
    first = read.text(billing.get("firstName"), "billingAddress.firstName")
    last = read.text(billing.get("lastName"), "billingAddress.lastName")
    if not (first or last):
        # Only a full name: kept whole in first_name, since names do not split reliably.
        first = read.text(info.get("customerName"), "customerInfo.customerName") or read.text(order.get("customerName"),
                                                                                      "customerName")
    return {
        # No email in the document stays "": validation holds the order (invalid_customer).
        "email": (read.text(info.get("email"), "customerInfo.email")
                  or read.text(order.get("customerEmail"), "customerEmail")),
        "first_name": first,
        "last_name": last,
        "phone": read.text(billing.get("phone"), "billingAddress.phone") or None,
        "customer_id": (read.text(info.get("customerId"), "customerInfo.customerId")
                        or read.text(info.get("customerNo"), "customerInfo.customerNo") or None),
    }


def _address(raw, where: str) -> dict | None:
    if raw is None:
        return None
    address = read.obj(raw, where)

    def text(key: str) -> str:
        return read.text(address.get(key), f"{where}.{key}")

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
    instruments = [read.obj(raw, f"paymentInstruments[{n}]")
                   for n, raw in enumerate(read.items(order.get("paymentInstruments"), "paymentInstruments"))]
    with_transaction = next((i for i in instruments if isinstance(i.get("paymentTransaction"), dict)), None)
    instrument = with_transaction or (instruments[0] if instruments else {})
    transaction = instrument.get("paymentTransaction") if with_transaction else {}
    if order.get("paymentStatus") == "paid":
        status = "paid"
    else:
        status = "authorized" if with_transaction else "pending"
    return {"method": "channel", "status": status,
            "gateway": read.text(instrument.get("paymentMethodId"), "paymentInstruments.paymentMethodId") or None,
            "reference": read.text(transaction.get("transactionId"), "paymentTransaction.transactionId") or None}


def _channel_context(order: dict, order_no: str) -> dict[str, str]:
    context = {"order_no": order_no}
    if isinstance(order.get("channelType"), str) and order["channelType"]:
        context["channel_type"] = order["channelType"]
    return context


# ---- reading the payload -----------------------------------------------------------------------















def _required_list(value, where: str) -> list:
    if not isinstance(value, list) or not value:
        raise read.unmappable(where, "missing or empty")
    return value





