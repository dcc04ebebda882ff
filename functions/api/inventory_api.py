"""Stock over HTTP (ops token): locations, counts, what a SKU has where and what moved it."""
from __future__ import annotations

from chalice import Blueprint

from .http import ANY_BODY, ApiError, api_errors, documented, json_object, json_response, parsed, raw_body
from .ops import ops_token_authorizer

inventory_api = Blueprint(__name__)
PAGE = 50


def _ctx():
    from oms.bootstrap import context

    return context()


def _body(model):
    return parsed(json_object(raw_body(inventory_api.current_request)), model)


def _params() -> dict:
    return inventory_api.current_request.query_params or {}


@inventory_api.route("/locations/{location_id}", methods=["PUT"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("LocationIn")
@api_errors
def put_location(location_id: str):
    from oms.domain.inventory import Location
    from oms.services.inventory import put_location as save

    from .ops_inputs import LocationIn

    body = _body(LocationIn)
    save(_ctx(), Location(location_id, body.name, body.type, body.priority, body.address, body.latitude,
                          body.longitude, body.ships, body.daily_capacity))
    return json_response(200, {"location_id": location_id, **body.model_dump()})


def stock_view(sku: str, levels) -> dict:
    return {"sku": sku,
            "locations": [{"location_id": s.location_id, "on_hand": s.on_hand, "reserved": s.reserved,
                           "safety_stock": s.safety_stock, "available": s.available, "inbound": s.inbound}
                          for s in levels],
            "totals": {"on_hand": sum(s.on_hand for s in levels), "reserved": sum(s.reserved for s in levels),
                       "available": sum(s.available for s in levels), "inbound": sum(s.inbound for s in levels)}}


@inventory_api.route("/inventory/{sku}/locations/{location_id}", methods=["PUT"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("StockIn")
@api_errors
def put_stock(sku: str, location_id: str):
    from oms.services.inventory import UnknownLocation, set_stock, stock_of

    from .ops_inputs import StockIn

    body = _body(StockIn)
    ctx = _ctx()
    try:
        set_stock(ctx, sku, location_id, body.on_hand, body.safety_stock)
        if body.bin is not None:
            ctx.inventory.put_bin(sku, location_id, body.bin)
    except UnknownLocation:
        raise ApiError(422, "unknown_location",
                       f"no location {location_id}; PUT /locations/{location_id} first") from None
    return json_response(200, stock_view(sku, stock_of(ctx, sku)))


@inventory_api.route("/inventory/{sku}", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_stock(sku: str):
    from oms.services.inventory import stock_of

    levels = stock_of(_ctx(), sku)
    if levels is None:
        raise ApiError(404, "not_found", f"no SKU {sku}")
    return json_response(200, stock_view(sku, levels))


@inventory_api.route("/inventory/{sku}/history", methods=["GET"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(query=("cursor",), errors=(404, 422))
@api_errors
def stock_history(sku: str):
    """Every adjustment of the SKU with its reason, by location then time, 50 a page."""
    ctx = _ctx()
    if not ctx.inventory.known_skus({sku}):
        raise ApiError(404, "not_found", f"no SKU {sku}")
    try:
        records, following = ctx.inventory.stock_history(sku, _params().get("cursor") or None, PAGE)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "the cursor is not one this API gave") from None
    return json_response(200, {"sku": sku, "adjustments": records, "next_cursor": following})


# ---- purchase orders and transfers -----------------------------------------------------------------------

def _stock_in(action):
    """Run a purchase-order or transfer action; its refusals become 4xx."""
    from oms.domain.holds import OrderRuleViolation
    from oms.services.inventory import UnknownLocation
    from oms.services.purchasing import UnknownDocument

    try:
        return action()
    except UnknownDocument as error:
        raise ApiError(404, "not_found", f"no such document {error}") from None
    except UnknownLocation as error:
        raise ApiError(422, "unknown_location", f"no location {error}") from None
    except OrderRuleViolation as error:
        raise ApiError(422 if error.code == "same_location" else 409, error.code, str(error)) from None


@inventory_api.route("/purchase-orders", methods=["POST"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented("PurchaseOrderIn", headers=("Idempotency-Key",), ok=(201, 200), errors=(404, 409))
@api_errors
def open_purchase_order():
    from oms.services.purchasing import open_purchase_order as open_

    from .ops_inputs import PurchaseOrderIn

    body = _body(PurchaseOrderIn)
    key, fingerprint = _idempotency(body)
    po, created = _stock_in(lambda: open_(_ctx(), body.supplier, body.location_id, body.expected_at,
                                          [line.model_dump() for line in body.lines], key, fingerprint))
    return json_response(201 if created else 200, po.view())


def _idempotency(body) -> tuple[str | None, str]:
    """The request's Idempotency-Key (optional) and what its body was, to tell a repeat from a reuse."""
    import hashlib
    import json

    key = (inventory_api.current_request.headers.get("idempotency-key") or "").strip() or None
    if key and len(key) > 255:
        raise ApiError(422, "invalid_idempotency_key", "an Idempotency-Key has at most 255 characters")
    return key, hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()


@inventory_api.route("/purchase-orders/{purchase_order_id}/close", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("CloseIn", optional=True, errors=(404, 409))
@api_errors
def close_purchase_order(purchase_order_id: str):
    from oms.services.purchasing import close_purchase_order as close

    from .ops_inputs import CloseIn

    body = _body(CloseIn) if raw_body(inventory_api.current_request).strip() else CloseIn()  # a body is optional
    return json_response(200, _stock_in(lambda: close(_ctx(), purchase_order_id, body.reason)).view())


@inventory_api.route("/purchase-orders/{purchase_order_id}", methods=["GET"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_purchase_order(purchase_order_id: str):
    from oms.services.purchasing import load_purchase_order

    return json_response(200, _stock_in(lambda: load_purchase_order(_ctx(), purchase_order_id)).view())


@inventory_api.route("/purchase-orders/{purchase_order_id}/receipts", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("ReceiptIn", errors=(404, 409))
@api_errors
def receive_purchase_order(purchase_order_id: str):
    from oms.services.purchasing import receive_purchase_order as receive

    from .ops_inputs import ReceiptIn

    body = _body(ReceiptIn)
    po = _stock_in(lambda: receive(_ctx(), purchase_order_id, body.receipt_id,
                                   [line.model_dump() for line in body.lines]))
    return json_response(200, po.view())


@inventory_api.route("/inventory/transfers", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("TransferIn", headers=("Idempotency-Key",), ok=(201, 200), errors=(404, 409))
@api_errors
def send_transfer():
    from oms.services.purchasing import send_transfer as send

    from .ops_inputs import TransferIn

    body = _body(TransferIn)
    key, fingerprint = _idempotency(body)
    transfer, created = _stock_in(lambda: send(_ctx(), body.sku, body.from_location_id, body.to_location_id,
                                               body.quantity, key, fingerprint))
    return json_response(201 if created else 200, transfer.view())


@inventory_api.route("/inventory/transfers/{transfer_id}", methods=["GET"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_transfer(transfer_id: str):
    from oms.services.purchasing import load_transfer

    return json_response(200, _stock_in(lambda: load_transfer(_ctx(), transfer_id)).view())


@inventory_api.route("/inventory/transfers/{transfer_id}/receive", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented(errors=(404, 409))
@api_errors
def receive_transfer(transfer_id: str):
    from oms.services.purchasing import receive_transfer as receive

    return json_response(200, _stock_in(lambda: receive(_ctx(), transfer_id)).view())


# ---- warehouse counts ------------------------------------------------------------------------------------

@inventory_api.route("/inventory/snapshots", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("SnapshotIn", ok=(202,))
@api_errors
def post_snapshot():
    """202: the count is reconciled from the imports queue; GET it to see the result."""
    from oms.services.inventory import UnknownLocation
    from oms.services.reconciliation import InvalidSnapshot, submit

    from .ops_inputs import SnapshotIn

    body = _body(SnapshotIn)
    try:
        doc, _ = submit(_ctx(), location_id=body.location_id, as_of=body.as_of, mode=body.mode,
                        items=[item.model_dump() for item in body.items], snapshot_id=body.snapshot_id, source="api")
    except UnknownLocation:
        raise ApiError(422, "unknown_location", f"no location {body.location_id}") from None
    except InvalidSnapshot as error:
        raise ApiError(422, "invalid_snapshot", str(error)) from None
    return json_response(202, {"snapshot_id": doc["snapshot_id"], "status": doc["status"]})


@inventory_api.route("/inventory/snapshots/{snapshot_id}", methods=["GET"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(errors=(404,))
@api_errors
def get_snapshot(snapshot_id: str):
    found = _ctx().inventory.load_document("SNAPSHOT", snapshot_id) if len(snapshot_id) <= 64 else None
    if found is None:
        raise ApiError(404, "not_found", f"no snapshot {snapshot_id}")
    return json_response(200, {k: v for k, v in found[0].items() if k != "history_length"})


@inventory_api.route("/inventory/reconciliations/run", methods=["POST"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented()
@api_errors
def run_reconciliation():
    """What the daily check does, now: `reserved` against what orders hold, repaired where they differ."""
    from oms.services.inventory import repair_reservations

    return json_response(200, repair_reservations(_ctx()))


# ---- what channels may sell ------------------------------------------------------------------------------

@inventory_api.route("/availability", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(required_query=("skus", "channel"), errors=(422,))
@api_errors
def get_availability():
    """`?skus=A,B&channel=web`: ATF and ATO per SKU for that channel (any name; one without a
    policy sells from every location with no buffer)."""
    from oms.services.availability import availability_for

    params = _params()
    skus = [sku for sku in (params.get("skus") or "").split(",") if sku.strip()]
    channel = (params.get("channel") or "").strip()
    if not skus or len(skus) > 100 or any(len(sku) > 100 for sku in skus):
        raise ApiError(422, "validation_failed", "skus: 1 to 100 SKUs, comma-separated")
    if not channel or len(channel) > 64:
        raise ApiError(422, "validation_failed", "channel: the sales channel's name")
    return json_response(200, availability_for(_ctx(), channel, [sku.strip() for sku in skus]))


@inventory_api.route("/channels/{channel}/inventory-policy", methods=["PUT", "GET"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("ChannelPolicyIn", errors=(404,))
@api_errors
def channel_policy(channel: str):
    from dataclasses import asdict

    from oms.services.availability import channel_policy as read
    from oms.services.availability import put_channel_policy
    from oms.services.inventory import UnknownLocation

    from .ops_inputs import ChannelPolicyIn

    if len(channel) > 64:
        raise ApiError(404, "not_found", "no such channel")
    if inventory_api.current_request.method == "GET":
        policy = asdict(read(_ctx(), channel))
        return json_response(200, {"channel": channel, **policy, "locations": policy["locations"] and list(
            policy["locations"])})
    body = _body(ChannelPolicyIn)
    try:
        saved = put_channel_policy(_ctx(), channel, body.locations, body.buffer_units, body.share_percent)
    except UnknownLocation as error:
        raise ApiError(422, "unknown_location", f"no location {error}") from None
    return json_response(200, saved)


# ---- replenishment -------------------------------------------------------------------------------------

@inventory_api.route("/inventory/{sku}/locations/{location_id}/policy", methods=["PUT"], content_types=ANY_BODY,
                     authorizer=ops_token_authorizer)
@documented("ReplenishmentPolicyIn")
@api_errors
def put_replenishment_policy(sku: str, location_id: str):
    from oms.domain.replenishment import ReplenishmentPolicy
    from oms.services.inventory import UnknownLocation
    from oms.services.replenishment import put_policy

    from .ops_inputs import ReplenishmentPolicyIn

    body = _body(ReplenishmentPolicyIn)
    try:
        saved = put_policy(_ctx(), sku, location_id, ReplenishmentPolicy(**body.model_dump()))
    except UnknownLocation:
        raise ApiError(422, "unknown_location", f"no location {location_id}") from None
    return json_response(200, saved)


@inventory_api.route("/replenishment/suggestions", methods=["GET"],
                     content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented(required_query=("location_id",), errors=(422,))
@api_errors
def replenishment_suggestions():
    from oms.services.replenishment import suggestions

    location_id = (_params().get("location_id") or "").strip()
    if not location_id or len(location_id) > 64:
        raise ApiError(422, "validation_failed", "location_id: the location to suggest for")
    return json_response(200, {"location_id": location_id, "suggestions": suggestions(_ctx(), location_id)})
