"""Signed-in customers list their orders with the storefront's token: only theirs, newest first,
20 a page, read from their own partition; a token that proves nobody gets one 401 body."""
from __future__ import annotations

import time

import jwt

from tests.support.harness import TEST_ENV
from tests.support.orders import canonical_order


def bearer(email: str = "ada@example.com", **claims) -> dict:
    body = {"email": email, "exp": int(time.time()) + 600, **claims}
    return {"Authorization": "Bearer " + jwt.encode(body, TEST_ENV["OMS_CUSTOMER_TOKEN_SECRET"], algorithm="HS256")}


def test_a_customer_pages_through_their_own_orders_newest_first(stocked):
    api = stocked
    placed = [api.place(canonical_order(placed_at=f"2026-11-{day:02d}T10:00:00Z",
                                        customer={"email": "Ada@Example.com" if day % 2 else "ada@example.com",
                                                  "first_name": "Ada", "last_name": "Lovelace"}))
              for day in range(1, 22)]
    others = api.place(canonical_order(customer={"email": "eve@example.com", "first_name": "Eve",
                                                 "last_name": "Evans"}))
    first = api.http.get("/customers/me/orders", headers=bearer("ADA@example.com"))
    assert first.status_code == 200, first.body
    assert len(first.json_body["orders"]) == 20 and first.json_body["next_cursor"]
    second = api.http.get(f"/customers/me/orders?cursor={first.json_body['next_cursor']}", headers=bearer())
    numbers = [o["order_number"] for o in first.json_body["orders"] + second.json_body["orders"]]
    assert numbers == [api.order(order_id)["order_number"] for order_id in reversed(placed)]
    assert second.json_body["next_cursor"] is None
    one = first.json_body["orders"][0]
    assert set(one) >= {"order_number", "status", "placed_at", "lines", "shipments", "totals", "returns"}
    assert one["totals"]["total"] == "48.18"
    mine = api.http.get(f"/customers/me/orders/{one['order_number']}", headers=bearer())
    theirs = api.http.get(f"/customers/me/orders/{api.order(others)['order_number']}", headers=bearer())
    assert mine.status_code == 200 and mine.json_body == one and theirs.status_code == 404
    assert api.http.get("/customers/me/orders?cursor=bm9wZQ", headers=bearer()).status_code == 422


def test_every_token_that_proves_nobody_gets_the_same_401(stocked):
    api = stocked
    expired = bearer(exp=int(time.time()) - 60)
    forged = {"Authorization": "Bearer " + jwt.encode({"email": "ada@example.com", "exp": int(time.time()) + 60},
                                                      "not-the-storefronts-secret-32-bytes", algorithm="HS256")}
    unsigned = {"Authorization": "Bearer " + jwt.encode({"email": "ada@example.com", "exp": int(time.time()) + 60},
                                                        None, algorithm="none")}
    answers = [api.http.get("/customers/me/orders", headers=headers)
               for headers in ({}, {"Authorization": "Basic YWRhOnB3"}, expired, forged, unsigned)]
    assert [a.status_code for a in answers] == [401] * 5
    assert len({a.body for a in answers}) == 1 and answers[0].headers["WWW-Authenticate"].startswith("Bearer")
