"""What Shopify may sell, pushed as it changes: inventorySetQuantities with compare-and-set,
against a stand-in that keeps Shopify's counts and cost bucket (tests.support.shopify_stock);
its 429s, THROTTLED answers and stale compare-and-set; coalescing per SKU under a running push;
and the whole path from a stock change through the channel-updates queue."""
from __future__ import annotations

import threading

import pytest

from oms.services.ports import ChannelUnavailable
from tests.support.orders import canonical_order
from tests.support.shopify_stock import LOCATION, ShopifyStock

from .test_channel_clients import V

GRAPHQL = f"{V}/graphql.json"
SHOP = "jsmith.myshopify.com"


@pytest.fixture
def inventory(server, monkeypatch):
    from oms.adapters.channels.shopify_inventory import ShopifyInventory

    monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SHOPIFY", server.url)
    monkeypatch.setenv("OMS_SHOPIFY_SHOP_DOMAIN", SHOP)
    monkeypatch.delenv("OMS_SHOPIFY_API_VERSION", raising=False)
    monkeypatch.delenv("OMS_SHOPIFY_LOCATION_ID", raising=False)
    return ShopifyInventory(SHOP, timeout=5.0)


def _mutations(server) -> list[dict]:
    return [r["body"]["variables"]["input"] for r in server.requests if "inventorySetQuantities" in r["body"]["query"]]


# ---- the adapter ------------------------------------------------------------------------------

def test_sets_what_differs_with_compare_and_set_and_remembers_the_items(server, inventory):
    shop = ShopifyStock({"SKU-1": 4, "SKU-2": 7, "SKU-10": 1})
    shop.items["SKU-10"]["sku"] = "SKU-1"  # two items with one SKU at Shopify: ambiguous, left alone
    server.answer("POST", GRAPHQL, respond=shop.respond)
    state: dict = {}
    result = inventory.push({"SKU-1": 9, "SKU-2": 7, "NOPE": 3}, {}, state)
    assert result.pushed == {"SKU-2": 7} and result.unknown == ["NOPE", "SKU-1"] and not result.stale
    assert not _mutations(server)  # SKU-2 already had 7
    shop.items["SKU-10"]["sku"] = "SKU-10"
    result = inventory.push({"SKU-1": 9, "SKU-2": 7, "NOPE": 3}, {}, state)
    assert result.pushed == {"SKU-1": 9, "SKU-2": 7} and result.unknown == ["NOPE"] and not result.stale
    assert set(result.learned) == {"SKU-1", "SKU-2"}
    assert (shop.count("SKU-1"), shop.count("SKU-2"), shop.count("SKU-10")) == (9, 7, 1)
    [mutation] = _mutations(server)
    assert mutation["name"] == "available" and mutation["ignoreCompareQuantity"] is False
    assert mutation["quantities"] == [{"inventoryItemId": shop.items["SKU-1"]["id"], "locationId": LOCATION,
                                       "quantity": 9, "compareQuantity": 4}]
    assert state["location_id"] == LOCATION and state["throttle"]["maximum"] == 1000
    server.requests.clear()
    again = inventory.push({"SKU-1": 9}, result.learned, state)
    assert again.pushed == {"SKU-1": 9}
    assert ["nodes(" in r["body"]["query"] for r in server.requests] == [True]  # by id, no search, no write


def test_a_sale_between_read_and_write_is_never_written_over(server, inventory):
    shop = ShopifyStock({"SKU-1": 4, "SKU-2": 7})
    server.answer("POST", GRAPHQL, respond=shop.respond)
    shop.before_set = lambda: shop.sell("SKU-1", 1)  # a customer buys one at Shopify meanwhile
    result = inventory.push({"SKU-1": 10, "SKU-2": 2}, {}, {})
    assert result.stale == ["SKU-1"] and result.pushed == {"SKU-2": 2}
    assert shop.count("SKU-1") == 3  # Shopify's sale stands: the next push reads it afresh
    assert [[q["compareQuantity"] for q in m["quantities"]] for m in _mutations(server)] == [[4, 7], [7]]


def test_a_refused_item_does_not_hold_back_the_others(server, inventory):
    shop = ShopifyStock({"BUNDLE": 1, "SKU-1": 4})
    shop.items["BUNDLE"]["mutable"] = False
    shop.items["SKU-1"]["stocked"] = True
    server.answer("POST", GRAPHQL, respond=shop.respond)
    result = inventory.push({"BUNDLE": 5, "SKU-1": 6}, {}, {})
    assert result.pushed == {"SKU-1": 6} and list(result.refused) == ["BUNDLE"]
    assert "NON_MUTABLE_INVENTORY_ITEM" in result.refused["BUNDLE"]


def test_an_item_not_stocked_at_the_location_is_unknown(server, inventory):
    shop = ShopifyStock({"SKU-1": 4})
    shop.items["SKU-1"]["stocked"] = False
    server.answer("POST", GRAPHQL, respond=shop.respond)
    result = inventory.push({"SKU-1": 6}, {}, {})
    assert result.unknown == ["SKU-1"] and not _mutations(server)


def test_429_is_unavailable_with_shopifys_retry_after(server, inventory):
    server.answer("POST", GRAPHQL, status=429, body={"errors": "Exceeded 2 calls per second for api client."},
                  headers={"Retry-After": "2.0"})
    with pytest.raises(ChannelUnavailable) as raised:
        inventory.push({"SKU-1": 6}, {}, {})
    assert raised.value.retry_after == 2.0


def test_throttled_answer_says_when_the_bucket_holds_the_cost(server, inventory):
    shop = ShopifyStock({"SKU-1": 4}, available=0, restore_rate=1)
    server.answer("POST", GRAPHQL, respond=shop.respond)
    state: dict = {}
    with pytest.raises(ChannelUnavailable) as raised:
        inventory.push({"SKU-1": 6}, {}, state)
    assert 4.5 < raised.value.retry_after <= 5.0  # the 5 points its first call asked for, at 1 a second
    assert state["throttle"]["available"] < 0.5  # kept: the next push waits for the bucket


def test_search_reads_every_page_and_keeps_exact_matches(server, inventory):
    shop = ShopifyStock({"A-1": 1, "Ü-2": 2, **{f"X-{n}": n for n in range(5)}})
    for n in range(5):
        shop.items[f"X-{n}"]["sku"] = "Ü-2" if n < 4 else "A-1"  # more matches than one page holds
    server.answer("POST", GRAPHQL, respond=shop.respond)
    result = inventory.push({"A-1": 1, "Ü-2": 2}, {}, {})
    searches = [r["body"] for r in server.requests if "inventoryItems" in r["body"]["query"]]
    assert len(searches) == 2 and searches[0]["variables"]["query"] == 'sku:"A-1" OR sku:"Ü-2"'
    assert result.unknown == ["A-1", "Ü-2"] and not result.learned  # each SKU is on two items at Shopify


def test_a_remembered_item_whose_sku_changed_is_looked_up_again(server, inventory):
    shop = ShopifyStock({"SKU-1": 4, "SKU-2": 7})
    server.answer("POST", GRAPHQL, respond=shop.respond)
    stale_memory = {"SKU-1": shop.items["SKU-2"]["id"]}  # the merchant moved SKU-1 to another item
    result = inventory.push({"SKU-1": 9}, stale_memory, {})
    assert result.learned == {"SKU-1": shop.items["SKU-1"]["id"]}
    assert (shop.count("SKU-1"), shop.count("SKU-2")) == (9, 7)


def test_a_call_the_budget_cannot_pay_for_is_not_sent(server, inventory):
    state = {"location_id": LOCATION, "throttle": {"maximum": 1000.0, "available": 4.0, "restore_rate": 50.0,
                                                   "at": 1_000.0}}
    inventory.clock = lambda: 1_000.1  # 0.1 s later: 9 points; a read of one known item costs 5
    shop = ShopifyStock({"SKU-1": 4})
    server.answer("POST", GRAPHQL, respond=shop.respond)
    result = inventory.push({"SKU-1": 6}, {"SKU-1": shop.items["SKU-1"]["id"]}, state)
    assert result.pushed == {"SKU-1": 6} and len(server.requests) == 2
    state["throttle"] = {"maximum": 1000.0, "available": 0.0, "restore_rate": 50.0, "at": 1_000.1}
    with pytest.raises(ChannelUnavailable) as raised:
        inventory.push({"SKU-1": 7}, {"SKU-1": shop.items["SKU-1"]["id"]}, state)
    assert raised.value.retry_after == pytest.approx(5 / 50) and len(server.requests) == 2


# ---- through the OMS ---------------------------------------------------------------------------

@pytest.fixture
def serialised_aws(monkeypatch):
    """One AWS call at a time, as the local stack's moto server serves them: in-process moto is
    not safe for threads, DynamoDB is (each request is atomic)."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock, call = threading.Lock(), BotocoreStubber.__call__

    def one_at_a_time(self, *args, **kwargs):
        with lock:
            return call(self, *args, **kwargs)
    monkeypatch.setattr(BotocoreStubber, "__call__", one_at_a_time)


@pytest.fixture
def shop_api(server, inventory, request):
    """The local stack with OMS_SHOPIFY_SHOP_DOMAIN set before it is made (as a deploy with the
    ShopifyShopDomain parameter), so the availability rule exists."""
    shop = ShopifyStock({"SKU-1": 0, "SKU-2": 0, "SKU-3": 0})
    server.answer("POST", GRAPHQL, respond=shop.respond)
    api = request.getfixturevalue("stocked")
    assert (shop.count("SKU-1"), shop.count("SKU-2"), shop.count("SKU-3")) == (100, 100, 100)
    return api, shop


def test_stock_changes_reach_shopify_through_the_channel_updates_queue(shop_api):
    api, shop = shop_api
    api.stock("SKU-1", 50)
    api.pipeline.drain()
    assert shop.count("SKU-1") == 50 and shop.count("SKU-2") == 100
    order_id = api.place(canonical_order(lines=[{"sku": "SKU-1", "quantity": 3, "unit_price": "1.00"}]))
    api.pipeline.drain()
    assert api.order(order_id)["lines"][0]["allocated"] == 3
    assert shop.count("SKU-1") == 47
    response = api.ops("PUT", "/channels/shopify/inventory-policy", {"locations": None, "buffer_units": 5,
                                                                      "share_percent": 100})
    assert response.status_code == 200, response.body
    api.pipeline.drain()
    assert (shop.count("SKU-1"), shop.count("SKU-2"), shop.count("SKU-3")) == (42, 95, 95)
    cancelled = api.ops("POST", f"/orders/{order_id}/cancel", {"reason": "customer"})
    assert cancelled.status_code in (200, 202), cancelled.body
    api.pipeline.drain()
    assert shop.count("SKU-1") == 45
    assert api.pipeline.queue_depth("ChannelUpdatesDeadLetterQueue") == 0


def test_changes_made_while_a_push_runs_go_out_as_one(shop_api, serialised_aws):
    from oms.bootstrap import context
    from oms.services.channel_stock import availability_changed

    api, shop = shop_api
    ctx, writes, outcome = context(), len(shop.sets), {}
    ctx.inventory.set_stock("SKU-2", "WH1", 9, 0, ctx.clock.now())
    shop.hold_sets.clear()  # Shopify takes its time with the first write
    running = threading.Thread(target=lambda: outcome.update(first=availability_changed(
        ctx, {"event_type": "InventoryAdjusted", "data": {"sku": "SKU-2"}})))
    running.start()
    assert shop.set_waiting.wait(10)
    for on_hand in (10, 11, 12, 13, 14):  # five changes while that write is on its way
        ctx.inventory.set_stock("SKU-2", "WH1", on_hand, 0, ctx.clock.now())
        detail = {"event_type": "InventoryAdjusted", "data": {"sku": "SKU-2"}}
        assert availability_changed(ctx, detail) == "coalesced"  # the running push will send them
    shop.hold_sets.set()
    running.join(20)
    assert outcome == {"first": "pushed"}  # it looked again after letting go, and sent the rest
    assert [[q["quantity"] for q in quantities] for quantities in shop.sets[writes:]] == [[9], [14]]
    assert shop.count("SKU-2") == 14 and ctx.stock_log.unsent("shopify", 10) == []


def test_a_stale_push_comes_back_and_lands(shop_api):
    from oms.bootstrap import context
    from oms.services.channel_stock import availability_changed

    api, shop = shop_api
    ctx = context()
    ctx.inventory.set_stock("SKU-3", "WH1", 90, 0, ctx.clock.now())
    shop.before_set = lambda: shop.sell("SKU-3", 1)  # a sale at Shopify between our read and our write
    with pytest.raises(ChannelUnavailable):
        availability_changed(ctx, {"event_type": "InventoryAdjusted", "data": {"sku": "SKU-3"}})
    assert shop.count("SKU-3") == 99 and ctx.stock_log.unsent("shopify", 10)[0][0] == "SKU-3"
    assert availability_changed(ctx, {"event_type": "InventoryAdjusted", "data": {"sku": "SKU-3"}}) == "pushed"
    assert shop.count("SKU-3") == 90 and ctx.stock_log.unsent("shopify", 10) == []


def test_concurrent_pushes_leave_shopify_with_the_last_count(shop_api, serialised_aws):
    from oms.bootstrap import context
    from oms.services.channel_stock import availability_changed

    api, shop = shop_api
    ctx = context()
    failures: list[BaseException] = []

    def change(on_hand: int) -> None:
        try:
            ctx.inventory.set_stock("SKU-1", "WH1", on_hand, 0, ctx.clock.now())
            availability_changed(ctx, {"event_type": "InventoryAdjusted", "data": {"sku": "SKU-1"}})
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=change, args=(20 + n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    final = ctx.inventory.stock_level("SKU-1", "WH1").on_hand
    assert shop.count("SKU-1") == final and ctx.stock_log.unsent("shopify", 10) == []


def test_a_cancellation_shopify_refuses_still_gives_shopify_the_stock(server, inventory, request):
    """One message both tells Shopify of an operator's cancellation and pushes the stock it gave
    back; Shopify refusing the first never holds back the second."""
    from tests.support.vendor_orders import SHOPIFY_ORDER_ID, SHOPIFY_SKUS, shopify_paid_order

    shop = ShopifyStock({sku: 0 for sku in SHOPIFY_SKUS})
    server.answer("POST", GRAPHQL, respond=shop.respond)
    server.answer("GET", f"{V}/orders/{SHOPIFY_ORDER_ID}.json", body={"order": {
        "id": SHOPIFY_ORDER_ID, "cancelled_at": None}})
    server.answer("POST", f"{V}/orders/{SHOPIFY_ORDER_ID}/cancel.json", status=422, body={
        "errors": "Order cannot be cancelled"})
    api = request.getfixturevalue("stocked")
    for sku in SHOPIFY_SKUS:
        api.stock(sku, 10)
    api.pipeline.drain()
    order_id = api.shopify(shopify_paid_order()).json_body["order_id"]
    api.pipeline.drain()
    held = {line["sku"]: line["allocated"] for line in api.order(order_id)["lines"] if line["sku"]}
    assert {sku: shop.count(sku) for sku in held} == {sku: 10 - units for sku, units in held.items()}
    response = api.ops("POST", f"/orders/{order_id}/cancel", {"reason": "out of stock"})
    assert response.status_code == 200, response.body
    api.pipeline.drain()
    assert [r["method"] for r in server.requests if r["path"].endswith("/cancel.json")][:1] == ["POST"]
    assert {sku: shop.count(sku) for sku in held} == {sku: 10 for sku in held}
    assert api.pipeline.queue_depth("ChannelUpdatesDeadLetterQueue") == 1  # the refused news, for an operator


def test_the_sweep_pushes_what_a_lost_message_left_and_reports_a_refusal(shop_api):
    from functions.channel_events import sweep_unsent_stock
    from oms.bootstrap import context

    api, shop = shop_api
    ctx = context()
    ctx.inventory.set_stock("SKU-1", "WH1", 33, 0, ctx.clock.now())
    ctx.stock_log.note_unsent("shopify", {"SKU-1"}, token=7)  # its message went to the DLQ
    assert sweep_unsent_stock({}) == {"shopify": "pushed"} and shop.count("SKU-1") == 33
    ctx.inventory.set_stock("SKU-1", "WH1", 34, 0, ctx.clock.now())
    ctx.stock_log.note_unsent("shopify", {"SKU-1"}, token=8)
    shop.denied = True
    assert sweep_unsent_stock({}) == {"shopify": "refused"}
    assert ctx.stock_log.unsent("shopify", 10) == [("SKU-1", 8)]  # kept until the token has the scope
