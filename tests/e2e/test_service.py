"""Customer service on the local stack: a customer asks where their order is and an agent
answers; a second case misses its service levels and the sweep escalates it; the customer lists
their orders with the storefront's token; the e-mails the local SES sent are the expected ones."""
from __future__ import annotations

import time

import jwt
import requests

from tests.e2e.conftest import SECRETS
from tests.support.orders import canonical_order

EMAIL = "grace.hopper@example.com"


def _mails(stack) -> list[dict]:
    data = requests.get(f"{stack.aws}/moto-api/data.json", timeout=10).json()
    return [m for m in data.get("ses", {}).get("Message", []) if m["destinations"]["ToAddresses"] == [EMAIL]]


def _until(check, timeout: float = 30, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)
    return found


def test_a_customer_asks_an_agent_answers_a_late_case_escalates_and_the_mails_go_out(stack):
    assert stack.ops("PUT", "/locations/WH1", {"name": "Main", "type": "warehouse", "priority": 1,
                                               "address": {}}).status_code == 200
    assert stack.ops("PUT", "/inventory/SVC-MUG/locations/WH1", {"on_hand": 10}).status_code == 200
    body = canonical_order(lines=[{"sku": "SVC-MUG", "quantity": 1, "unit_price": "12.00"}],
                           customer={"email": EMAIL, "first_name": "Grace", "last_name": "Hopper"})
    order_id = stack.webhook("orders", body).json()["order_id"]
    order = stack.wait_for(order_id, lambda o: o["fulfillment_orders"])
    number = order["order_number"]

    # The customer asks where the order is, by the number in any spelling.
    asked = requests.post(f"{stack.url}/track/{number.lower().replace('-', '')}/inquiries", params={"email": EMAIL},
                          json={"type": "where_is_my_order", "subject": "Where is my mug?",
                                "message": "It has been a while"}, timeout=30)
    assert asked.status_code == 201, asked.text
    case_number = asked.json()["case_number"]
    case = stack.ops("GET", f"/cases?order_id={order_id}").json()["cases"][0]
    assert (case["case_number"], case["priority"], case["queue"]) == (case_number, "normal", "delivery")
    answered = stack.ops("POST", f"/cases/{case['case_id']}/messages", {"author": "agent",
                                                                        "body": "It ships tomorrow."})
    assert answered.status_code == 201 and answered.json()["sla"]["first_responded_at"]
    mine = requests.get(f"{stack.url}/track/{number}/inquiries", params={"email": EMAIL}, timeout=30).json()
    assert [m["body"] for m in mine["cases"][0]["messages"]] == ["It has been a while", "It ships tomorrow."]

    # A second case with targets it cannot meet: the sweep (every second here) escalates it twice.
    policy = stack.ops("GET", "/service/sla-policy").json()["priorities"]
    stack.ops("PUT", "/service/sla-policy", {"priorities": {"low": {"first_response_minutes": 0.01,
                                                                    "resolution_minutes": 0.02}}})
    try:
        late = stack.ops("POST", "/cases", {"order_id": order_id, "type": "billing", "subject": "Invoice",
                                            "message": "Please send an invoice", "channel": "phone",
                                            "priority": "low"}).json()
        escalated = _until(lambda: (c := stack.ops("GET", f"/cases/{late['case_id']}").json())["escalation_level"] == 2
                           and c)
    finally:
        stack.ops("PUT", "/service/sla-policy", {"priorities": {"low": policy["low"]}})
    assert escalated["queue"] == "escalations" and escalated["sla"]["breached"]
    assert [e["level"] for e in escalated["escalations"]] == [1, 2]
    breached = stack.ops("GET", "/cases?breached=true").json()["cases"]
    assert late["case_id"] in [c["case_id"] for c in breached] and case["case_id"] not in [
        c["case_id"] for c in breached]

    # The customer, signed in at the storefront, lists their orders.
    token = jwt.encode({"email": EMAIL.upper(), "exp": int(time.time()) + 300},
                       SECRETS["OMS_CUSTOMER_TOKEN_SECRET"], algorithm="HS256")
    listed = requests.get(f"{stack.url}/customers/me/orders", headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
    assert listed.status_code == 200 and [o["order_number"] for o in listed.json()["orders"]] == [number]
    assert requests.get(f"{stack.url}/customers/me/orders", timeout=30).status_code == 401

    # The mails: the order confirmed and the agent's answer, once each.
    subjects = _until(lambda: len(mails := _mails(stack)) >= 2 and sorted(m["subject"] for m in mails))
    assert subjects == sorted([f"Re: Where is my mug? [{case_number}]", f"Your order {number} is confirmed"])
    time.sleep(1)
    assert len(_mails(stack)) == 2
