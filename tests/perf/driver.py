"""Drives the local stack over HTTP the way channels, carriers and operators do: signed
webhooks, the ops API with its bearer token, polling an order until it reaches a state."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import requests

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St", "line2": "", "city": "New York", "region": "NY",
           "postal_code": "10001", "country": "US"}


def generic_order(external_id: str, lines: list[tuple[str, int, str]], *, shipping: str = "5.00",
                  tax: str = "3.20") -> dict:
    """A generic-channel order whose totals add up: lines are (sku, quantity, unit price)."""
    merchandise = sum(Decimal(price) * quantity for _, quantity, price in lines)
    total = merchandise + Decimal(shipping) + Decimal(tax)
    return {
        "external_id": external_id, "channel_order_number": external_id, "placed_at": "2026-11-26T10:00:00Z",
        "currency": "USD",
        "customer": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                     "phone": "+1 212 555 0100"},
        "billing_address": ADDRESS, "shipping_address": ADDRESS, "shipping_method": "standard",
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": price} for sku, quantity, price in lines],
        "shipping_total": shipping, "tax_total": tax, "discount_total": "0.00", "total": f"{total:.2f}",
        "payment": {"method": "card", "token": "tok_visa"}}


class OmsClient:
    def __init__(self, base_url: str, ops_token: str, orders_secret: str, tracking_secret: str):
        self.base, self.orders_secret, self.tracking_secret = base_url.rstrip("/"), orders_secret, tracking_secret
        self.auth = {"Authorization": f"Bearer {ops_token}"}
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        """One keep-alive session per thread (requests.Session is not thread-safe)."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _check(self, response: requests.Response, *expected: int) -> dict:
        if response.status_code not in expected:
            raise AssertionError(f"{response.request.method} {response.request.url} -> {response.status_code}: "
                                 f"{response.text[:500]}")
        return response.json()

    def signed_post(self, path: str, body: dict, secret: str) -> requests.Response:
        raw = json.dumps(body).encode()
        timestamp = int(time.time())
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
        return self.http.post(self.base + path, data=raw, timeout=60, headers={
            "X-OMS-Signature": f"t={timestamp},v1={mac}", "Content-Type": "application/json"})

    def put_location(self, location_id: str, priority: int = 1) -> dict:
        return self._check(self.http.put(f"{self.base}/locations/{location_id}", headers=self.auth, timeout=60, json={
            "name": location_id, "type": "warehouse", "priority": priority, "address": {}}), 200)

    def put_stock(self, sku: str, location_id: str, on_hand: int) -> dict:
        return self._check(self.http.put(f"{self.base}/inventory/{sku}/locations/{location_id}", headers=self.auth,
                                         timeout=60, json={"on_hand": on_hand, "safety_stock": 0}), 200)

    def post_order(self, order: dict) -> str:
        """202 for a new order; 200 if the OMS saw this external id already (e.g. its own
        retry of a write whose response was lost) - the order exists either way."""
        return self._check(self.signed_post("/webhooks/orders/generic", order, self.orders_secret),
                           202, 200)["order_id"]

    def get_order(self, order_id: str) -> dict:
        return self._check(self.http.get(f"{self.base}/orders/{order_id}", headers=self.auth, timeout=60), 200)

    def ship(self, fulfillment_order_id: str, carrier: str, tracking_number: str) -> dict:
        return self._check(self.http.post(f"{self.base}/fulfillment-orders/{fulfillment_order_id}/ship",
                                          headers=self.auth, timeout=60,
                                          json={"carrier": carrier, "tracking_number": tracking_number,
                                                "service": "ground"}), 200, 201)

    def start_return(self, order_number: str, email: str, lines: list[dict]) -> dict:
        """A customer's return, with the tracking proof."""
        return self._check(self.http.post(f"{self.base}/track/{order_number}/returns", params={"email": email},
                                          timeout=60, json={"lines": lines}), 201)

    def receive_return(self, return_id: str, location_id: str, lines: list[dict]) -> dict:
        return self._check(self.http.post(f"{self.base}/returns/{return_id}/receive", headers=self.auth, timeout=60,
                                          json={"location_id": location_id, "lines": lines}), 200)

    def track(self, tracking_number: str, status: str, occurred_at: str) -> dict:
        body = {"tracking_number": tracking_number, "status": status, "occurred_at": occurred_at,
                "description": status, "location": "New York, NY"}
        return self._check(self.signed_post("/webhooks/tracking/generic", body, self.tracking_secret), 202)

    def wait_for(self, order_id: str, condition: Callable[[dict], bool], timeout: float = 60,
                 interval: float = 0.2) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            order = self.get_order(order_id)
            if condition(order):
                return order
            if time.monotonic() > deadline:
                raise TimeoutError(f"order {order_id} stuck: status={order['status']} holds={order['holds']} "
                                   f"history={[h['event_type'] for h in order['history']]}")
            time.sleep(interval)
