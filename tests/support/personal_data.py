"""The customers' personal data in what a test sends (e-mail addresses, names, phone numbers,
street lines, payment tokens), to search logs and events for afterwards. Written from the
vendors' own field names, independently of the mask under test (oms.observability.logs)."""
from __future__ import annotations

import json

FIELDS = {"email", "contact_email", "first_name", "last_name", "firstName", "lastName", "phone", "address1",
          "address2", "line1", "line2", "street1", "street2", "token", "customer_name"}
PEOPLE_AND_PLACES = {"customer", "billing_address", "shipping_address", "address", "billingAddress",
                     "shippingAddress", "to_address", "customerInfo"}
SHORTEST = 5  # shorter strings ("Ada", "Apt 4") turn up inside ids and words by chance


def personal_values(payload, key: str = "", inside: bool = False) -> set[str]:
    if isinstance(payload, bytes | str) and key == "":
        try:
            payload = json.loads(payload)
        except ValueError:
            return set()
    if isinstance(payload, dict):
        found: set[str] = set()
        for name, value in payload.items():
            found |= personal_values(value, str(name), inside or name in PEOPLE_AND_PLACES)
        return found
    if isinstance(payload, list):
        return set().union(*(personal_values(value, key, inside) for value in payload)) if payload else set()
    if isinstance(payload, str) and (key in FIELDS or (inside and key == "name")):
        return {payload} if len(payload) >= SHORTEST or "@" in payload else set()
    return set()


def leaks(text: str, personal: set[str]) -> list[str]:
    return sorted(value for value in personal if value in text)
