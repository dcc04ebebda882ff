from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.harness import OPS, TEST_ENV, Pipeline  # noqa: F401  (sets the environment first)
from tests.support.signing import signed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def local_stripe(tmp_path_factory):
    """The local Stripe every payment in these tests goes to, as in `make run`."""
    import os
    import socket

    from infra.local_stripe import LocalStripe

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stripe = LocalStripe(port, str(tmp_path_factory.mktemp("stripe")))
    os.environ["OMS_STRIPE_API_BASE"] = stripe.url
    yield stripe
    stripe.stop()


class Api:
    """The HTTP side of the app through chalice.test.Client, with the pipeline behind it."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.http = pipeline.client.http

    def webhook(self, kind: str, body, secret: str | None = None, headers: dict | None = None):
        secret = secret or TEST_ENV[f"OMS_WEBHOOK_SECRET_{kind.upper()}_GENERIC"]
        raw, signed_headers = signed(body, secret)
        return self.http.post(f"/webhooks/{kind}/generic", body=raw, headers={**signed_headers, **(headers or {})})

    def vendor(self, path: str, raw: bytes, headers: dict):
        return self.http.post(path, body=raw, headers={"Content-Type": "application/json", **headers})

    def shopify(self, body, topic: str = "orders/create", secret: str | None = None, webhook_id: str = "b54557e4"):
        from oms.adapters.signatures import sign_shopify

        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        secret = secret or TEST_ENV["OMS_WEBHOOK_SECRET_ORDERS_SHOPIFY"]
        return self.vendor("/webhooks/orders/shopify", raw, {
            "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign_shopify(secret, raw),
            "X-Shopify-Shop-Domain": "jsmith.myshopify.com", "X-Shopify-API-Version": "2024-10",
            "X-Shopify-Webhook-Id": webhook_id})

    def sfcc(self, body, secret: str | None = None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        raw, headers = signed(raw, secret or TEST_ENV["OMS_WEBHOOK_SECRET_ORDERS_SFCC"])
        return self.vendor("/webhooks/orders/sfcc", raw, headers)

    def easypost(self, body, secret: str | None = None, header: str | None = None):
        from oms.adapters.signatures import sign_easypost

        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        header = header or sign_easypost(secret or TEST_ENV["OMS_WEBHOOK_SECRET_TRACKING_EASYPOST"], raw)
        return self.vendor("/webhooks/tracking/easypost", raw, {"X-Hmac-Signature": header})

    def aftership(self, body, secret: str | None = None):
        from oms.adapters.signatures import sign_aftership

        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        secret = secret or TEST_ENV["OMS_WEBHOOK_SECRET_TRACKING_AFTERSHIP"]
        return self.vendor("/webhooks/tracking/aftership", raw, {"aftership-hmac-sha256": sign_aftership(secret, raw)})

    def ship(self, order_id: str, tracking_number: str, fulfillment_order: str = "F1", lines=None,
             carrier: str = "FedEx"):
        body = {"carrier": carrier, "tracking_number": tracking_number, **({"lines": lines} if lines else {})}
        response = self.ops("POST", f"/fulfillment-orders/{order_id}-{fulfillment_order}/ship", body)
        assert response.status_code in (200, 201), response.body
        return response.json_body

    def ops(self, method: str, path: str, body=None):
        raw = b"" if body is None else json.dumps(body).encode()
        return self.http.request(method, path, headers=OPS, body=raw)

    def order(self, order_id: str) -> dict:
        response = self.ops("GET", f"/orders/{order_id}")
        assert response.status_code == 200, response.body
        return response.json_body

    def stock(self, sku: str, on_hand: int, location: str = "WH1", safety_stock: int = 0):
        response = self.ops("PUT", f"/inventory/{sku}/locations/{location}",
                            {"on_hand": on_hand, "safety_stock": safety_stock})
        assert response.status_code == 200, response.body
        return response.json_body

    def location(self, location_id: str, priority: int = 1):
        response = self.ops("PUT", f"/locations/{location_id}",
                            {"name": location_id, "type": "warehouse", "priority": priority, "address": {}})
        assert response.status_code == 200, response.body

    def place(self, body) -> str:
        response = self.webhook("orders", body)
        assert response.status_code == 202, response.body
        return response.json_body["order_id"]


@pytest.fixture
def api():
    from chalice.test import Client
    from moto import mock_aws

    from infra.local_api import emulate_api_gateway

    with mock_aws():
        import app

        emulate_api_gateway()
        with Client(app.app, stage_name="dev", project_dir=str(ROOT)) as client:
            yield Api(Pipeline(client))


@pytest.fixture
def stocked(api):
    api.location("WH1", priority=1)
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        api.stock(sku, 100)
    api.pipeline.drain()
    return api


def table_items() -> list[dict]:
    import boto3

    return boto3.client("dynamodb").scan(TableName=TEST_ENV["OMS_TABLE"])["Items"]


# ---- stand-ins for the channels' APIs, and their clients pointed at them ----------------------

@pytest.fixture
def server():
    from tests.support.recording_server import RecordingServer

    with RecordingServer() as recording:
        yield recording


@pytest.fixture
def shopify(server, monkeypatch):
    from oms.adapters.channels.shopify_admin import ShopifyAdmin

    monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SHOPIFY", server.url)
    monkeypatch.setenv("OMS_CHANNEL_TOKEN_SHOPIFY", "shpat_test_token")
    monkeypatch.delenv("OMS_SHOPIFY_API_VERSION", raising=False)
    return ShopifyAdmin()


@pytest.fixture
def sfcc(server, monkeypatch):
    from oms.adapters.channels.sfcc_orders_api import SfccOrders

    monkeypatch.setenv("OMS_CHANNEL_BASE_URL_SFCC", server.url)
    monkeypatch.setenv("OMS_CHANNEL_TOKEN_SFCC", "sfcc-bearer")
    monkeypatch.setenv("OMS_SFCC_ORGANIZATION_ID", "f_ecom_zzxy_prd")
    monkeypatch.setenv("OMS_SFCC_SITE_ID", "RefArch")
    return SfccOrders()

