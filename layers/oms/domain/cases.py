"""The case aggregate: a customer's inquiry or a problem the OMS noticed itself (a dispute, a
parcel stuck at the carrier), with its messages, its queue and owner, and its service levels.

Service levels: when a case opens, its priority's targets (minutes to the first response the
customer can see, and to resolution) fix its due times. Time spent waiting on the customer does
not count: leaving that status moves every due time on by the pause. A sweep escalates an
overdue case once per breach: level 1 when the first response is late, level 2 when the
resolution is; an escalated case moves to the `escalations` queue."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .events import DomainEvent
from .holds import OrderRuleViolation

TYPES = ("where_is_my_order", "damaged_item", "missing_item", "wrong_item", "return", "billing", "dispute",
         "delivery_exception", "other")
PRIORITIES = ("urgent", "high", "normal", "low")
CHANNELS = ("email", "phone", "chat", "web")
STATUSES = ("new", "open", "waiting_on_customer", "resolved", "closed")
SETTABLE = ("open", "waiting_on_customer", "resolved", "closed")  # what an agent may set
ENDED = ("resolved", "closed")
PAUSED = ("waiting_on_customer", "resolved")  # the service-level clock stands still
# A case is one item (DynamoDB's limit is 400 KB): past these, a new case is opened instead.
MAX_MESSAGES, MAX_TEXT = 200, 250_000
ESCALATIONS = "escalations"
_URGENT, _HIGH = ("dispute",), ("delivery_exception", "damaged_item", "missing_item", "wrong_item")
# The queue a new case lands in, by type.
QUEUES = {"where_is_my_order": "delivery", "delivery_exception": "delivery", "missing_item": "delivery",
          "damaged_item": "returns", "wrong_item": "returns", "return": "returns", "billing": "billing",
          "dispute": "disputes", "other": "general"}
# Minutes to the first response and to resolution, by priority (PUT /service/sla-policy changes them).
DEFAULT_SLA_POLICY = {"urgent": {"first_response_minutes": 30, "resolution_minutes": 240},
                      "high": {"first_response_minutes": 120, "resolution_minutes": 1440},
                      "normal": {"first_response_minutes": 480, "resolution_minutes": 4320},
                      "low": {"first_response_minutes": 1440, "resolution_minutes": 10080}}


def default_priority(case_type: str) -> str:
    return "urgent" if case_type in _URGENT else "high" if case_type in _HIGH else "normal"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stamp(when: datetime) -> str:
    """UTC, to the millisecond, sortable as text (the sweep's index orders by it)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Case:
    case_id: str
    case_number: str
    order_id: str | None
    type: str
    subject: str
    channel: str
    priority: str
    queue: str
    status: str
    source: str  # customer | operator | system
    created_at: str
    first_response_due: str
    resolution_due: str
    external_key: str | None = None  # what an automatic case is about ("dispute:dp_...")
    assignee: str | None = None
    first_responded_at: str | None = None
    resolved_at: str | None = None
    paused_at: str | None = None  # waiting on the customer (or resolved) since: the clock stands still
    escalation_level: int = 0
    breached_targets: list[str] = field(default_factory=list)  # "first_response", "resolution": missed
    escalations: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    version: int = 0
    history_length: int = 0

    # ---- opening ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, *, case_id: str, case_number: str, order_id: str | None, case_type: str, subject: str,
             message: str | None, channel: str, priority: str | None, source: str, now: str, policy: dict,
             external_key: str | None = None, resolution_due: str | None = None) -> tuple[Case, list[DomainEvent]]:
        """`resolution_due` overrides the policy's (a dispute is due before its evidence is)."""
        if case_type not in TYPES:
            raise OrderRuleViolation("invalid_type", f"type must be one of {', '.join(TYPES)}")
        if channel not in CHANNELS:
            raise OrderRuleViolation("invalid_channel", f"channel must be one of {', '.join(CHANNELS)}")
        priority = priority or default_priority(case_type)
        if priority not in PRIORITIES:
            raise OrderRuleViolation("invalid_priority", f"priority must be one of {', '.join(PRIORITIES)}")
        targets, opened = policy[priority], moment(now)
        first_due = opened + timedelta(minutes=targets["first_response_minutes"])
        due = moment(resolution_due) if resolution_due else opened + timedelta(minutes=targets["resolution_minutes"])
        case = cls(case_id, case_number, order_id, case_type, subject, channel, priority, QUEUES[case_type], "new",
                   source, stamp(opened), stamp(min(first_due, due)), stamp(due), external_key=external_key)
        events = [DomainEvent("CaseOpened", case._data(
            order_id=order_id, type=case_type, priority=priority, queue=case.queue, channel=channel, source=source,
            first_response_due=case.first_response_due, resolution_due=case.resolution_due,
            external_key=external_key))]
        if message:  # the customer's words (typed by them, or by the agent who took the call)
            events += case._add_message("system" if source == "system" else "customer", message,
                                        internal=source == "system", now=now)
        return case, events

    def _data(self, **more) -> dict:
        return {"case_id": self.case_id, "case_number": self.case_number, **more}

    # ---- messages ---------------------------------------------------------------------------------
    def add_message(self, author: str, body: str, internal: bool, now: str) -> list[DomainEvent]:
        """An agent's first message the customer can see meets the first-response target; a
        customer's reply takes a case off waiting (the clock runs again) or reopens a resolved one."""
        if self.status == "closed":
            raise OrderRuleViolation("case_closed", "the case is closed: open a new one")
        if author not in ("agent", "customer"):
            raise OrderRuleViolation("invalid_author", "author must be agent or customer")
        return self._add_message(author, body, internal and author == "agent", now)

    def _add_message(self, author: str, body: str, internal: bool, now: str) -> list[DomainEvent]:
        if len(self.messages) >= MAX_MESSAGES or sum(len(m["body"]) for m in self.messages) + len(body) > MAX_TEXT:
            raise OrderRuleViolation("case_full", "the case holds as many messages as it can: open a new one")
        number = len(self.messages) + 1
        self.messages.append({"message_id": f"{self.case_id}-M{number}", "author": author, "body": body,
                              "internal": internal, "at": now})
        events = [DomainEvent("CaseMessageAdded", self._data(message_id=f"{self.case_id}-M{number}", author=author,
                                                             internal=internal))]
        if author == "agent" and not internal:
            if not self.first_responded_at:
                self.first_responded_at = now
            if self.status == "new":
                events += self._set_status("open", now)
        elif author == "customer" and self.status in ("waiting_on_customer", "resolved"):
            events += self._set_status("open", now)
        return events

    def customer_view_messages(self) -> list[dict]:
        return [{k: m[k] for k in ("author", "body", "at")} for m in self.messages
                if m["author"] == "customer" or (m["author"] == "agent" and not m["internal"])]

    # ---- status, owner, escalation -----------------------------------------------------------------
    def set_status(self, status: str, now: str) -> list[DomainEvent]:
        if status not in SETTABLE:
            raise OrderRuleViolation("invalid_status", f"status must be one of {', '.join(SETTABLE)}")
        if self.status == "closed" and status != "closed":
            raise OrderRuleViolation("case_closed", "a closed case stays closed")
        return self._set_status(status, now)

    def _set_status(self, status: str, now: str) -> list[DomainEvent]:
        if status == self.status:
            return []
        before, self.status = self.status, status
        if before in PAUSED and status not in PAUSED and self.paused_at:  # the pause moves every due time on
            paused = moment(now) - moment(self.paused_at)
            self.first_response_due = stamp(moment(self.first_response_due) + paused)
            self.resolution_due = stamp(moment(self.resolution_due) + paused)
            self.paused_at = None
        if status in PAUSED and not self.paused_at:
            self.paused_at = now
        self.resolved_at = now if status in ENDED else None
        return [DomainEvent("CaseStatusChanged", self._data(status=status, previous_status=before))]

    def assign(self, assignee: str | None, queue: str | None) -> list[DomainEvent]:
        changed = {k: v for k, v in (("assignee", assignee), ("queue", queue)) if v and getattr(self, k) != v}
        if not changed:
            return []
        for key, value in changed.items():
            setattr(self, key, value)
        return [DomainEvent("CaseAssigned", self._data(assignee=self.assignee, queue=self.queue))]

    def escalate(self, reason: str, now: str) -> list[DomainEvent]:
        """An agent escalates one level up."""
        if self.status in ENDED:
            raise OrderRuleViolation("case_ended", f"a {self.status} case is not escalated")
        return self._escalate(self.escalation_level + 1, reason, now, breach=False)

    def _escalate(self, level: int, reason: str, now: str, breach: bool) -> list[DomainEvent]:
        self.escalation_level, self.queue = level, ESCALATIONS
        self.escalations.append({"level": level, "reason": reason, "at": now, "breach": breach})
        return [DomainEvent("CaseEscalated", self._data(level=level, reason=reason, queue=ESCALATIONS,
                                                        breach=breach))]

    # ---- service levels ------------------------------------------------------------------------------
    def breaches(self, now: str) -> list[tuple[str, int, str]]:
        """The targets missed at `now` and not escalated for yet: [(target, level, reason)]."""
        if self.status in ENDED or self.paused_at:
            return []
        due = []
        if (not self.first_responded_at and "first_response" not in self.breached_targets
                and moment(now) >= moment(self.first_response_due)):
            due.append(("first_response", 1, "first response overdue"))
        if "resolution" not in self.breached_targets and moment(now) >= moment(self.resolution_due):
            due.append(("resolution", 2, "resolution overdue"))
        return due

    def escalate_breaches(self, now: str) -> list[DomainEvent]:
        """The sweep: each missed target escalates once (level 1 for the first response, 2 for
        the resolution; never lower than an agent already took it)."""
        events: list[DomainEvent] = []
        for target, level, reason in self.breaches(now):
            self.breached_targets.append(target)
            events += self._escalate(max(level, self.escalation_level), reason, now, breach=True)
        return events

    def next_due(self) -> str | None:
        """When the sweep must look at this case next (None: never, until it changes)."""
        if self.status in ENDED or self.paused_at:
            return None
        if not self.first_responded_at and "first_response" not in self.breached_targets:
            return self.first_response_due
        return self.resolution_due if "resolution" not in self.breached_targets else None

    def reschedule(self, resolution_due: str) -> list[DomainEvent]:
        """A new resolution target (a dispute's evidence deadline moved), unless it was already missed."""
        if self.status in ENDED or "resolution" in self.breached_targets or resolution_due == self.resolution_due:
            return []
        self.resolution_due = resolution_due
        return [DomainEvent("CaseRescheduled", self._data(resolution_due=resolution_due))]

    @property
    def breached(self) -> bool:
        return bool(self.breached_targets)

    # ---- persistence shape -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["version"], data["history_length"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        return cls(**data)
