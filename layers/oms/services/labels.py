"""Carrier rates and labels for packed fulfilment orders, through the carrier port (EasyPost).

Each package becomes one carrier shipment, recorded on the package before anything is bought, so
a label is always bought against the same carrier shipment, and the carrier adapter reads that
shipment before it buys: buying twice (a repeated request, two at once) buys once. A label's
tracking number is registered with the order in the transaction that records it, so the carrier's
webhooks find the parcel. Labels of a fulfilment order cancelled before it shipped are voided
(the postage refund requested) by the fulfilment queue."""
from __future__ import annotations

import os
from dataclasses import asdict

from oms.domain.order import Order, OrderRuleViolation
from oms.domain.order_warehouse import choose_rate

from .context import Context
from .orders import UnknownOrder, decide_capture, update_order
from .ports import OrderCommit, StockMove

STRATEGIES = ("cheapest", "fastest", "cheapest_on_time")


def order_of(fulfillment_order_id: str) -> str:
    return fulfillment_order_id.rsplit("-F", 1)[0]


def promise_days(shipping_method: str) -> int | None:
    """OMS_DELIVERY_PROMISE_DAYS: `standard=5,express=2,overnight=1,*=7` (days per shipping method)."""
    setting = os.environ.get("OMS_DELIVERY_PROMISE_DAYS", "standard=5,express=2,overnight=1,*=7")
    promises = dict(part.strip().split("=", 1) for part in setting.split(",") if "=" in part)
    found = promises.get(shipping_method, promises.get("*"))
    return int(found) if found is not None else None


def label_format() -> str:
    return os.environ.get("OMS_LABEL_FORMAT", "PDF").upper()


def _load(ctx: Context, fulfillment_order_id: str) -> Order:
    order = ctx.store.load(order_of(fulfillment_order_id))
    if order is None:
        raise OrderRuleViolation("not_found", f"no fulfillment order {fulfillment_order_id}")
    order.fulfillment_order(fulfillment_order_id)  # not_found when the order has no such one
    return order


def quote_rates(ctx: Context, fulfillment_order_id: str) -> list[dict]:
    """Every package's rates: [{"package_id", "rate_id", "carrier", "service", "amount", "currency",
    "delivery_days"}]. A package is quoted once; its rates are kept with it."""
    order = _load(ctx, fulfillment_order_id)
    pending = order.packages_to_quote(fulfillment_order_id)
    if pending:
        fo = order.fulfillment_order(fulfillment_order_id)
        origin = next((loc.address for loc in ctx.inventory.locations() if loc.location_id == fo.location_id), None)
        if not origin or not origin.get("postal_code"):
            raise OrderRuleViolation("location_without_address",
                                     f"location {fo.location_id} has no address to ship from")
        destination = next(g for g in order.delivery_groups if g.group_id == fo.delivery_group).shipping_address
        for package in pending:
            shipment_id, rates = ctx.carrier.quote(origin, destination, {
                **package["dimensions_cm"], "weight_grams": package["weight_grams"]}, reference=package["package_id"])
            _update(ctx, fulfillment_order_id, lambda o, p=package, s=shipment_id, r=rates: _quoted(
                o, fulfillment_order_id, p["package_id"], s, [asdict(rate) for rate in r]))
        order = _load(ctx, fulfillment_order_id)
    return [{"package_id": package["package_id"], **rate}
            for package in order.fulfillment_order(fulfillment_order_id).packages for rate in package["rates"]]


def _quoted(order: Order, fulfillment_order_id: str, package_id: str, shipment_id: str, rates: list[dict]):
    order.record_quote(fulfillment_order_id, package_id, shipment_id, rates)  # the first quote stays
    return OrderCommit(order, [], state_only=True)


def buy_labels(ctx: Context, fulfillment_order_id: str, rate_id: str | None,
               strategy: str | None) -> tuple[list[dict], bool]:
    """A label for every package: the named rate (for several packages, the same carrier and
    service for each), or the strategy's. Returns the labels and whether any was bought now."""
    quote_rates(ctx, fulfillment_order_id)
    order = _load(ctx, fulfillment_order_id)
    fo = order.fulfillment_order(fulfillment_order_id)
    promise = promise_days(next(g for g in order.delivery_groups if g.group_id == fo.delivery_group).shipping_method)
    named = next((r for p in fo.packages for r in p["rates"] if r["rate_id"] == rate_id), None) if rate_id else None
    if rate_id and named is None:
        raise OrderRuleViolation("unknown_rate", f"no rate {rate_id} on {fulfillment_order_id}")
    bought = False
    for package in fo.packages:
        if package.get("label"):
            continue
        if named is not None:
            rate = next((r for r in package["rates"] if r["rate_id"] == rate_id
                         or (r["carrier"], r["service"]) == (named["carrier"], named["service"])), None)
            if rate is None:
                raise OrderRuleViolation("unknown_rate", f"package {package['package_id']} has no "
                                                         f"{named['carrier']} {named['service']} rate")
        else:
            rate = choose_rate(package["rates"], strategy or "cheapest", promise)
        label = ctx.carrier.buy(package["carrier_shipment_id"], rate["rate_id"], label_format())
        record = {"carrier_shipment_id": label.shipment_id, "tracking_number": label.tracking_number,
                  "carrier": label.carrier, "service": label.service, "amount": label.amount,
                  "currency": label.currency, "label_url": label.label_url, "label_format": label.label_format}
        events = _update(ctx, fulfillment_order_id, lambda o, p=package, r=record: _labelled(o, fulfillment_order_id,
                                                                                              p["package_id"], r))
        bought = bought or bool(events)
    fo = _load(ctx, fulfillment_order_id).fulfillment_order(fulfillment_order_id)
    return [{"package_id": p["package_id"], **{k: p["label"][k] for k in (
        "tracking_number", "carrier", "service", "amount", "currency", "label_url", "label_format")}}
            for p in fo.packages], bought


def _labelled(order: Order, fulfillment_order_id: str, package_id: str, record: dict) -> OrderCommit:
    events = order.record_label(fulfillment_order_id, package_id, record)
    return OrderCommit(order, events, tracking_numbers=[record["tracking_number"]] if events else [])


def ship_labelled(ctx: Context, fulfillment_order_id: str) -> Order:
    """Hand the labelled packages to the carrier: a shipment per package, as `ship` makes them."""
    result: dict = {}

    def step(order: Order) -> OrderCommit:
        fo = order.fulfillment_order(fulfillment_order_id)
        if not fo.packages or not all(p.get("label") for p in fo.packages):
            raise OrderRuleViolation("no_labels", "ship with a tracking number, or buy labels for every package first")
        events, moves = [], []
        for package in fo.packages:
            label = package["label"]
            if any(s.tracking_number == label["tracking_number"] for s in fo.shipments):
                continue
            shipment, shipped = order.ship(fulfillment_order_id, carrier=label["carrier"],
                                           tracking_number=label["tracking_number"], service=label["service"],
                                           lines=[dict(line) for line in package["lines"]], now=ctx.clock.now())
            events += shipped
            moves += [StockMove(i["sku"], fo.location_id, ship=i["quantity"]) for i in shipped[0].data["lines"]]
        if events:  # one capture for every parcel that left
            decide_capture(ctx, order, shipment.shipment_id)
        result["order"] = order
        return OrderCommit(order, events, stock_moves=moves)
    _update(ctx, fulfillment_order_id, step)
    return result["order"]


def void_labels(ctx: Context, order_id: str) -> int:
    """Void the labels of fulfilment orders cancelled before they shipped; how many were voided."""
    order = ctx.store.load(order_id)
    if order is None or ctx.carrier is None:
        return 0
    from .ports import CarrierRejected

    voided = 0
    for fo_id, package_id, shipment_id in order.labels_to_void():
        try:
            status = ctx.carrier.void(shipment_id)
        except CarrierRejected as refusal:  # e.g. scanned already: recorded, and the others still go
            status = f"refused: {refusal}"[:200]
        voided += len(update_order(ctx, order_id, lambda o, f=fo_id, p=package_id, s=status: OrderCommit(
            o, o.record_label_void(f, p, s))))
    return voided


def _update(ctx: Context, fulfillment_order_id: str, step):
    try:
        return update_order(ctx, order_of(fulfillment_order_id), step)
    except UnknownOrder:
        raise OrderRuleViolation("not_found", f"no fulfillment order {fulfillment_order_id}") from None


RETURN_BOX = {"length": 30, "width": 20, "height": 15, "weight_grams": 1000}  # when none is given


def return_label(ctx: Context, return_id: str, rate_id: str | None, strategy: str | None,
                 location_id: str | None, parcel: dict | None) -> tuple[dict, bool]:
    """A label for the parcel coming back, from the customer's address to the location that
    receives it (the one that shipped the order, unless named), bought once like a fulfilment
    order's. Returns the label and whether it was bought now."""
    from .ports import ReturnCommit
    from .returns import UnknownReturn, change_return

    ret = ctx.returns.load_return(return_id)
    if ret is None:
        raise OrderRuleViolation("not_found", f"no return {return_id}")
    if ret.label and ret.label.get("tracking_number"):
        return _return_label_view(ret.label), False
    order = ctx.store.load(ret.order_id)
    locations = {loc.location_id: loc for loc in ctx.inventory.locations()}
    shipped_from = [fo.location_id for fo in order.fulfillment_orders if fo.shipments]
    destination = location_id or (ret.label or {}).get("location_id") or (shipped_from[0] if shipped_from else None)
    if destination not in locations or not locations[destination].address.get("postal_code"):
        raise OrderRuleViolation("location_without_address", f"location {destination} has no address to ship back to")
    if not (ret.label or {}).get("carrier_shipment_id"):
        line_groups = {order.line(line.line_id).delivery_group for line in ret.lines}
        customer = next(g.shipping_address for g in order.delivery_groups if g.group_id in line_groups)
        box = parcel or RETURN_BOX
        shipment_id, rates = ctx.carrier.quote(customer, locations[destination].address, box,
                                               reference=ret.rma_number)
        def quoted(r):
            r.record_label_quote(shipment_id, destination, [asdict(rate) for rate in rates])
            return ReturnCommit(r, [], state_only=True)
        try:
            ret = change_return(ctx, return_id, quoted)
        except UnknownReturn:
            raise OrderRuleViolation("not_found", f"no return {return_id}") from None
    rates = ret.label["rates"]
    if rate_id:
        rate = next((r for r in rates if r["rate_id"] == rate_id), None)
        if rate is None:
            raise OrderRuleViolation("unknown_rate", f"no rate {rate_id} for return {ret.rma_number}")
    else:
        rate = choose_rate(rates, strategy or "cheapest", None if strategy != "cheapest_on_time"
                           else promise_days(order.delivery_groups[0].shipping_method))
    label = ctx.carrier.buy(ret.label["carrier_shipment_id"], rate["rate_id"], label_format())
    record = {"tracking_number": label.tracking_number, "carrier": label.carrier, "service": label.service,
              "amount": label.amount, "currency": label.currency, "label_url": label.label_url,
              "label_format": label.label_format}
    def labelled(r):
        if r.label and r.label.get("tracking_number"):
            return None  # another request recorded it
        events = r.record_label(record)
        return ReturnCommit(r, events, tracking_numbers=[record["tracking_number"]])
    ret = change_return(ctx, return_id, labelled)
    return _return_label_view(ret.label), True


def _return_label_view(label: dict) -> dict:
    return {key: label[key] for key in ("tracking_number", "carrier", "service", "amount", "currency", "label_url",
                                        "label_format", "location_id")}
