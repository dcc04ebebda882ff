"""Returns: opened by a customer or an operator against the order's delivered units, decided,
tracked back, received (sellable units restocked, damaged ones written off), refunded and closed.
The return is its own aggregate; the order learns what came back from its events (returns queue)."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from oms.domain.events import DomainEvent
from oms.domain.holds import Hold
from oms.domain.money import to_minor
from oms.domain.order import Order, OrderRuleViolation
from oms.domain.returns import Return

from .context import Context
from .orders import MAX_ATTEMPTS, UnknownOrder, update_order
from .ports import ConcurrentModification, OrderCommit, ReturnCommit, StockMove


class UnknownReturn(LookupError):
    """No return has that id."""


@dataclass(frozen=True)
class ReturnPolicy:
    window_days: int = 30
    auto_approve: bool = True
    restocking_fee_percent: str = "0"
    returnless_below: str = "0"  # in the order's currency; 0 = off

    @classmethod
    def from_environment(cls) -> ReturnPolicy:
        return cls(window_days=int(os.environ.get("OMS_RETURN_WINDOW_DAYS", "30")),
                   auto_approve=os.environ.get("OMS_RETURN_AUTO_APPROVE", "1") == "1",
                   restocking_fee_percent=os.environ.get("OMS_RESTOCKING_FEE_PERCENT", "0"),
                   returnless_below=os.environ.get("OMS_RETURNLESS_REFUND_BELOW", "0"))


def open_return(ctx: Context, order_id: str, lines: list[dict], *, source: str, ship_replacement: str,
                policy: ReturnPolicy) -> Return:
    """The return and its claim on the order's units commit together: two requests at once can
    never claim the same unit."""
    opened: dict = {}

    def step(order: Order) -> OrderCommit:
        ret, events = order.open_return(
            lines, return_id=ctx.new_return_id(), rma_number=ctx.new_rma_number(), source=source,
            now=ctx.clock.now(), window_days=policy.window_days, ship_replacement=ship_replacement,
            restocking_fee_percent=policy.restocking_fee_percent,
            returnless_below=to_minor(policy.returnless_below, order.currency), auto_approve=policy.auto_approve)
        opened["return"] = ret
        return OrderCommit(order, [], state_only=True, returns=[ReturnCommit(ret, events, is_new=True)])
    update_order(ctx, order_id, step)
    return opened["return"]


def change_return(ctx: Context, return_id: str, step: Callable[[Return], ReturnCommit | None]) -> Return:
    """Load, apply, commit the return; on a lost race reload and try again."""
    for attempt in range(MAX_ATTEMPTS):
        ret = ctx.returns.load_return(return_id)
        if ret is None:
            raise UnknownReturn(return_id)
        change = step(ret)
        if change is None or not (change.events or change.restock or change.tracking_numbers or change.state_only):
            return ret
        try:
            ctx.returns.commit_return(change)
            return ret
        except ConcurrentModification:
            ctx.backoff(attempt)
    raise ConcurrentModification(return_id)


def approve(ctx: Context, return_id: str) -> Return:
    return change_return(ctx, return_id, lambda ret: ReturnCommit(ret, ret.approve(ctx.clock.now())))


def decline(ctx: Context, return_id: str, reason: str) -> Return:
    return change_return(ctx, return_id, lambda ret: ReturnCommit(ret, ret.decline(reason)))


def cancel(ctx: Context, return_id: str, reason: str) -> Return:
    return change_return(ctx, return_id, lambda ret: ReturnCommit(ret, ret.cancel(reason)))


def close(ctx: Context, return_id: str) -> Return:
    return change_return(ctx, return_id, lambda ret: ReturnCommit(ret, ret.close()))


def register_tracking(ctx: Context, return_id: str, carrier: str, tracking_number: str) -> Return:
    def step(ret: Return) -> ReturnCommit:
        ret.register_tracking(carrier, tracking_number)
        return ReturnCommit(ret, [], tracking_numbers=[tracking_number])
    return change_return(ctx, return_id, step)


def receive(ctx: Context, return_id: str, location_id: str, lines: list[dict]) -> Return:
    """Units arrive: sellable ones go back on hand at the location in the same transaction."""
    def step(ret: Return) -> ReturnCommit:
        events = ret.receive(location_id, lines, ctx.clock.now())
        units: dict[str, int] = {}
        for item in events[0].data["lines"]:  # one stock item once per transaction
            units[item["sku"]] = units.get(item["sku"], 0) + item["sellable"]
        restock = [StockMove(sku, location_id, release=n) for sku, n in units.items() if n]
        return ReturnCommit(ret, events, restock=restock)
    return change_return(ctx, return_id, step)


# ---- the order learns what happened to its return (the returns queue) --------------------------------

def order_learns(ctx: Context, detail: dict) -> list[DomainEvent]:
    """ReturnReceived: the units count as returned and are refunded; any other status change
    releases (or keeps) the order's claim on the units."""
    data = detail["data"]
    events: list[DomainEvent] = []
    if detail["event_type"] == "ReturnApproved":
        events += place_exchange_order(ctx, data["return_id"])
    if detail["event_type"] == "ReturnReceived":
        return release_exchange(ctx, data["return_id"]) + refund_receipt(ctx, data)
    if detail["event_type"] == "ReturnCancelled":
        events += cancel_exchange(ctx, data["return_id"], data["reason"])
    if detail["event_type"] == "ReturnClosed":
        events += release_exchange(ctx, data["return_id"])
    status = {"ReturnApproved": "approved", "ReturnDeclined": "declined", "ReturnCancelled": "cancelled",
              "ReturnInTransit": "in_transit", "ReturnClosed": "closed"}[detail["event_type"]]
    unreceived = {item["line_id"]: item["quantity"] for item in data.get("unreceived", [])}
    return events + update_order(ctx, data["order_id"], lambda order: OrderCommit(
        order, [], state_only=order.record_return_status(data["return_id"], status, unreceived)))


def place_exchange_order(ctx: Context, return_id: str) -> list[DomainEvent]:
    """The replacement units become an order of their own (channel "exchange", one per return:
    its external id is the return's), linked both ways, reserved now, and held until the return
    arrives unless it ships at once. The credit (what the exchanged units were worth) comes off
    its lines; what is left, if anything, the customer pays (see exchange_payment)."""
    from oms.domain.money import to_decimal_string

    from .canonical import CanonicalOrder
    from .intake import body_fingerprint, receive_order

    ret = ctx.returns.load_return(return_id)
    if ret is None or not ret.exchanges() or ret.exchange_order_id or ret.status in ("cancelled", "declined"):
        return []
    original = ctx.store.load(ret.order_id)
    group = original.delivery_groups[0]
    money = lambda minor: to_decimal_string(minor, original.currency)  # noqa: E731
    lines = []
    for line in ret.exchanges():
        wanted = line.exchange_for
        price = wanted["unit_price"] * wanted["quantity"]
        credit = price if wanted.get("even", "credit" not in wanted) else min(price, wanted["credit"])
        lines.append({"sku": wanted["sku"], "quantity": wanted["quantity"], "unit_price": money(wanted["unit_price"]),
                      "discount": money(credit)})
    credits = sum(to_minor(line["discount"], original.currency) for line in lines)
    body = {"external_id": ret.return_id, "channel_order_number": ret.rma_number, "placed_at": ctx.clock.now(),
            "currency": original.currency, "customer": original.customer, "billing_address": original.billing_address,
            "shipping_address": group.shipping_address, "shipping_method": group.shipping_method, "lines": lines,
            "shipping_total": "0", "tax_total": "0", "taxes_included": True, "discount_total": money(credits),
            "total": money(ret.exchange_charge), "payment": exchange_payment(original, ret)}

    def link(order: Order) -> None:
        order.exchange_for_return_id = ret.return_id
        if ret.ship_replacement != "immediately":
            order.holds.append(Hold("awaiting_return", f"ships when return {ret.rma_number} is received"))
        if order.payment.method == "card":  # the original card, without the customer
            order.payment.off_session = True
            order.payment.saved_payment_method = original.payment.saved_payment_method
            order.payment.processor_customer = original.payment.processor_customer
    received = receive_order(ctx, CanonicalOrder.model_validate(body), channel="exchange",
                             fingerprint=body_fingerprint({"exchange_for_return_id": ret.return_id}), shape=link)
    linked = change_return(ctx, return_id, lambda r: ReturnCommit(r, r.record_exchange_order(received.order_id)))
    if linked.status == "cancelled":  # cancelled meanwhile: its ReturnCancelled found nothing to cancel
        return cancel_exchange(ctx, return_id, "the return was cancelled")
    # The units may have arrived meanwhile (their ReturnReceived found no exchange to release).
    return release_exchange(ctx, return_id)


def exchange_payment(original: Order, ret: Return) -> dict:
    """How the exchange order is paid: nothing more (the credit covers it); the difference
    authorised on the original card off-session; or, when the original was paid at the channel
    or has no card saved for later use, by an operator who collects it (the order waits on an
    awaiting_payment hold, released once the money is in)."""
    reference = f"exchange:{ret.return_id}"
    if not ret.exchange_charge:
        return {"method": "prepaid", "reference": reference}
    card = original.payment
    if card.method == "card" and card.saved_payment_method:
        return {"method": "card", "payment_method": card.saved_payment_method}
    return {"method": "channel", "status": "pending", "reference": reference}


def cancel_exchange(ctx: Context, return_id: str, reason: str) -> list[DomainEvent]:
    """A return cancelled (or closed with none of its exchanged units back) after its exchange
    order was placed: the replacement does not ship."""
    from .orders import cancel_order

    ret = ctx.returns.load_return(return_id)
    if ret is None or not ret.exchange_order_id:
        return []
    exchange = ctx.store.load(ret.exchange_order_id)
    if exchange is None or not any(exchange.cancellable(line) for line in exchange.lines):
        return []
    return cancel_order(ctx, ret.exchange_order_id, None, reason=f"return {ret.rma_number}: {reason}",
                        source="operator")


def release_exchange(ctx: Context, return_id: str) -> list[DomainEvent]:
    """The replacements ship once every exchanged unit is back; a return that ends with none of
    them back cancels its exchange, and one with only some back leaves it to an operator."""
    ret = ctx.returns.load_return(return_id)
    if ret is None or not ret.exchange_order_id:
        return []
    due = ret.replacements_due()
    if due == "ship":
        return update_order(ctx, ret.exchange_order_id,
                            lambda order: OrderCommit(order, order.release_awaiting_return()))
    if due == "cancel":
        return cancel_exchange(ctx, return_id, "none of the exchanged units came back")
    if due == "operator":
        missing = sum(line.quantity - line.back for line in ret.exchanges())
        detail = (f"return {ret.rma_number} ended without {missing} of the exchanged unit(s): release this hold to "
                  f"ship the replacement anyway, or cancel the order")
        return update_order(ctx, ret.exchange_order_id, lambda order: OrderCommit(
            order, [], state_only=order.explain_hold("awaiting_return", detail)))
    return []


def _shares(amount: int, weights: list[int]) -> list[int]:
    """`amount` split in proportion to `weights`, in whole minor units that add up exactly."""
    total = sum(weights)
    if not total:
        return [0 for _ in weights]
    shares = [amount * w // total for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: -(amount * weights[i] % total))
    for i in by_remainder[:amount - sum(shares)]:
        shares[i] += 1
    return shares


def refund_receipt(ctx: Context, data: dict) -> list[DomainEvent]:
    """What the receipt's units are worth goes back, through the refunds (once per receipt: the
    request key names it), never more than is left to refund. RefundRequested then takes it to
    the processor (payments queue) or the channel (channel-updates queue)."""
    key = f"{data['return_id']}:receipt:{data['receipt']}"

    def step(order: Order) -> OrderCommit | None:
        if order.receipt_applied(data["return_id"], data["receipt"]):
            return None  # this receipt was applied already (a redelivered event)
        cancelled = _replacements_cancelled(ctx, data["return_id"])  # read again on every attempt
        lines = [{**item, "exchanged": False} if item.get("return_line") in cancelled else item
                 for item in data["lines"]]  # no replacement: these units are refunded instead
        amount, units, shipping = order.record_returned(data["return_id"], lines,
                                                        data["restocking_fee_percent"], receipt=data["receipt"])
        order.record_return_status(data["return_id"], "received")
        amount = min(amount, order.payment.refundable())
        if amount <= 0:
            return OrderCommit(order, [], state_only=True)
        merchant = any(item["reason"] in ("damaged", "defective") for item in lines)
        try:
            _, events = order.request_refund(
                amount=amount, lines=units, shipping=shipping, reason="damaged" if merchant else "other",
                case_id=None, request_key=key, request_hash=key, now=ctx.clock.now(), return_id=data["return_id"])
        except OrderRuleViolation as refusal:  # e.g. the payment is disputed: the units still came back
            events = order._place_holds([Hold("refund_failed", f"return {data['rma_number']} was not refunded: "
                                                               f"{refusal}")])
        return OrderCommit(order, events, state_only=True)
    try:
        return update_order(ctx, data["order_id"], step)
    except UnknownOrder:
        return []


def _replacements_cancelled(ctx: Context, return_id: str) -> set[int]:
    """The return's lines whose replacement was cancelled on the exchange order (its lines are
    the return's exchange lines, in order)."""
    ret = ctx.returns.load_return(return_id)
    exchange = ctx.store.load(ret.exchange_order_id) if ret and ret.exchange_order_id else None
    if exchange is None:
        return set()
    numbered = [n for n, line in enumerate(ret.lines) if line.exchange_for]
    return {n for n, line in zip(numbered, exchange.lines, strict=False) if not line.open_quantity}
