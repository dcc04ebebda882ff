"""Telling Shopify what happened to an order, through the REST Admin API (version 2024-10).

- shipped:   GET  /admin/api/{v}/orders/{order_id}/fulfillments.json      (already there? done)
             GET  /admin/api/{v}/orders/{order_id}/fulfillment_orders.json
             POST /admin/api/{v}/fulfillments.json
- delivered: GET  /admin/api/{v}/orders/{order_id}/fulfillments.json
             POST /admin/api/{v}/orders/{order_id}/fulfillments/{fulfillment_id}/events.json
- cancelled, whole order:
             GET  /admin/api/{v}/orders/{order_id}.json?fields=id,cancelled_at
             POST /admin/api/{v}/orders/{order_id}/cancel.json
- cancelled, some lines (a refund of line items without money, restocked as "cancel"):
             GET  /admin/api/{v}/orders/{order_id}/refunds.json           (our note there? done)
             GET  /admin/api/{v}/orders/{order_id}/fulfillment_orders.json (the restock location)
             POST /admin/api/{v}/orders/{order_id}/refunds.json
- return accepted in the OMS (GraphQL Admin API, which alone has returns):
             POST /admin/api/{v}/graphql.json  query: the order's returns (one whose line items carry
                                              our RMA in their note? done) and fulfillment line items
             POST /admin/api/{v}/graphql.json  mutation returnCreate
  address:   POST /admin/api/{v}/graphql.json  mutation orderUpdate (shippingAddress)
- refunded (money back on an order Shopify was paid for):
             GET  /admin/api/{v}/orders/{order_id}/refunds.json           (our note there? done)
             GET  /admin/api/{v}/orders/{order_id}/transactions.json      (the sale or capture to refund)
             POST /admin/api/{v}/orders/{order_id}/refunds.json           (a refund transaction)

Shopify's REST API documents no idempotency key, so every change is preceded by a read of
what Shopify already has: the tracking number on a fulfillment, a delivered shipment status,
`cancelled_at`, or a refund whose note is our idempotency key.

Configuration: OMS_CHANNEL_BASE_URL_SHOPIFY replaces https://{shop_domain} (tests, proxies),
OMS_CHANNEL_TOKEN_SHOPIFY (or Secrets Manager oms/{stage}/channels/shopify/token) is the Admin
API access token, OMS_SHOPIFY_API_VERSION overrides the API version."""
from __future__ import annotations

import os
import re
from collections import defaultdict
from urllib.parse import quote

from oms.adapters import secrets
from oms.adapters.channels.http import ChannelNotConfigured, VendorRejected, call_json
from oms.services.ports import (
    ChannelItem,
    ChannelOrder,
    ChannelRefund,
    ChannelRefundResult,
    ChannelRejected,
    ChannelReturnItem,
    ChannelShipment,
    ChannelUnavailable,
)

API_VERSION = "2024-10"
# Fulfillment orders that can still be fulfilled (the others are closed, cancelled, on hold...).
FULFILLABLE_STATUSES = ("open", "in_progress")
# Fulfillments that count as "Shopify already has this parcel".
LIVE_FULFILLMENT_STATUSES = ("pending", "open", "success")
CANCEL_REASONS = ("customer", "inventory", "fraud", "declined", "other")
# OMS reasons that have a Shopify equivalent; anything else is "other".
REASON_ALIASES = {"out_of_stock": "inventory", "no_stock": "inventory", "payment_declined": "declined",
                  "customer_request": "customer"}
# Shopify's ReturnReason values for the OMS's return reasons.
RETURN_REASONS = {"damaged": "DEFECTIVE", "defective": "DEFECTIVE", "wrong_item": "WRONG_ITEM",
                  "not_as_described": "NOT_AS_DESCRIBED", "arrived_late": "OTHER", "size_too_small": "SIZE_TOO_SMALL",
                  "size_too_large": "SIZE_TOO_LARGE", "changed_mind": "UNWANTED", "other": "OTHER"}
RETURNS_AND_FULFILLMENTS = """query($id: ID!) { order(id: $id) {
  returns(first: 50) { nodes { id name
    returnLineItems(first: 100) { nodes { ... on ReturnLineItem { customerNote } } } } }
  fulfillments(first: 50) { fulfillmentLineItems(first: 100) { nodes { id quantity lineItem { id } } } } } }"""
ORDER_UPDATE = """mutation($input: OrderInput!) { orderUpdate(input: $input) {
  order { id } userErrors { field message } } }"""
RETURN_CREATE = """mutation($input: ReturnInput!) { returnCreate(returnInput: $input) {
  return { id name } userErrors { field message } } }"""
# The shop domain comes from a webhook header the HMAC does not cover: only a Shopify shop's
# own address may receive our access token.
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$")

# Carrier name as Shopify spells it, and the carrier's public tracking page.
CARRIERS = {
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "federalexpress": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "dhl": ("DHL Express", "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}"),
    "dhlexpress": ("DHL Express",
                   "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}"),
}


def tracking_company(carrier: str) -> str:
    known = CARRIERS.get(_carrier_key(carrier))
    return known[0] if known else carrier


def tracking_url(carrier: str, number: str) -> str | None:
    known = CARRIERS.get(_carrier_key(carrier))
    return known[1].format(number=quote(number, safe="")) if known else None


def _tracking_info(shipment: ChannelShipment) -> dict:
    info = {"number": shipment.tracking_number, "company": tracking_company(shipment.carrier)}
    url = shipment.tracking_url or tracking_url(shipment.carrier, shipment.tracking_number)
    if url:  # for an unknown carrier, Shopify shows the number without a link
        info["url"] = url
    return info


def _carrier_key(carrier: str) -> str:
    return re.sub(r"[^a-z0-9]", "", carrier.lower())


class ShopifyAdmin:
    """The ChannelNotifier for Shopify. Configuration is read on each call (it is cheap, and
    the token itself is cached by Powertools in AWS)."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    # ---- the ChannelNotifier port -----------------------------------------------------------

    def shipment_shipped(self, order: ChannelOrder, shipment: ChannelShipment, idempotency_key: str) -> None:
        shop, order_id = self._shop(order), self._order_id(order)
        if self._fulfillment_with(shop, order_id, shipment.tracking_number) is not None:
            return  # Shopify has this parcel already (an earlier attempt landed)
        wanted = _quantities_by_line(shipment.items)
        if not wanted:
            raise ChannelRejected(f"shipment {shipment.shipment_id}: none of its lines carries a Shopify line item id")
        fulfillment_orders = self._get(shop, f"orders/{order_id}/fulfillment_orders.json").get("fulfillment_orders", [])
        # Units Shopify can no longer fulfil (fulfilled elsewhere) are left out; none at all is an error.
        by_fulfillment_order = _spread(wanted, fulfillment_orders)
        if not by_fulfillment_order:
            raise ChannelRejected(
                f"shipment {shipment.shipment_id}: Shopify order {order_id} has no open fulfillment order line "
                f"for line items {sorted(wanted)}")
        self._post(shop, "fulfillments.json", {"fulfillment": {
            "line_items_by_fulfillment_order": [
                {"fulfillment_order_id": fo_id,
                 "fulfillment_order_line_items": [{"id": line_id, "quantity": quantity} for line_id, quantity in lines]}
                for fo_id, lines in by_fulfillment_order.items()],
            "tracking_info": _tracking_info(shipment),
            "notify_customer": True,
        }})

    def shipment_delivered(self, order: ChannelOrder, shipment: ChannelShipment, idempotency_key: str) -> None:
        shop, order_id = self._shop(order), self._order_id(order)
        fulfillment = self._fulfillment_with(shop, order_id, shipment.tracking_number)
        if fulfillment is None:
            # The "shipped" call may not have landed yet; it will, and then this one can.
            raise ChannelUnavailable(
                f"Shopify order {order_id} has no fulfillment with tracking number {shipment.tracking_number} yet")
        if fulfillment.get("shipment_status") == "delivered":
            return
        self._post(shop, f"orders/{order_id}/fulfillments/{fulfillment['id']}/events.json",
                   {"event": {"status": "delivered"}})

    def order_cancelled(self, order: ChannelOrder, items: list[ChannelItem], *, whole_order: bool, reason: str,
                        idempotency_key: str) -> None:
        shop, order_id = self._shop(order), self._order_id(order)
        if whole_order:
            self._cancel_order(shop, order_id, reason)
        else:
            self._cancel_lines(shop, order_id, items, idempotency_key)

    def refund(self, order: ChannelOrder, refund: ChannelRefund, idempotency_key: str) -> ChannelRefundResult:
        """Refund money Shopify took: a refund transaction against the order's last successful
        sale or capture, noted with our key so a repeat finds it instead of refunding twice."""
        shop, order_id = self._shop(order), self._order_id(order)
        refunds = self._get(shop, f"orders/{order_id}/refunds.json?limit=250").get("refunds", [])
        done = next((r for r in refunds if r.get("note") == idempotency_key), None)
        if done is None:
            transactions = self._get(shop, f"orders/{order_id}/transactions.json").get("transactions", [])
            parents = [t for t in transactions if t.get("kind") in ("sale", "capture") and t.get("status") == "success"]
            if not parents:
                raise ChannelRejected(f"Shopify order {order_id} has no successful sale or capture to refund")
            parent = parents[-1]
            done = (self._post(shop, f"orders/{order_id}/refunds.json", {"refund": {
                "note": idempotency_key, "notify": True, "currency": refund.currency,
                "transactions": [{"parent_id": parent["id"], "amount": refund.amount, "kind": "refund",
                                  "gateway": parent.get("gateway")}]}}) or {}).get("refund") or {}
        statuses = {t.get("status") for t in done.get("transactions") or []}
        status = ("failed" if statuses & {"failure", "error"} else "pending" if "pending" in statuses
                  else "succeeded")
        return ChannelRefundResult(str(done.get("id")), status)

    def return_accepted(self, order: ChannelOrder, rma_number: str, items: list[ChannelReturnItem],
                        idempotency_key: str) -> None:
        """A return on the Shopify order for the units the OMS accepted back, each line noted with
        our RMA number, so a repeat finds it instead of opening a second one."""
        shop, order_id = self._shop(order), self._order_id(order)
        gid = f"gid://shopify/Order/{order_id}"
        known = self._graphql(shop, RETURNS_AND_FULFILLMENTS, {"id": gid}).get("order") or {}
        note = f"OMS return {rma_number}"
        for existing in (known.get("returns") or {}).get("nodes", []):
            lines = (existing.get("returnLineItems") or {}).get("nodes", [])
            if any(note == (line.get("customerNote") or "") for line in lines):
                return  # told before
        fulfilled = [node for fulfillment in known.get("fulfillments") or []
                     for node in (fulfillment.get("fulfillmentLineItems") or {}).get("nodes", [])]
        return_lines = []
        for item in items:
            need = item.quantity
            for node in fulfilled:
                if need and str((node.get("lineItem") or {}).get("id", "")).rsplit("/", 1)[-1] == str(
                        item.channel_line_id):
                    take = min(need, node.get("quantity") or 0)
                    if take:
                        return_lines.append({"fulfillmentLineItemId": node["id"], "quantity": take,
                                             "returnReason": RETURN_REASONS.get(item.reason, "OTHER"),
                                             "customerNote": note})
                        need -= take
        if not return_lines:
            raise ChannelRejected(f"Shopify order {order_id}: no fulfilled line item to return for {rma_number}")
        answer = self._graphql(shop, RETURN_CREATE, {"input": {"orderId": gid, "notifyCustomer": False,
                                                               "returnLineItems": return_lines}})
        errors = (answer.get("returnCreate") or {}).get("userErrors") or []
        if errors:
            raise ChannelRejected(f"Shopify refused the return {rma_number}: {errors}")

    def shipping_address_changed(self, order: ChannelOrder, address: dict, idempotency_key: str) -> None:
        """The order's shipping address as an agent corrected it (orderUpdate sets it; the same
        address again changes nothing)."""
        first, _, last = (address.get("name") or "").strip().partition(" ")
        mailing = {"address1": address.get("line1") or "", "address2": address.get("line2") or "",
                   "city": address.get("city") or "", "provinceCode": address.get("region") or None,
                   "zip": address.get("postal_code") or "", "countryCode": (address.get("country") or "").upper(),
                   "firstName": first, "lastName": last, "phone": address.get("phone") or None}
        answer = self._graphql(self._shop(order), ORDER_UPDATE, {"input": {
            "id": f"gid://shopify/Order/{self._order_id(order)}", "shippingAddress": mailing}})
        errors = (answer.get("orderUpdate") or {}).get("userErrors") or []
        if errors:
            raise ChannelRejected(f"Shopify refused the new shipping address: {errors}")

    def _graphql(self, shop: str, query: str, variables: dict) -> dict:
        answer = self._post(shop, "graphql.json", {"query": query, "variables": variables}) or {}
        problems = answer.get("errors") or []
        if any((p.get("extensions") or {}).get("code") == "THROTTLED" for p in problems if isinstance(p, dict)):
            raise ChannelUnavailable("Shopify GraphQL throttled the call")
        if problems:
            raise ChannelRejected(f"Shopify GraphQL: {problems}")
        return answer.get("data") or {}

    # ---- cancellations ----------------------------------------------------------------------

    def _cancel_order(self, shop: str, order_id: str, reason: str) -> None:
        if self._is_cancelled(shop, order_id):
            return
        try:
            self._post(shop, f"orders/{order_id}/cancel.json", {"reason": shopify_reason(reason), "email": False})
        except VendorRejected as refusal:
            # Shopify refuses (422) to cancel a cancelled order; a concurrent or earlier attempt
            # may have done it between our read and our POST. Anything else is a real refusal.
            if refusal.status == 422 and self._is_cancelled(shop, order_id):
                return
            raise

    def _is_cancelled(self, shop: str, order_id: str) -> bool:
        order = self._get(shop, f"orders/{order_id}.json?fields=id,cancelled_at").get("order") or {}
        return bool(order.get("cancelled_at"))

    def _cancel_lines(self, shop: str, order_id: str, items: list[ChannelItem], idempotency_key: str) -> None:
        wanted = _quantities_by_line(items)
        if not wanted:
            raise ChannelRejected(f"Shopify order {order_id}: none of the cancelled lines carries a line item id")
        refunds = self._get(shop, f"orders/{order_id}/refunds.json?limit=250").get("refunds", [])
        if any(refund.get("note") == idempotency_key for refund in refunds):
            return  # this cancellation was recorded by an earlier attempt
        fulfillment_orders = self._get(shop, f"orders/{order_id}/fulfillment_orders.json").get("fulfillment_orders", [])
        locations = _restock_locations(fulfillment_orders)
        refund_lines = []
        for line_id, quantity in wanted.items():
            line = {"line_item_id": _shopify_id(line_id), "quantity": quantity, "restock_type": "cancel"}
            if line_id in locations:  # Shopify restocks a cancelled line at a location
                line["location_id"] = locations[line_id]
            refund_lines.append(line)
        # No transactions: this records the cancelled lines; money is refunded by whoever holds it.
        self._post(shop, f"orders/{order_id}/refunds.json", {"refund": {
            "note": idempotency_key, "notify": False, "refund_line_items": refund_lines}})

    # ---- reading Shopify --------------------------------------------------------------------

    def _fulfillment_with(self, shop: str, order_id: str, tracking_number: str) -> dict | None:
        fulfillments = self._get(shop, f"orders/{order_id}/fulfillments.json?limit=250").get("fulfillments", [])
        for fulfillment in fulfillments:
            numbers = set(fulfillment.get("tracking_numbers") or []) | {fulfillment.get("tracking_number")}
            if tracking_number in numbers and fulfillment.get("status") in LIVE_FULFILLMENT_STATUSES:
                return fulfillment
        return None

    # ---- plumbing ---------------------------------------------------------------------------

    def admin_url(self, shop_domain: str, path: str) -> str:
        """https://{shop_domain}/admin/api/{version}/{path}, or the configured base URL instead
        of https://{shop_domain}."""
        base = os.environ.get("OMS_CHANNEL_BASE_URL_SHOPIFY") or f"https://{shop_domain}"
        version = os.environ.get("OMS_SHOPIFY_API_VERSION") or API_VERSION
        return f"{base.rstrip('/')}/admin/api/{version}/{path}"

    def _headers(self) -> dict[str, str]:
        try:
            token = secrets.channel_token("shopify")
        except secrets.MissingSecret as missing:
            raise ChannelNotConfigured(f"no Shopify Admin API access token ({missing})") from None
        return {"X-Shopify-Access-Token": token}

    def _get(self, shop: str, path: str):
        answer = call_json("GET", self.admin_url(shop, path), channel="shopify", headers=self._headers(),
                           timeout=self.timeout)
        if not isinstance(answer.body, dict):
            raise ChannelUnavailable(f"GET {path}: Shopify answered {answer.status} without a JSON object")
        return answer.body

    def _post(self, shop: str, path: str, body: dict):
        return call_json("POST", self.admin_url(shop, path), channel="shopify", headers=self._headers(), body=body,
                         timeout=self.timeout).body

    @staticmethod
    def _shop(order: ChannelOrder) -> str:
        shop = order.context.get("shop_domain")
        if not shop or not SHOP_DOMAIN.match(shop.lower()):
            raise ChannelNotConfigured(f"order {order.external_id}: no valid shop_domain in its channel context")
        return shop

    @staticmethod
    def _order_id(order: ChannelOrder) -> str:
        order_id = str(order.context.get("order_id") or order.external_id)
        if not order_id.isdigit():
            raise ChannelRejected(f"order {order.external_id}: Shopify order id {order_id!r} is not numeric")
        return order_id


def shopify_reason(reason: str) -> str:
    key = re.sub(r"[\s-]+", "_", reason.strip().lower())  # "Out of stock" -> out_of_stock
    return key if key in CANCEL_REASONS else REASON_ALIASES.get(key, "other")


def _quantities_by_line(items: list[ChannelItem]) -> dict[str, int]:
    """Quantities per Shopify line item id; lines the channel did not give an id are skipped."""
    wanted: dict[str, int] = defaultdict(int)
    for item in items:
        if item.channel_line_id and item.quantity > 0:
            wanted[str(item.channel_line_id)] += item.quantity
    return dict(wanted)


def _spread(wanted: dict[str, int], fulfillment_orders: list[dict]) -> dict[int, list[tuple[int, int]]]:
    """Place each line's quantity on the open fulfillment order lines that can still take it,
    in Shopify's order: {fulfillment_order_id: [(fulfillment_order_line_item_id, quantity)]}.
    Shopify creates a fulfillment from fulfillment orders of one location only (a parcel leaves
    one building), so the location whose fulfillment orders take the most units is used."""
    best: dict[int, list[tuple[int, int]]] = {}
    best_units = 0
    locations = list(dict.fromkeys(fo.get("assigned_location_id") for fo in fulfillment_orders))
    for location in locations:
        remaining = dict(wanted)
        placed: dict[int, list[tuple[int, int]]] = {}
        for fulfillment_order in fulfillment_orders:
            if (fulfillment_order.get("assigned_location_id") != location
                    or fulfillment_order.get("status") not in FULFILLABLE_STATUSES):
                continue
            for line in fulfillment_order.get("line_items", []):
                line_id = str(line.get("line_item_id"))
                take = min(remaining.get(line_id, 0), line.get("fulfillable_quantity") or 0)
                if take > 0:
                    placed.setdefault(fulfillment_order["id"], []).append((line["id"], take))
                    remaining[line_id] -= take
        units = sum(quantity for lines in placed.values() for _, quantity in lines)
        if units > best_units:
            best, best_units = placed, units
    return best


def _restock_locations(fulfillment_orders: list[dict]) -> dict[str, int]:
    """Where each line waits to be fulfilled: the location a cancelled unit goes back to."""
    locations: dict[str, int] = {}
    for fulfillment_order in fulfillment_orders:
        if fulfillment_order.get("status") not in FULFILLABLE_STATUSES:
            continue
        for line in fulfillment_order.get("line_items", []):
            locations.setdefault(str(line.get("line_item_id")), fulfillment_order.get("assigned_location_id"))
    return {line_id: location for line_id, location in locations.items() if location is not None}


def _shopify_id(value: str):
    # Shopify's ids are 64-bit integers; send them as JSON integers, as Shopify gives them.
    return int(value) if value.isdigit() else value
