"""Cases in the domain: service levels fixed at opening, paused while waiting on the customer,
escalated once per breach; who sees which message."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.domain.cases import DEFAULT_SLA_POLICY, Case, moment, stamp
from oms.domain.holds import OrderRuleViolation

T0 = "2026-12-01T09:00:00.000Z"


def at(minutes: float) -> str:
    from datetime import timedelta

    return stamp(moment(T0) + timedelta(minutes=minutes))


def new_case(case_type="where_is_my_order", priority=None, **more):
    case, events = Case.open(case_id="c1", case_number="CS-AAAA-BBBB", order_id="o1", case_type=case_type,
                             subject="Where is it?", message="It has been a week", channel="web", priority=priority,
                             source="customer", now=T0, policy=DEFAULT_SLA_POLICY, **more)
    return case, events


def test_a_case_opens_with_its_types_priority_queue_and_targets():
    case, events = new_case()
    assert (case.status, case.priority, case.queue, case.escalation_level) == ("new", "normal", "delivery", 0)
    assert (case.first_response_due, case.resolution_due) == (at(480), at(4320))
    assert [e.event_type for e in events] == ["CaseOpened", "CaseMessageAdded"]
    assert new_case("dispute")[0].priority == "urgent" and new_case("damaged_item")[0].priority == "high"
    assert new_case("billing", priority="low")[0].first_response_due == at(1440)


@pytest.mark.parametrize(("field", "value", "code"), [("case_type", "rant", "invalid_type"),
                                                      ("priority", "asap", "invalid_priority")])
def test_unknown_types_and_priorities_are_refused(field, value, code):
    kwargs = {"case_type": "other", "priority": None, field: value}
    with pytest.raises(OrderRuleViolation) as error:
        new_case(**kwargs)
    assert error.value.code == code


def test_the_first_visible_agent_message_meets_the_first_response_target():
    case, _ = new_case()
    case.add_message("agent", "checking with the warehouse", internal=True, now=at(10))
    assert case.first_responded_at is None and case.status == "new"
    case.add_message("agent", "It left yesterday", internal=False, now=at(20))
    assert case.first_responded_at == at(20) and case.status == "open"
    assert case.breaches(at(10_000)) == [("resolution", 2, "resolution overdue")]  # only the resolution can be late
    assert [m["body"] for m in case.customer_view_messages()] == ["It has been a week", "It left yesterday"]


def test_a_late_first_response_escalates_to_level_1_once_then_a_late_resolution_to_level_2():
    case, _ = new_case(priority="urgent")
    assert case.escalate_breaches(at(29)) == [] and case.next_due() == at(30)
    events = case.escalate_breaches(at(30))
    assert [e.data["level"] for e in events] == [1] and case.queue == "escalations" and case.breached
    assert case.escalate_breaches(at(31)) == [] and case.next_due() == at(240)
    assert [e.data["level"] for e in case.escalate_breaches(at(241))] == [2]
    assert case.escalate_breaches(at(242)) == [] and case.next_due() is None


def test_an_agents_escalation_does_not_hide_a_breach():
    case, _ = new_case(priority="urgent")
    case.escalate("customer is a VIP", at(1))
    case.escalate("and upset", at(2))
    assert case.escalation_level == 2 and not case.breached
    events = case.escalate_breaches(at(31))
    assert [(e.data["level"], e.data["breach"]) for e in events] == [(2, True)] and case.breached
    assert case.breached_targets == ["first_response"]


def test_time_waiting_on_the_customer_does_not_count():
    case, _ = new_case(priority="urgent")
    case.add_message("agent", "Which address?", internal=False, now=at(5))
    case.set_status("waiting_on_customer", at(10))
    assert case.breaches(at(1000)) == [] and case.next_due() is None  # paused: out of the sweep's index
    case.add_message("customer", "Home", internal=False, now=at(130))  # the reply resumes the clock
    assert case.status == "open" and case.resolution_due == at(240 + 120)
    assert case.breaches(at(359)) == [] and case.breaches(at(361)) == [("resolution", 2, "resolution overdue")]


def test_a_thank_you_after_resolution_reopens_without_a_false_breach():
    case, _ = new_case(priority="urgent")
    case.add_message("agent", "Refunded", internal=False, now=at(5))
    case.set_status("resolved", at(10))
    assert case.breaches(at(100_000)) == [] and case.next_due() is None
    case.add_message("customer", "Thanks!", internal=False, now=at(5000))
    assert case.status == "open" and case.resolution_due == at(240 + 4990) and case.breaches(at(5001)) == []
    case.set_status("closed", at(5010))
    for act in (lambda: case.add_message("customer", "hello?", False, at(40)), lambda: case.set_status("open", at(40))):
        with pytest.raises(OrderRuleViolation):
            act()


def test_a_case_holds_so_many_messages():
    case, _ = new_case()
    for n in range(199):
        case.add_message("customer", "x" * 10, internal=False, now=at(n))
    with pytest.raises(OrderRuleViolation) as error:
        case.add_message("customer", "one more", internal=False, now=at(300))
    assert error.value.code == "case_full"


def test_a_disputes_new_deadline_moves_its_case_unless_already_missed():
    case, _ = new_case("dispute", resolution_due=at(60))
    assert case.reschedule(at(600))[0].data["resolution_due"] == at(600) and case.resolution_due == at(600)
    case.escalate_breaches(at(601))
    assert case.reschedule(at(900)) == [] and case.resolution_due == at(600)


def test_a_dispute_case_is_due_when_told():
    case, _ = new_case("dispute", resolution_due=at(60))
    assert case.resolution_due == at(60) and case.first_response_due == at(30)


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["agent", "customer", "wait", "open", "sweep"]),
                                st.floats(0, 600)), max_size=12))
def test_whatever_happens_each_breach_escalates_at_most_once_and_levels_only_rise(steps):
    case, _ = new_case(priority="high")
    clock, levels = 0.0, [0]
    for action, minutes in steps:
        clock += minutes
        now = at(clock)
        if action == "agent":
            case.add_message("agent", "hi", internal=False, now=now)
        elif action == "customer":
            case.add_message("customer", "hi", internal=False, now=now)
        elif action in ("wait", "open"):
            case.set_status({"wait": "waiting_on_customer", "open": "open"}[action], now)
        else:
            case.escalate_breaches(now)
        levels.append(case.escalation_level)
    assert levels == sorted(levels) and case.escalation_level <= 2
    assert len(case.breached_targets) == len(set(case.breached_targets)) == len(case.escalations)
