"""Cases through the API and the queues: a customer asks about an order and reads the answer
meant for them; agents list cases by an index, answer, assign, escalate; the service-level sweep
escalates overdue cases once per breach; the OMS opens one case per dispute and per stuck parcel,
however many times the event arrives."""
from __future__ import annotations

import json
import time

from tests.support.orders import canonical_order


def placed(api) -> dict:
    order_id = api.place(canonical_order())
    api.pipeline.drain()
    return api.order(order_id)


def ask(api, order, body, email="ada@example.com"):
    return api.http.post(f"/track/{order['order_number']}/inquiries?email={email}", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})


def test_a_customer_asks_an_agent_answers_and_the_customer_sees_only_what_is_meant_for_them(stocked):
    api = stocked
    order = placed(api)
    asked = ask(api, order, {"type": "where_is_my_order", "subject": "Where is it?", "message": "A week now"})
    assert asked.status_code == 201, asked.body
    number = asked.json_body["case_number"]
    assert asked.json_body["status"] == "new" and number.startswith("CS-")
    assert ask(api, order, {"type": "rant", "subject": "x", "message": "y"}).status_code == 422
    assert ask(api, order, {"type": "other", "subject": "x", "message": "y"}, "eve@example.com").status_code == 404

    case_id = api.ops("GET", f"/cases?order_id={order['order_id']}").json_body["cases"][0]["case_id"]
    assert api.ops("POST", f"/cases/{case_id}/messages", {"author": "agent", "body": "Warehouse says Monday",
                                                          "internal": True}).status_code == 201
    answered = api.ops("POST", f"/cases/{case_id}/messages", {"author": "agent", "body": "It ships Monday"})
    assert answered.json_body["status"] == "open" and answered.json_body["sla"]["first_responded_at"]
    assert api.ops("POST", f"/cases/{case_id}/status", {"status": "waiting_on_customer"}).status_code == 200

    mine = api.http.get(f"/track/{order['order_number']}/inquiries?email=ada@example.com").json_body["cases"]
    assert [m["body"] for m in mine[0]["messages"]] == ["A week now", "It ships Monday"]  # no internal note
    replied = api.http.post(f"/track/{order['order_number']}/inquiries/{number}/messages?email=ada@example.com",
                            body=b'{"message": "Thanks!"}', headers={"Content-Type": "application/json"})
    assert replied.status_code == 201 and replied.json_body["status"] == "open"  # the reply resumes the clock
    case = api.ops("GET", f"/cases/{case_id}").json_body
    kinds = [entry["event_type"] for entry in case["timeline"]]
    assert "OrderReceived" in kinds and kinds.count("CaseMessageAdded") == 4 and "CaseStatusChanged" in kinds
    assert api.ops("GET", f"/orders/{order['order_id']}").json_body["cases"] == [
        {"case_id": case_id, "case_number": number, "type": "where_is_my_order", "status": "open"}]


def test_agents_open_list_and_filter_cases_by_index(stocked):
    api = stocked
    order = placed(api)
    made = api.ops("POST", "/cases", {"order_id": order["order_id"], "type": "damaged_item", "subject": "Torn",
                                      "message": "Arrived torn", "channel": "phone"})
    assert made.status_code == 201, made.body
    body = made.json_body
    assert (body["status"], body["priority"], body["queue"], body["escalation_level"]) == ("new", "high", "returns", 0)
    assert set(body["sla"]) >= {"first_response_due", "resolution_due"}
    api.ops("POST", "/cases", {"type": "billing", "subject": "Invoice", "message": "Need one", "channel": "email",
                               "priority": "low"})
    assert api.ops("POST", "/cases", {"order_id": "o-nope", "type": "other", "subject": "s", "message": "m",
                                      "channel": "chat"}).status_code == 422
    every = api.ops("GET", "/cases").json_body["cases"]
    assert [c["type"] for c in every] == ["billing", "damaged_item"]  # newest first
    assert [c["type"] for c in api.ops("GET", "/cases?priority=low").json_body["cases"]] == ["billing"]
    assert [c["type"] for c in api.ops("GET", "/cases?queue=returns&status=new").json_body["cases"]] == [
        "damaged_item"]
    assert api.ops("GET", "/cases?status=nope").status_code == 422
    assert api.ops("GET", "/cases?cursor=bm9wZQ").status_code == 422
    assigned = api.ops("POST", f"/cases/{body['case_id']}/assign", {"assignee": "sam", "queue": "vip"}).json_body
    assert (assigned["assignee"], assigned["queue"]) == ("sam", "vip")
    assert [c["case_id"] for c in api.ops("GET", "/cases?queue=vip").json_body["cases"]] == [body["case_id"]]


def test_the_sweep_escalates_each_overdue_case_once_per_breach(stocked):
    from oms.bootstrap import context
    from oms.services.cases import sweep

    api = stocked
    policy = api.ops("PUT", "/service/sla-policy", {"priorities": {"normal": {"first_response_minutes": 0.005,
                                                                             "resolution_minutes": 0.01}}})
    assert policy.status_code == 200 and policy.json_body["priorities"]["normal"]["resolution_minutes"] == 0.01
    assert api.ops("GET", "/service/sla-policy").json_body["priorities"]["urgent"]["first_response_minutes"] == 30
    text = {"priorities": {"normal": {"first_response_minutes": "5", "resolution_minutes": 1}}}
    assert api.ops("PUT", "/service/sla-policy", text).status_code == 422
    late = api.ops("POST", "/cases", {"type": "other", "subject": "s", "message": "m", "channel": "web"}).json_body
    waiting = api.ops("POST", "/cases", {"type": "other", "subject": "s", "message": "m", "channel": "web"}).json_body
    api.ops("POST", f"/cases/{waiting['case_id']}/messages", {"author": "agent", "body": "Which size?"})
    api.ops("POST", f"/cases/{waiting['case_id']}/status", {"status": "waiting_on_customer"})
    time.sleep(0.7)
    ctx = context()
    assert sweep(ctx) == 2 and sweep(ctx) == 0  # level 1 then level 2 for the late one; the waiting one never
    case = api.ops("GET", f"/cases/{late['case_id']}").json_body
    assert case["escalation_level"] == 2 and case["queue"] == "escalations" and case["sla"]["breached"]
    assert [c["case_id"] for c in api.ops("GET", "/cases?breached=true").json_body["cases"]] == [late["case_id"]]
    assert api.ops("GET", f"/cases/{waiting['case_id']}").json_body["escalation_level"] == 0


def _publish_twice(order_id: str, event_type: str, data: dict) -> None:
    """The outbox's bus entry for an event of the order, put on the bus twice (a redelivery)."""
    from oms.adapters.dynamodb_models import history_record
    from oms.adapters.eventbus import put_events
    from oms.domain.events import DomainEvent

    record = history_record(order_id, 99, "2026-12-01T10:00:00Z", DomainEvent(event_type, data))
    assert put_events([record, record]) == [None, None]


def test_a_dispute_or_a_stuck_parcel_opens_one_case_however_often_it_is_told(stocked):
    api = stocked
    order = placed(api)
    dispute = {"dispute_id": "dp_1", "status": "needs_response", "reason": "fraudulent", "amount": 1000,
               "currency": "USD", "evidence_due_by": "2099-01-10T00:00:00Z", "opened_at": "2026-12-01T09:00:00Z",
               "closed_at": None}
    _publish_twice(order["order_id"], "DisputeOpened", dispute)
    stuck = {"shipment_id": f"{order['order_id']}-F1-S1", "status": "exception", "description": "Address unknown",
             "delivery_reversed": False}
    _publish_twice(order["order_id"], "ShipmentException", stuck)
    _publish_twice(order["order_id"], "ShipmentException", {**stuck, "status": "attempt_failed"})
    api.pipeline.drain()
    cases = api.ops("GET", f"/cases?order_id={order['order_id']}").json_body["cases"]
    assert sorted((c["type"], c["priority"]) for c in cases) == [("delivery_exception", "high"), ("dispute", "urgent")]
    disputed = next(c for c in cases if c["type"] == "dispute")
    mine = api.http.get(f"/track/{order['order_number']}/inquiries?email=ada@example.com").json_body["cases"]
    assert mine == []  # the OMS's own cases are for agents
    reply = api.http.post(f"/track/{order['order_number']}/inquiries/{disputed['case_number']}/messages"
                          "?email=ada@example.com", body=b'{"message": "hi"}',
                          headers={"Content-Type": "application/json"})
    assert reply.status_code == 404
    assert disputed["sla"]["resolution_due"] == "2099-01-08T00:00:00.000Z"  # 48 hours before the evidence
    _publish_twice(order["order_id"], "DisputeUpdated", {**dispute, "status": "needs_response",
                                                         "evidence_due_by": "2099-02-10T00:00:00Z",
                                                         "previous_status": "needs_response"})
    api.pipeline.drain()
    moved = api.ops("GET", f"/cases/{disputed['case_id']}").json_body
    assert moved["sla"]["resolution_due"] == "2099-02-08T00:00:00.000Z"
    _publish_twice(order["order_id"], "DisputeClosed", {**dispute, "status": "won", "closed_at": "2026-12-02T00:00Z"})
    api.pipeline.drain()
    assert api.ops("GET", f"/cases/{disputed['case_id']}").json_body["status"] == "closed"
