"""Telling Salesforce B2C Commerce what happened to an order, through the SCAPI Orders API
(orders-oas v1, https://{shortCode}.api.commercecloud.salesforce.com/checkout/orders/v1).

Every call reads the order, then sets only the statuses that must move:
  GET /organizations/{organizationId}/orders/{orderNo}?siteId=...
  PUT /organizations/{organizationId}/orders/{orderNo}/shipping-status?siteId=...  {"status": "part_shipped"|"shipped"}
  PUT /organizations/{organizationId}/orders/{orderNo}/external-status?siteId=...  {"status": <OMS order status>}
  PUT /organizations/{organizationId}/orders/{orderNo}/status?siteId=...           {"status": "cancelled"}
  PUT /organizations/{organizationId}/orders/{orderNo}/payment-status?siteId=...   {"status": "part_paid"|"not_paid"}

- shipped and delivered: shipping status from the OMS (`part_shipped`/`shipped`), and the
  external status (a free string, "for use in customizations") mirrors the OMS order status:
  `partially_shipped`, `shipped`, `partially_delivered`, `delivered`. The Orders API has no
  "delivered" value of its own, and no endpoint for a shipment's tracking number.
- whole order cancelled: order status `cancelled` (SFCC then releases inventory and coupon
  redemptions) and external status `cancelled`.
- some lines cancelled: external status `partially_cancelled`; the API has no line-level cancel.
- refunded: payment status `part_paid` (or `not_paid` once nothing captured is left). The Orders
  API moves no money: the refund itself is due at the payment service the storefront used, so
  the OMS keeps it `pending` (due at the channel) after telling SFCC.

Reading first keeps the calls safe to repeat and out-of-order deliveries harmless: statuses
only move forwards (a late "shipped" does not overwrite "delivered"), and a cancelled order
is not cancelled twice (the API documents NEW/COMPLETED -> CANCELLED only). The API documents
no idempotency key; our key goes in the documented `correlation-id` header, for tracing.

Configuration: OMS_CHANNEL_BASE_URL_SFCC (required, e.g. https://abcd1234.api.commercecloud.salesforce.com),
OMS_CHANNEL_TOKEN_SFCC (or Secrets Manager oms/{stage}/channels/sfcc/token) is the bearer token,
OMS_SFCC_ORGANIZATION_ID and OMS_SFCC_SITE_ID unless the order's context has organization_id/site_id."""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from oms.adapters import secrets
from oms.adapters.channels.http import ChannelNotConfigured, call_json
from oms.services.ports import (
    ChannelItem,
    ChannelOrder,
    ChannelRefund,
    ChannelRefundResult,
    ChannelShipment,
    ChannelUnavailable,
)

API_PATH = "/checkout/orders/v1"
SHIPPING_RANK = {"not_shipped": 0, "part_shipped": 1, "shipped": 2}
# External statuses we write, by progress; anything else (the merchant's own values) ranks 0.
EXTERNAL_RANK = {"partially_shipped": 1, "shipped": 2, "partially_delivered": 3, "delivered": 4, "cancelled": 5}


@dataclass(frozen=True)
class _SfccOrder:
    organization_id: str
    site_id: str
    order_no: str


class SfccOrders:
    """The ChannelNotifier for Salesforce B2C Commerce."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    # ---- the ChannelNotifier port -----------------------------------------------------------

    def shipment_shipped(self, order: ChannelOrder, shipment: ChannelShipment, idempotency_key: str) -> None:
        self._sync_progress(order, idempotency_key)

    def shipment_delivered(self, order: ChannelOrder, shipment: ChannelShipment, idempotency_key: str) -> None:
        # Also moves the shipping status, in case the "shipped" notification never got through.
        self._sync_progress(order, idempotency_key)

    def order_cancelled(self, order: ChannelOrder, items: list[ChannelItem], *, whole_order: bool, reason: str,
                        idempotency_key: str) -> None:
        target = self._target(order)
        current = self._read(target, idempotency_key)
        if whole_order:
            if current.get("status") != "cancelled":
                self._put(target, "status", "cancelled", idempotency_key)
            self._advance_external(target, current, "cancelled", idempotency_key)
        else:
            # Cancelling the unshipped rest can complete the shipping status too.
            self._advance_shipping(target, current, order, idempotency_key)
            self._advance_external(target, current, "partially_cancelled", idempotency_key)

    def refund(self, order: ChannelOrder, refund: ChannelRefund, idempotency_key: str) -> ChannelRefundResult:
        target = self._target(order)
        current = self._read(target, idempotency_key)
        status = "not_paid" if refund.fully_refunded else "part_paid"
        if current.get("paymentStatus") != status:
            self._put(target, "payment-status", status, idempotency_key)
        return ChannelRefundResult(f"sfcc:payment-status:{status}", "pending")

    # ---- statuses ---------------------------------------------------------------------------

    def _sync_progress(self, order: ChannelOrder, idempotency_key: str) -> None:
        target = self._target(order)
        current = self._read(target, idempotency_key)
        self._advance_shipping(target, current, order, idempotency_key)
        self._advance_external(target, current, order.status, idempotency_key)

    def _advance_shipping(self, target: _SfccOrder, current: dict, order: ChannelOrder, idempotency_key: str) -> None:
        shipping = order.shipping_status
        if SHIPPING_RANK.get(shipping, 0) > SHIPPING_RANK.get(current.get("shippingStatus"), 0):
            self._put(target, "shipping-status", shipping, idempotency_key)

    def _advance_external(self, target: _SfccOrder, current: dict, status: str, idempotency_key: str) -> None:
        existing = current.get("externalOrderStatus")
        if status != existing and EXTERNAL_RANK.get(status, 0) >= EXTERNAL_RANK.get(existing, 0):
            self._put(target, "external-status", status, idempotency_key)

    # ---- plumbing ---------------------------------------------------------------------------

    def _url(self, target: _SfccOrder, resource: str = "") -> str:
        base = os.environ.get("OMS_CHANNEL_BASE_URL_SFCC")
        if not base:
            raise ChannelNotConfigured("OMS_CHANNEL_BASE_URL_SFCC is not set (the B2C Commerce API host)")
        path = (f"{API_PATH}/organizations/{quote(target.organization_id, safe='')}"
                f"/orders/{quote(target.order_no, safe='')}" + (f"/{resource}" if resource else ""))
        return f"{base.rstrip('/')}{path}?{urlencode({'siteId': target.site_id})}"

    def _read(self, target: _SfccOrder, idempotency_key: str) -> dict:
        answer = call_json("GET", self._url(target), channel="sfcc", headers=self._headers(idempotency_key),
                           timeout=self.timeout)
        if not isinstance(answer.body, dict):
            raise ChannelUnavailable(f"GET order {target.order_no}: SFCC answered {answer.status} without an order")
        return answer.body

    def _put(self, target: _SfccOrder, resource: str, status: str, idempotency_key: str) -> None:
        call_json("PUT", self._url(target, resource), channel="sfcc", headers=self._headers(idempotency_key),
                  body={"status": status}, timeout=self.timeout)

    @staticmethod
    def _headers(idempotency_key: str) -> dict[str, str]:
        try:
            token = secrets.channel_token("sfcc")
        except secrets.MissingSecret as missing:
            raise ChannelNotConfigured(f"no B2C Commerce API token ({missing})") from None
        return {"Authorization": f"Bearer {token}", "correlation-id": idempotency_key}

    @staticmethod
    def _target(order: ChannelOrder) -> _SfccOrder:
        organization_id = order.context.get("organization_id") or os.environ.get("OMS_SFCC_ORGANIZATION_ID")
        site_id = order.context.get("site_id") or os.environ.get("OMS_SFCC_SITE_ID")
        if not organization_id or not site_id:
            raise ChannelNotConfigured("SFCC organization and site unknown: set OMS_SFCC_ORGANIZATION_ID and "
                                       "OMS_SFCC_SITE_ID, or organization_id/site_id in the order's context")
        return _SfccOrder(organization_id, site_id, str(order.context.get("order_no") or order.external_id))
