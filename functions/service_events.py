"""The service queue: cases the OMS opens itself (a dispute, a parcel stuck at the carrier) and
the e-mails customers are sent about their orders, returns, refunds and cases."""
from __future__ import annotations

from .order_events import consume

CASE_EVENTS = ("DisputeOpened", "DisputeUpdated", "DisputeClosed", "ShipmentException")
MAIL_EVENTS = ("PaymentAuthorized", "PaymentRecorded", "ShipmentCreated", "ShipmentDelivered", "ReturnApproved",
               "RefundSucceeded", "CaseMessageAdded")


def _ctx():
    from oms.bootstrap import context

    return context()


def open_or_close_case(detail: dict) -> None:
    from oms.services.cases import react

    react(_ctx(), detail)


def send_mail(detail: dict) -> None:
    from oms.services.notifications import notify

    notify(_ctx(), detail)


def handle_service(event) -> dict:
    return consume(event, {**{name: open_or_close_case for name in CASE_EVENTS},
                           **{name: send_mail for name in MAIL_EVENTS}})
