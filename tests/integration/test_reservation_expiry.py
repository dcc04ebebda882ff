"""Stock held too long for a payment that does not come goes back (and serves a waiting order);
the order is sourced again when its payment arrives."""
from __future__ import annotations

import time

from tests.support.orders import canonical_order


def test_an_unpaid_orders_stock_goes_back_and_returns_when_the_payment_arrives(stocked, monkeypatch):
    from oms.bootstrap import context
    from oms.services.orders import expire_reservations

    api = stocked
    api.stock("SKU-6", 3)
    unpaid = api.place(canonical_order(lines=[{"sku": "SKU-6", "quantity": 3, "unit_price": "1.00"}],
                                       payment={"method": "channel", "status": "pending"}))
    api.pipeline.drain()
    assert [h["type"] for h in api.order(unpaid)["holds"]] == ["awaiting_payment"]
    waiting = api.place(canonical_order(lines=[{"sku": "SKU-6", "quantity": 2, "unit_price": "1.00"}]))
    api.pipeline.drain()
    assert [h["type"] for h in api.order(waiting)["holds"]] == ["backorder"]

    monkeypatch.setenv("OMS_RESERVATION_TTL_SECONDS", "3600")
    assert expire_reservations(context()) == 0  # not due yet
    monkeypatch.setenv("OMS_RESERVATION_TTL_SECONDS", "1")
    time.sleep(1.2)
    assert expire_reservations(context()) == 1 and expire_reservations(context()) == 0
    api.pipeline.drain()
    order = api.order(unpaid)
    assert sorted(h["type"] for h in order["holds"]) == ["awaiting_payment", "reservation_expired"]
    assert order["lines"][0]["allocated"] == 0 and "InventoryReleased" in [h["event_type"] for h in order["history"]]
    assert api.order(waiting)["holds"] == []  # the stock went to the order waiting for it

    api.stock("SKU-6", 5)  # more arrives; then the payment does
    api.pipeline.drain()
    paid = api.ops("POST", f"/orders/{unpaid}/holds/awaiting_payment/release", {"reason": "paid by bank transfer"})
    assert paid.status_code == 200, paid.body
    api.pipeline.drain()
    order = api.order(unpaid)
    assert order["holds"] == [] and order["lines"][0]["allocated"] == 3 and order["fulfillment_orders"]
