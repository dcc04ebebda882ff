"""Customer service cases: opened by a customer about their order, by an agent, or by the OMS
itself when something goes wrong (a dispute, a parcel stuck at the carrier); answered, assigned,
escalated by hand or by the service-level sweep."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from oms.domain.cases import PRIORITIES, Case, moment, stamp
from oms.domain.events import DomainEvent
from oms.domain.holds import OrderRuleViolation
from oms.observability.logs import logger

from .context import Context
from .orders import MAX_ATTEMPTS
from .ports import CaseCommit, ConcurrentModification, DuplicateReference

SWEEP_BATCH = 100
DISPUTE_LEAD = timedelta(hours=48)  # a dispute's case is due this long before its evidence is
DELIVERY_ALERTS = ("exception", "attempt_failed", "returned_to_sender")


class UnknownCase(LookupError):
    """No case has that id."""


def open_case(ctx: Context, *, order_id: str | None, case_type: str, subject: str, message: str | None,
              channel: str, priority: str | None, source: str, external_key: str | None = None,
              resolution_due: str | None = None) -> tuple[Case, bool]:
    """The new case, and True; or, for an automatic case opened before (its key), that one and False."""
    for _ in range(MAX_ATTEMPTS):
        case, events = Case.open(
            case_id=ctx.new_case_id(), case_number=ctx.new_case_number(), order_id=order_id, case_type=case_type,
            subject=subject, message=message, channel=channel, priority=priority, source=source,
            now=ctx.clock.now(), policy=ctx.cases.sla_policy(), external_key=external_key,
            resolution_due=resolution_due)
        try:
            ctx.cases.commit_case(CaseCommit(case, events, is_new=True))
            return case, True
        except DuplicateReference:
            existing = ctx.cases.find_case_by_key(external_key) if external_key else None
            if existing:
                return ctx.cases.load_case(existing), False
            # else the drawn case number was taken: draw another
    raise DuplicateReference("could not draw a free case number")


def change_case(ctx: Context, case_id: str, step: Callable[[Case], list[DomainEvent]]) -> Case:
    """Load, apply, commit; on a lost race reload and try again."""
    for attempt in range(MAX_ATTEMPTS):
        case = ctx.cases.load_case(case_id)
        if case is None:
            raise UnknownCase(case_id)
        before = case.to_dict()
        events = step(case)
        if not events and case.to_dict() == before:
            return case
        try:
            ctx.cases.commit_case(CaseCommit(case, events))
            return case
        except ConcurrentModification:
            ctx.backoff(attempt)
    raise ConcurrentModification(case_id)


def add_message(ctx: Context, case_id: str, author: str, body: str, internal: bool = False) -> Case:
    return change_case(ctx, case_id, lambda case: case.add_message(author, body, internal, ctx.clock.now()))


def set_status(ctx: Context, case_id: str, status: str) -> Case:
    return change_case(ctx, case_id, lambda case: case.set_status(status, ctx.clock.now()))


def assign(ctx: Context, case_id: str, assignee: str | None, queue: str | None) -> Case:
    return change_case(ctx, case_id, lambda case: case.assign(assignee, queue))


def escalate(ctx: Context, case_id: str, reason: str) -> Case:
    return change_case(ctx, case_id, lambda case: case.escalate(reason, ctx.clock.now()))


# ---- service levels --------------------------------------------------------------------------------

def sweep(ctx: Context) -> int:
    """Escalate every case whose next target has passed, once per breach, reading the index of
    open cases by due time a page at a time. A case that cannot be changed is logged and
    skipped, so it never holds up the cases due after it. Returns the escalations made."""
    now, made, after = ctx.clock.now(), 0, None
    while True:
        due, after = ctx.cases.cases_due(now, SWEEP_BATCH, after)
        for case_id in due:
            try:
                made += sum(1 for e in change_case(ctx, case_id, lambda case: case.escalate_breaches(now)).escalations
                            if e["at"] == now and e["breach"])
            except Exception:  # noqa: BLE001 (one stuck case must not stop the sweep)
                logger.exception("a case could not be escalated", extra={"case_id": case_id})
        if after is None:
            return made


def put_sla_policy(ctx: Context, priorities: dict) -> dict:
    """Replace the targets of the priorities given (minutes, fractions allowed); the others keep theirs."""
    policy = {name: dict(targets) for name, targets in ctx.cases.sla_policy().items()}
    for name, targets in priorities.items():
        if name not in PRIORITIES:
            raise OrderRuleViolation("invalid_priority", f"priorities are {', '.join(PRIORITIES)}")
        policy[name] = {"first_response_minutes": targets["first_response_minutes"],
                        "resolution_minutes": targets["resolution_minutes"]}
    ctx.cases.save_sla_policy(policy)
    return policy


# ---- cases the OMS opens itself (the service queue) --------------------------------------------------

def react(ctx: Context, detail: dict) -> Case | None:
    """A dispute opens an urgent case on its order (due before its evidence is) and closes it
    when it ends; a parcel stuck at the carrier opens one case per shipment. Each once, whatever
    the order and number of deliveries (the case's key guards it)."""
    data, order_id, event_type = detail["data"], detail["aggregate_id"], detail["event_type"]
    if event_type == "DisputeOpened":
        return _dispute_case(ctx, order_id, data)
    if event_type == "DisputeUpdated" and data.get("evidence_due_by"):  # the deadline may have moved
        case = _dispute_case(ctx, order_id, data)
        return change_case(ctx, case.case_id, lambda c: c.reschedule(_dispute_due(ctx, data["evidence_due_by"])))
    if event_type == "DisputeClosed":  # also when it overtook its DisputeOpened: the case is a record
        def close(case: Case) -> list[DomainEvent]:
            if case.status == "closed":
                return []
            events = case._add_message("system", f"The dispute ended: {data['status']}.", True, ctx.clock.now())
            return events + case.set_status("closed", ctx.clock.now())
        return change_case(ctx, _dispute_case(ctx, order_id, data).case_id, close)
    if event_type == "ShipmentException" and data["status"] in DELIVERY_ALERTS:
        return open_case(ctx, order_id=order_id, case_type="delivery_exception", channel="web", priority=None,
                         source="system", subject=f"Parcel {data['status'].replace('_', ' ')}",
                         message=f"Shipment {data['shipment_id']}: {data.get('description') or data['status']}.",
                         external_key=f"shipment:{data['shipment_id']}")[0]
    return None


def _dispute_due(ctx: Context, evidence_due_by: str) -> str:
    return stamp(max(moment(evidence_due_by) - DISPUTE_LEAD, moment(ctx.clock.now())))


def _dispute_case(ctx: Context, order_id: str, data: dict) -> Case:
    due = data.get("evidence_due_by")
    resolution_due = _dispute_due(ctx, due) if due else None
    return open_case(ctx, order_id=order_id, case_type="dispute", channel="web", priority=None, source="system",
                     subject=f"Payment disputed: {data.get('reason') or 'no reason given'}",
                     message=f"The bank disputes the payment (dispute {data['dispute_id']}); evidence is due by "
                             f"{due or 'an unknown date'}.",
                     external_key=f"dispute:{data['dispute_id']}", resolution_due=resolution_due)[0]
