"""Cases in the table (beside the orders and returns):

  CASE#<id> / CASE             the case aggregate (JSON doc, version), with the keys of its lists:
                               gsi1 every case by time, gsi2 by status, gsi3 by queue, gsi4 the
                               cases of an order (sparse), gsi5 open cases by next SLA due time
                               (sparse: only while the sweep has something to check)
  CASE#<id> / H#<seq:08d>      its history, published by the stream like an order's
  CASENO#<number> / REF        guard and lookup: one case per case number
  CASEKEY#<key> / REF          guard: one automatic case per thing it is about (a dispute, a shipment)
  SERVICE / SLAPOLICY          the service-level policy
"""
from __future__ import annotations

import base64
import json

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from oms.domain.cases import DEFAULT_SLA_POLICY, Case
from oms.services.ports import CaseCommit, ConcurrentModification, DuplicateReference

from .dynamodb_models import HistoryItem, RefItem, Transaction, _Item, failed_conditions, history_record


def _index(number: int, projection) -> type[GlobalSecondaryIndex]:
    meta = type("Meta", (), {"index_name": f"gsi{number}", "projection": projection})
    return type(f"Gsi{number}", (GlobalSecondaryIndex,), {
        "Meta": meta, f"gsi{number}pk": UnicodeAttribute(hash_key=True),
        f"gsi{number}sk": UnicodeAttribute(range_key=True)})


class CaseItem(_Item):
    doc = JSONAttribute()
    status = UnicodeAttribute()
    queue = UnicodeAttribute()
    priority = UnicodeAttribute()
    breached = BooleanAttribute()
    order_id = UnicodeAttribute(null=True)
    history_length = NumberAttribute()
    version = VersionAttribute()
    gsi1pk, gsi1sk = UnicodeAttribute(), UnicodeAttribute()
    gsi2pk, gsi2sk = UnicodeAttribute(), UnicodeAttribute()
    gsi3pk, gsi3sk = UnicodeAttribute(), UnicodeAttribute()
    gsi4pk, gsi4sk = UnicodeAttribute(null=True), UnicodeAttribute(null=True)
    gsi5pk, gsi5sk = UnicodeAttribute(null=True), UnicodeAttribute(null=True)
    every = _index(1, AllProjection())()
    by_status = _index(2, AllProjection())()
    by_queue = _index(3, AllProjection())()
    by_order = _index(4, AllProjection())()
    by_due = _index(5, KeysOnlyProjection())()


class PolicyItem(_Item):
    policy = JSONAttribute()


def _key(case_id: str) -> str:
    return f"CASE#{case_id}"


def _item(case: Case, history_length: int) -> CaseItem:
    by_time = f"{case.created_at}#{case.case_id}"
    due = case.next_due()
    return CaseItem(
        _key(case.case_id), "CASE", doc=case.to_dict(), status=case.status, queue=case.queue, priority=case.priority,
        breached=case.breached, order_id=case.order_id, history_length=history_length,
        gsi1pk="CASES", gsi1sk=by_time, gsi2pk=f"CASES#STATUS#{case.status}", gsi2sk=by_time,
        gsi3pk=f"CASES#QUEUE#{case.queue}", gsi3sk=by_time,
        gsi4pk=f"CASES#ORDER#{case.order_id}" if case.order_id else None, gsi4sk=by_time if case.order_id else None,
        gsi5pk="CASES#DUE" if due else None, gsi5sk=f"{due}#{case.case_id}" if due else None)


class CasesTable:
    """The CaseStore half of DynamoStore."""

    def commit_case(self, change: CaseCommit) -> None:
        case, tags, now = change.case, [], self._clock.now()
        item = _item(case, case.history_length + len(change.events))
        if not change.is_new:
            item.version = case.version
        try:
            with Transaction(connection=self._connection) as tx:
                tx.save(item)
                tags.append("case")
                for n, event in enumerate(change.events, start=case.history_length + 1):
                    tx.save(HistoryItem(_key(case.case_id), f"H#{n:08d}",
                                        **history_record(case.case_id, n, now, event)),
                            condition=HistoryItem.pk.does_not_exist())
                    tags.append("case")
                for guard in change.guards:
                    tx.save(RefItem(f"GUARD#{guard}", "REF", order_id=case.order_id or ""),
                            condition=RefItem.pk.does_not_exist())
                    tags.append("duplicate")
                if change.is_new:
                    tx.save(RefItem(f"CASENO#{case.case_number}", "REF", order_id=case.order_id or "",
                                    shipment_id=case.case_id), condition=RefItem.pk.does_not_exist())
                    tags.append("duplicate")
                    if case.external_key:
                        tx.save(RefItem(f"CASEKEY#{case.external_key}", "REF", order_id=case.order_id or "",
                                        shipment_id=case.case_id), condition=RefItem.pk.does_not_exist())
                        tags.append("duplicate")
        except TransactWriteError as error:
            if "duplicate" in failed_conditions(error, tags, tx):
                raise DuplicateReference(case.case_id) from error
            raise ConcurrentModification(case.case_id) from error
        case.version = (case.version or 0) + 1
        case.history_length += len(change.events)

    def load_case(self, case_id: str) -> Case | None:
        try:
            item = CaseItem.get(_key(case_id), "CASE", consistent_read=True)
        except DoesNotExist:
            return None
        case = Case.from_dict(item.doc)
        case.version, case.history_length = item.version, int(item.history_length)
        return case

    def _ref(self, key: str) -> str | None:
        try:
            return RefItem.get(key, "REF", consistent_read=True).shipment_id
        except DoesNotExist:
            return None

    def find_case_by_number(self, case_number: str) -> str | None:
        return self._ref(f"CASENO#{case_number.strip().upper()}")

    def find_case_by_key(self, external_key: str) -> str | None:
        return self._ref(f"CASEKEY#{external_key}")

    def case_history(self, case_id: str) -> list[dict]:
        items = HistoryItem.query(_key(case_id), HistoryItem.sk.startswith("H#"), consistent_read=True)
        return [{"sequence": i.sequence, "event_type": i.event_type, "occurred_at": i.occurred_at, "data": i.data}
                for i in items]

    def list_cases(self, filters: dict, cursor: str | None, limit: int) -> tuple[list[Case], str | None]:
        """Newest first from the index the filters name (order, queue, status, else all); the
        other filters are applied on that index (never a Scan)."""
        if filters.get("order_id"):
            index, number, value = CaseItem.by_order, 4, f"CASES#ORDER#{filters['order_id']}"
        elif filters.get("queue"):
            index, number, value = CaseItem.by_queue, 3, f"CASES#QUEUE#{filters['queue']}"
        elif filters.get("status"):
            index, number, value = CaseItem.by_status, 2, f"CASES#STATUS#{filters['status']}"
        else:
            index, number, value = CaseItem.every, 1, "CASES"
        condition = None
        for name in ("status", "queue", "priority", "breached"):
            wanted = filters.get(name)
            if wanted is not None and name != {2: "status", 3: "queue"}.get(number):
                part = getattr(CaseItem, name) == wanted
                condition = part if condition is None else condition & part
        start = _start_key(cursor, number, value)
        page = index.query(value, scan_index_forward=False, limit=limit, last_evaluated_key=start,
                           filter_condition=condition)
        found = [Case.from_dict(item.doc) for item in page]
        last = page.last_evaluated_key
        return found, base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None

    def cases_due(self, now: str, limit: int, after: dict | None = None) -> tuple[list[str], dict | None]:
        """Open cases whose next target is at or before `now`, earliest first, a page at a time:
        (case ids, where the next page starts or None)."""
        page = CaseItem.by_due.query("CASES#DUE", CaseItem.gsi5sk <= f"{now}#~", limit=limit,
                                     last_evaluated_key=after)
        return [item.pk.removeprefix("CASE#") for item in page], page.last_evaluated_key

    def sla_policy(self) -> dict:
        try:
            return PolicyItem.get("SERVICE", "SLAPOLICY", consistent_read=True).policy
        except DoesNotExist:
            return DEFAULT_SLA_POLICY

    def save_sla_policy(self, policy: dict) -> None:
        PolicyItem("SERVICE", "SLAPOLICY", policy=policy).save()


def _start_key(cursor: str | None, number: int, value: str) -> dict | None:
    """A cursor this list gave, for this very index and partition; anything else is refused."""
    if not cursor:
        return None
    if len(cursor) > 2000:
        raise ValueError("not a cursor of this list")
    try:
        start = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor of this list") from None
    keys = {"pk", "sk", f"gsi{number}pk", f"gsi{number}sk"}
    if (not isinstance(start, dict) or set(start) != keys
            or not all(isinstance(v, dict) and isinstance(v.get("S"), str) and 0 < len(v["S"]) <= 400
                       for v in start.values())
            or start[f"gsi{number}pk"]["S"] != value or not start["pk"]["S"].startswith("CASE#")
            or start["sk"]["S"] != "CASE"):
        raise ValueError("not a cursor of this list")
    return start
