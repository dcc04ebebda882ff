"""What a channel may sell: ATF over its locations, less its buffer; ATO adds purchase orders due
within the horizon and transfers on their way."""
from __future__ import annotations

from tests.support.orders import canonical_order


def test_atf_and_ato_per_channel(stocked):
    api = stocked
    api.location("STORE1", priority=5)
    api.stock("SKU-1", 6, location="STORE1")
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 2, "unit_price": "1.00"}]))
    api.pipeline.drain()
    assert api.order(order_id)["lines"][0]["allocated"] == 2
    everyone = api.ops("GET", "/availability?skus=SKU-1,SKU-2,NOPE&channel=marketplace").json_body
    assert everyone == {"channel": "marketplace", "skus": [{"sku": "SKU-1", "atf": 104, "ato": 104},
                                                           {"sku": "SKU-2", "atf": 100, "ato": 100},
                                                           {"sku": "NOPE", "atf": 0, "ato": 0}]}
    policy = api.ops("PUT", "/channels/shopify/inventory-policy", {"locations": ["WH1"], "buffer_units": 8})
    assert policy.status_code == 200, policy.body
    soon = api.ops("POST", "/purchase-orders", {"supplier": "Acme", "location_id": "WH1", "expected_at": "2026-01-01",
                                                "lines": [{"sku": "SKU-1", "quantity": 20}]})
    later = api.ops("POST", "/purchase-orders", {"supplier": "Acme", "location_id": "WH1", "expected_at": "2099-01-01",
                                                 "lines": [{"sku": "SKU-1", "quantity": 50}]})
    assert soon.status_code == later.status_code == 201
    api.ops("POST", "/inventory/transfers", {"sku": "SKU-1", "from_location_id": "STORE1", "to_location_id": "WH1",
                                             "quantity": 5})
    shopify = api.ops("GET", "/availability?skus=SKU-1&channel=shopify").json_body["skus"]
    # WH1: 100 on hand - 2 reserved - buffer 8 = 90; due within 14 days: 20 ordered + 5 in transit
    assert shopify == [{"sku": "SKU-1", "atf": 90, "ato": 115}]
    assert api.ops("GET", "/channels/shopify/inventory-policy").json_body["buffer_units"] == 8
    assert api.ops("PUT", "/channels/shopify/inventory-policy", {"locations": ["NOPE"]}).status_code == 422
    assert api.ops("GET", "/availability?channel=shopify").status_code == 422
