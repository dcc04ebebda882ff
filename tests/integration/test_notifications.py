"""Customer e-mails through the local SES: one per business event even when its event is
delivered twice, rendered from the templates, recorded as NotificationSent without the address."""
from __future__ import annotations

import json

from tests.integration.test_cases import _publish_twice
from tests.support.orders import canonical_order


def sent_mails() -> list:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def test_an_order_s_mails_go_out_once_each_and_name_no_one_in_their_events(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    api.ship(order_id, "1ZMAIL0001")
    api.pipeline.drain()
    api.webhook("tracking", {"tracking_number": "1ZMAIL0001", "status": "delivered",
                             "occurred_at": "2026-11-28T10:00:00Z", "description": "Delivered", "location": "New York"})
    api.pipeline.drain()
    order = api.order(order_id)
    shipment_id = order["fulfillment_orders"][0]["shipments"][0]["shipment_id"]
    # Every triggering event again (a redelivery): no second mail.
    _publish_twice(order_id, "PaymentAuthorized", {"amount": 4818, "currency": "USD", "authorization_id": "pi_x"})
    _publish_twice(order_id, "ShipmentCreated", {"shipment_id": shipment_id})
    api.pipeline.drain()
    mails = [m for m in sent_mails() if m.destinations["ToAddresses"] == ["ada@example.com"]]
    subjects = sorted(m.subject for m in mails)
    number = order["order_number"]
    assert subjects == sorted([f"Your order {number} is confirmed", f"Your order {number} is on its way",
                               f"Your parcel for order {number} was delivered"])
    shipped = next(m for m in mails if "on its way" in m.subject)
    assert "1ZMAIL0001" in shipped.body
    history = api.order(order_id)["history"]
    recorded = [h["data"] for h in history if h["event_type"] == "NotificationSent"]
    assert sorted(r["template"] for r in recorded) == ["order_confirmed", "order_delivered", "order_shipped"]
    assert "ada@example.com" not in json.dumps(history)


def test_an_agent_s_reply_is_mailed_and_an_internal_note_is_not(stocked):
    api = stocked
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    case = api.ops("POST", "/cases", {"order_id": order_id, "type": "billing", "subject": "Invoice please",
                                      "message": "For my company", "channel": "email"}).json_body
    api.ops("POST", f"/cases/{case['case_id']}/messages", {"author": "agent", "body": "Note: VAT id", "internal": True})
    api.ops("POST", f"/cases/{case['case_id']}/messages", {"author": "agent", "body": "Attached <b>here</b>\nBye"})
    api.pipeline.drain()
    replies = [m for m in sent_mails() if case["case_number"] in m.subject]
    assert len(replies) == 1 and replies[0].subject == f"Re: Invoice please [{case['case_number']}]"
    assert "&lt;b&gt;here&lt;/b&gt;" in replies[0].body and "VAT" not in replies[0].body  # escaped; no note
    timeline = api.ops("GET", f"/cases/{case['case_id']}").json_body["timeline"]
    assert [e["event_type"] for e in timeline if e["source"] == "case"].count("NotificationSent") == 1


def test_notifications_can_be_turned_off(stocked, monkeypatch):
    monkeypatch.setenv("OMS_NOTIFICATIONS", "0")
    before = len(sent_mails())
    stocked.place(canonical_order())
    stocked.pipeline.drain()
    assert len(sent_mails()) == before


def test_a_refusal_from_ses_names_no_address(stocked, monkeypatch):
    import pytest

    from oms.adapters.mail import MailNotSent, SesMailer

    monkeypatch.setenv("OMS_MAIL_FROM", "unverified@elsewhere.example")  # SES refuses an unverified sender
    with pytest.raises(MailNotSent) as refusal:
        SesMailer().send("ada@example.com", "s", "<p>h</p>", "t")
    assert "MessageRejected" in str(refusal.value) and "@" not in str(refusal.value)


def test_a_mail_another_delivery_is_sending_waits_for_its_lease_not_for_the_dead_letter_queue(stocked):
    """Another delivery of the event holds the e-mail's lease (it may be sending now): this one
    comes back when the lease runs out, instead of spending its receives at the queue's pace."""
    import boto3

    from oms.bootstrap import context
    from oms.services.notifications import LEASE_SECONDS

    api = stocked
    order_id = api.place(canonical_order())
    assert context().notifications.claim_notification(f"order_confirmed:{order_id}", "other-delivery", LEASE_SECONDS)
    api.pipeline.drain()
    assert not [m for m in sent_mails() if m.destinations["ToAddresses"] == ["ada@example.com"]]
    for _ in range(5):  # the queue's visibility timeout is 0 here: a retry at the queue's pace would be at once
        api.pipeline.drain()
    assert api.pipeline.queue_depth("ServiceDeadLetterQueue") == 0
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=api.pipeline.resolver.ref("ServiceQueue"), AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # waiting out the lease
