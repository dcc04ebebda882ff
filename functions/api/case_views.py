"""What agents and customers see of a case."""
from __future__ import annotations


def case_view(case) -> dict:
    return {
        "case_id": case.case_id, "case_number": case.case_number, "order_id": case.order_id, "type": case.type,
        "subject": case.subject, "channel": case.channel, "source": case.source, "status": case.status,
        "priority": case.priority, "queue": case.queue, "assignee": case.assignee, "created_at": case.created_at,
        "sla": {"first_response_due": case.first_response_due, "resolution_due": case.resolution_due,
                "first_responded_at": case.first_responded_at, "paused": bool(case.paused_at),
                "breached": case.breached},
        "escalation_level": case.escalation_level, "escalations": case.escalations, "messages": case.messages,
        "resolved_at": case.resolved_at}


def customer_case_view(case) -> dict:
    """No internal notes, no queue or agent names."""
    return {"case_number": case.case_number, "type": case.type, "subject": case.subject, "status": case.status,
            "created_at": case.created_at, "messages": case.customer_view_messages()}


def case_timeline(case, history: list[dict], order_history: list[dict]) -> list[dict]:
    """The case's messages, status changes, assignments and escalations, and the linked order's
    events, in the order they happened."""
    messages = {m["message_id"]: m for m in case.messages}
    entries = []
    for event in history:
        data, kind = event["data"], event["event_type"]
        entry = {"at": event["occurred_at"], "source": "case", "event_type": kind}
        if kind == "CaseMessageAdded" and data["message_id"] in messages:
            message = messages[data["message_id"]]
            entry.update(author=message["author"], body=message["body"], internal=message["internal"])
        elif kind == "CaseStatusChanged":
            entry.update(status=data["status"], previous_status=data["previous_status"])
        elif kind == "CaseEscalated":
            entry.update(level=data["level"], reason=data["reason"])
        elif kind == "CaseAssigned":
            entry.update(assignee=data["assignee"], queue=data["queue"])
        entries.append(entry)
    entries += [{"at": event["occurred_at"], "source": "order", "event_type": event["event_type"],
                 "data": event["data"]} for event in order_history]
    return sorted(entries, key=lambda entry: entry["at"])
