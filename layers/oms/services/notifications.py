"""Customer e-mails about their order, return, refund and case: one per business event (an
order confirmed, a parcel shipped or delivered, a return approved, a refund made, an agent's
reply), even when the event is delivered twice. The address is read from the order when the
mail is sent; no event or log line carries it: NotificationSent says only which template went
out and the provider's message id.

Once: a sent mail leaves a guard (written with its NotificationSent event); a delivery that
finds none takes a lease before it sends, so a second delivery at the same moment waits. A
crash between sending and recording sends again once the lease runs out (at least once)."""
from __future__ import annotations

import os
import uuid

from oms.domain.events import DomainEvent
from oms.domain.money import to_decimal_string
from oms.domain.order import Order

from .context import Context
from .orders import MAX_ATTEMPTS, update_order
from .ports import CaseCommit, ConcurrentModification, DuplicateReference, OrderCommit

LEASE_SECONDS = 120
# The business event each e-mail is about: (template, what makes it one).
TRIGGERS = {"PaymentAuthorized": ("order_confirmed", None), "PaymentRecorded": ("order_confirmed", None),
            "ShipmentCreated": ("order_shipped", "shipment_id"),
            "ShipmentDelivered": ("order_delivered", "shipment_id"),
            "ReturnApproved": ("return_approved", "return_id"), "RefundSucceeded": ("refund_issued", "refund_id"),
            "CaseMessageAdded": ("case_reply", "message_id")}


class NotificationBusy(Exception):
    """Another delivery is sending this e-mail now: try again after its lease."""


def enabled() -> bool:
    return os.environ.get("OMS_NOTIFICATIONS", "1") != "0"


def notify(ctx: Context, detail: dict) -> str:
    """Send the e-mail this event calls for, once. Returns what happened: sent, duplicate,
    not_for_customer (an internal note, a case without an order), or disabled."""
    if not enabled():
        return "disabled"
    event_type, data = detail["event_type"], detail["data"]
    template, key_field = TRIGGERS[event_type]
    case = None
    if event_type == "CaseMessageAdded":
        if data["author"] != "agent" or data["internal"]:
            return "not_for_customer"
        case = ctx.cases.load_case(data["case_id"])
        order_id = case.order_id if case else None
    else:
        order_id = data.get("order_id") if event_type == "ReturnApproved" else detail["aggregate_id"]
    order = ctx.store.load(order_id) if order_id else None
    if order is None or not order.customer.get("email"):
        return "not_for_customer"
    key = f"{template}:{data[key_field] if key_field else order.order_id}"
    if ctx.notifications.notification_sent(key):
        return "duplicate"
    if not ctx.notifications.claim_notification(key, uuid.uuid4().hex, LEASE_SECONDS):
        raise NotificationBusy(key)
    from oms.adapters.mail import render

    subject, html, text = render(template, _context(ctx, template, order, data, case))
    message_id = ctx.mailer.send(order.customer["email"], subject, html, text)
    sent = DomainEvent("NotificationSent", {"template": template, "message_id": message_id})
    try:
        if case is not None:
            _record_on_case(ctx, case.case_id, sent, key)
        else:
            update_order(ctx, order.order_id, lambda current: OrderCommit(current, [sent], guards=[f"notify:{key}"]))
    except DuplicateReference:
        return "duplicate"  # recorded by a delivery whose lease ran out while this one sent
    return "sent"


def _record_on_case(ctx: Context, case_id: str, sent: DomainEvent, key: str) -> None:
    for attempt in range(MAX_ATTEMPTS):
        try:
            ctx.cases.commit_case(CaseCommit(ctx.cases.load_case(case_id), [sent], guards=[f"notify:{key}"]))
            return
        except ConcurrentModification:
            ctx.backoff(attempt)
    raise ConcurrentModification(case_id)


def _context(ctx: Context, template: str, order: Order, data: dict, case) -> dict:
    money = lambda minor: to_decimal_string(minor, order.currency)  # noqa: E731
    names = {line.line_id: line.name for line in order.lines}
    context = {"store_name": os.environ.get("OMS_STORE_NAME", "Your store"), "order_number": order.order_number,
               "first_name": order.customer.get("first_name") or "", "currency": order.currency,
               "lines": [{"name": line.name, "quantity": line.ordered} for line in order.lines],
               "total": money(order.total)}
    if template in ("order_shipped", "order_delivered"):
        shipment = next(s for _, s in order.shipments() if s.shipment_id == data["shipment_id"])
        context.update(carrier=shipment.carrier, tracking_number=shipment.tracking_number,
                       tracking_url=shipment.tracking_url,
                       lines=[{"name": names[item["line_id"]], "quantity": item["quantity"]}
                              for item in shipment.lines],
                       return_window_days=os.environ.get("OMS_RETURN_WINDOW_DAYS", "30"))
    elif template == "return_approved":
        ret = ctx.returns.load_return(data["return_id"])
        context.update(rma_number=ret.rma_number, returnless=ret.returnless,
                       lines=[{"name": names.get(line.line_id, line.sku), "quantity": line.quantity}
                              for line in ret.lines])
    elif template == "refund_issued":
        context.update(amount=money(data["amount"]))
    elif template == "case_reply":
        message = next(m for m in case.messages if m["message_id"] == data["message_id"])
        context.update(case_number=case.case_number, case_subject=case.subject, message=message["body"])
    return context
