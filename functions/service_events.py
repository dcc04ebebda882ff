"""The service queue: cases the OMS opens itself (a dispute, a parcel stuck at the carrier) and
the e-mails customers are sent about their orders, returns, refunds and cases."""
from __future__ import annotations

from .order_events import consume, retry_later

CASE_EVENTS = ("DisputeOpened", "DisputeUpdated", "DisputeClosed", "ShipmentException")
MAIL_EVENTS = ("PaymentAuthorized", "PaymentRecorded", "ShipmentCreated", "ShipmentDelivered", "ReturnApproved",
               "RefundSucceeded", "CaseMessageAdded")


def _ctx():
    from oms.bootstrap import context

    return context()


def open_or_close_case(detail: dict, record) -> None:
    from oms.services.cases import react

    react(_ctx(), detail)


def send_mail(detail: dict, record) -> None:
    """Another delivery holding the e-mail's lease may be sending it now: come back when the
    lease runs out (the queue's visibility timeout may be shorter, locally 2 s)."""
    from oms.services.notifications import LEASE_SECONDS, NotificationBusy, notify

    try:
        notify(_ctx(), detail)
    except NotificationBusy:
        retry_later(record, LEASE_SECONDS)
        raise


def handle_service(event) -> dict:
    return consume(event, {**{name: open_or_close_case for name in CASE_EVENTS},
                           **{name: send_mail for name in MAIL_EVENTS}}, with_record=True)
