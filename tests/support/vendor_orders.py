"""Vendor order payloads for tests, built from the real fixtures with the fewest changes."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

from tests.support.fixtures import fixture, fixture_bytes

SHOPIFY = fixture("shopify/orders-create-2024-10.json")
SHOPIFY_ORDER_ID = 820982911946154508  # exact, from admin_graphql_api_id (the `id` went through a float)
SHOPIFY_SKUS = ("SKU2006-001", "SKU2006-020", "SKU2006-035")
SHOPIFY_LINE_IDS = (487817672276298554, 976318377106520349, 315789986012684393)
SFCC_FULL = json.loads(fixture_bytes("sfcc/order-create-full.json"), parse_float=Decimal)


def shopify_paid_order(order_id: int | None = None, **changes) -> dict:
    """The fixture as a live order: not cancelled, paid (optionally under another order id)."""
    order = copy.deepcopy(SHOPIFY)
    order.update({"cancelled_at": None, "cancel_reason": None, "financial_status": "paid", **changes})
    if order_id is not None:
        order["id"], order["admin_graphql_api_id"] = order_id, f"gid://shopify/Order/{order_id}"
    return order


def sfcc_two_shipments(order_no: str = "00000077") -> dict:
    """The full fixture with an e-mail and a second shipment (SKU-2) to another address."""
    order = copy.deepcopy(SFCC_FULL)
    order["orderNo"] = order_no
    order["customerInfo"] = {"email": "john.doe@example.com", "customerNo": "C-1001"}
    gift = copy.deepcopy(order["shipments"][0])
    gift.update({"shipmentId": "00000002", "shippingTotal": Decimal("5.00"), "taxTotal": Decimal("0")})
    gift["shippingAddress"].update({"address1": "1 Elm St", "city": "Portland", "stateCode": "ME",
                                    "postalCode": "04101", "fullName": "Jane Doe"})
    order["shipments"].append(gift)
    second = copy.deepcopy(order["productItems"][0])
    second.update({"productId": "SKU-2", "shipmentId": "00000002", "basePrice": Decimal("20.00"),
                   "grossPrice": Decimal("20.00"), "netPrice": Decimal("20.00"), "tax": Decimal("0"),
                   "priceAdjustments": []})
    order["productItems"].append(second)
    order["orderTotal"] = order["orderTotal"] + Decimal("25.00")
    order["c_giftMessage"] = "Happy birthday"
    return order


def decimal_json(order: dict) -> bytes:
    """Decimals as JSON numbers, exactly as SFCC sends money (never through a float)."""
    text = json.dumps(order, default=lambda v: f"@@{v}@@")
    return text.replace('"@@', "").replace('@@"', "").encode()
