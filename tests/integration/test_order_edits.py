"""An agent corrects where a delivery group ships before anything of it left: the address is
checked as at intake, the change recorded and told to Shopify; nothing changes on a refusal."""
from __future__ import annotations

import copy

from tests.support.orders import ADDRESS, canonical_order

NEW = {**ADDRESS, "line1": "1 Infinite Loop", "city": "Cupertino", "region": "CA", "postal_code": "95014"}


def test_an_agent_corrects_the_address_and_method_before_the_group_ships(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    changed = api.ops("PATCH", f"/orders/{order_id}/delivery-groups/g1", {"shipping_address": NEW,
                                                                         "shipping_method": "express"})
    assert changed.status_code == 200, changed.body
    group = changed.json_body["delivery_groups"][0]
    assert group["shipping_address"]["city"] == "Cupertino" and group["shipping_method"] == "express"
    events = [h for h in changed.json_body["history"] if h["event_type"] == "DeliveryGroupChanged"]
    assert [e["data"]["changed"] for e in events] == [["shipping_address", "shipping_method"]]
    assert "Cupertino" not in str(events)  # the address stays on the order, out of the event

    before = api.order(order_id)
    bad = api.ops("PATCH", f"/orders/{order_id}/delivery-groups/g1", {"shipping_address": {**NEW, "postal_code": "1"}})
    assert bad.status_code == 422 and bad.json_body["error"]["code"] == "invalid_address"
    assert api.ops("PATCH", f"/orders/{order_id}/delivery-groups/nope", {"shipping_method": "x"}).status_code == 404
    assert api.ops("PATCH", f"/orders/{order_id}/delivery-groups/g1", {}).status_code == 422
    assert api.order(order_id) == before  # nothing changed

    api.ship(order_id, "1ZEDIT")
    late = api.ops("PATCH", f"/orders/{order_id}/delivery-groups/g1", {"shipping_method": "overnight"})
    assert late.status_code == 409 and late.json_body["error"]["code"] == "group_in_fulfilment"


def test_a_corrected_address_lifts_the_invalid_address_hold_and_the_order_goes_on(stocked):
    api = stocked
    wrong = copy.deepcopy(ADDRESS) | {"postal_code": "ABCDE"}
    order_id = api.place(canonical_order(shipping_address=wrong))
    api.pipeline.drain()
    assert [h["type"] for h in api.order(order_id)["holds"]] == ["invalid_address"]
    assert api.ops("PATCH", f"/orders/{order_id}/delivery-groups/g1", {"shipping_address": NEW}).status_code == 200
    api.pipeline.drain()
    order = api.order(order_id)
    assert not order["holds"] and order["fulfillment_orders"]
