"""Warehouse counts: a snapshot (posted to the API, or a CSV dropped into the imports bucket)
is stored in the bucket, whose event brings it to the imports queue; it is reconciled there in
pages (see oms.domain.reconciliation), once however often it is sent."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os

from oms.domain.holds import OrderRuleViolation
from oms.domain.inventory import StockChange
from oms.domain.reconciliation import MODES, reconcile

from .context import Context
from .ports import ConcurrentModification, Document, DuplicateReference, StockCommit

SNAPSHOT = "SNAPSHOT"
WRITE_BATCH = 25  # stock changes per transaction (each writes 3 items; DynamoDB takes 100)
LISTED = 1000  # entries of each list a snapshot's result keeps


class InvalidSnapshot(ValueError):
    """A file or body the OMS cannot read as a count."""


def max_drift_percent() -> float:
    return float(os.environ.get("OMS_RECONCILE_MAX_DRIFT_PERCENT", "20"))


def moment_of(text: str) -> str:
    """A count's time as the stock's movements are stamped (UTC, milliseconds), so they compare."""
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSnapshot(f"as_of {text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise InvalidSnapshot("as_of needs a time zone (Z or an offset)")
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def snapshot_id_for(location_id: str, as_of: str, mode: str, items: list[dict]) -> str:
    """The same content and as_of is the same snapshot."""
    body = json.dumps([location_id, as_of, mode, sorted((i["sku"], i["on_hand"]) for i in items)])
    return "ss" + hashlib.sha256(body.encode()).hexdigest()[:30]


def submit(ctx: Context, *, location_id: str, as_of: str, mode: str, items: list[dict],
           snapshot_id: str | None, source: str) -> tuple[dict, bool]:
    """Record the snapshot as processing and put it in the imports bucket (its event brings it
    to the queue). Returns (the snapshot's document, whether it is new)."""
    from .inventory import UnknownLocation

    if location_id not in {loc.location_id for loc in ctx.inventory.locations()}:
        raise UnknownLocation(location_id)
    if mode not in MODES:
        raise InvalidSnapshot(f"mode must be one of {', '.join(MODES)}")
    as_of = moment_of(as_of)
    snapshot_id = snapshot_id or snapshot_id_for(location_id, as_of, mode, items)
    _recent_enough(ctx, as_of)
    doc = {"snapshot_id": snapshot_id, "location_id": location_id, "as_of": as_of, "mode": mode,
           "status": "processing", "source": source, "lines": len(items), "received_at": ctx.clock.now()}
    existing = ctx.inventory.load_document(SNAPSHOT, snapshot_id)
    if existing and existing[0]["status"] != "processing":
        return existing[0], False  # the same snapshot again
    # Stored before it is recorded (the same key each time), so a retry after a failure stores it again.
    ctx.imports.put_snapshot(snapshot_id, {**doc, "items": items})
    try:
        ctx.inventory.commit_stock(StockCommit(documents=[Document(SNAPSHOT, snapshot_id, doc)]))
    except DuplicateReference:
        return ctx.inventory.load_document(SNAPSHOT, snapshot_id)[0], False
    return doc, True


def _recent_enough(ctx: Context, as_of: str) -> None:
    """Movements are kept MOVEMENT_DAYS: an older count cannot be brought up to now; nor can one
    from the future."""
    from datetime import datetime, timedelta

    from oms.adapters.dynamodb_inventory import MOVEMENT_DAYS

    when, now = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (as_of, ctx.clock.now()))
    if when > now + timedelta(minutes=5):
        raise InvalidSnapshot("as_of is in the future")
    if when < now - timedelta(days=MOVEMENT_DAYS):
        raise InvalidSnapshot(f"as_of is more than {MOVEMENT_DAYS} days ago: what moved since is no longer known")


def parse_csv(raw: bytes) -> list[dict]:
    """`sku,on_hand` with a header row; quantities are whole numbers >= 0."""
    try:
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidSnapshot(f"not a CSV file: {error}") from None
    items = []
    for n, row in enumerate(rows, start=2):
        sku, count = (row.get("sku") or "").strip(), (row.get("on_hand") or "").strip()
        if not sku or not count.isdigit():
            raise InvalidSnapshot(f"line {n}: need a sku and a whole on_hand >= 0")
        items.append({"sku": sku, "on_hand": int(count)})
    return items


def process(ctx: Context, snapshot: dict) -> dict:
    """Reconcile a stored snapshot (once: a completed one is left as it is)."""
    snapshot_id, location_id = snapshot["snapshot_id"], snapshot["location_id"]
    found = ctx.inventory.load_document(SNAPSHOT, snapshot_id)
    if found is None or found[0]["status"] == "completed":
        return found[0] if found else {}
    doc, version = found
    counted: dict[str, int] = {}
    for item in snapshot["items"]:
        counted[item["sku"]] = counted.get(item["sku"], 0) + item["on_hand"]
    levels = {level.sku: level for level in ctx.inventory.stock_at(location_id)}
    known = ctx.inventory.known_skus(set(counted))
    since = {sku: ctx.inventory.moved_since(sku, location_id, snapshot["as_of"], but=snapshot_id) for sku in counted
             if sku in levels and (levels[sku].moved_at or "") > snapshot["as_of"]}
    outcome = reconcile(snapshot_id=snapshot_id, location_id=location_id, mode=snapshot["mode"], counted=counted,
                        levels=levels, moved_after={sku: net for sku, (net, _) in since.items()}, known_skus=known,
                        max_drift_percent=max_drift_percent(),
                        recounted={sku for sku, (_, again) in since.items() if again})
    adjusted, flagged = _write(ctx, outcome, counted, snapshot)
    short = {entry["sku"] for entry in adjusted} | {sku for sku in counted if sku in levels
                                                   and levels[sku].reserved > levels[sku].on_hand}
    flagged = outcome.flagged + flagged
    result = {**doc, "status": "completed", "completed_at": ctx.clock.now(), "matched": outcome.matched,
              # One item holds at most 400 KB: the first LISTED of each list, and how many there are.
              "adjusted_count": len(adjusted), "flagged_count": len(flagged),
              "adjusted": adjusted[:LISTED], "flagged": flagged[:LISTED],
              "unknown_skus": outcome.unknown_skus[:LISTED],
              "missing_in_snapshot": outcome.missing_in_snapshot[:LISTED],
              "sourced_again": _source_again(ctx, sorted(short), snapshot)}
    from oms.domain.events import DomainEvent

    event = DomainEvent("SnapshotReconciled", {
        "snapshot_id": snapshot_id, "location_id": location_id, "as_of": snapshot["as_of"],
        "matched": outcome.matched, "adjusted": len(adjusted), "flagged": len(result["flagged"]),
        "unknown_skus": len(outcome.unknown_skus)})
    try:
        ctx.inventory.commit_stock(StockCommit(documents=[Document(SNAPSHOT, snapshot_id, result, [event], version)]))
    except ConcurrentModification:
        if ctx.inventory.load_document(SNAPSHOT, snapshot_id)[0]["status"] != "completed":
            raise  # not another delivery's doing: the message comes back
    return result


def _write(ctx: Context, outcome, counted: dict[str, int], snapshot: dict) -> tuple[list[dict], list[dict]]:
    """The adjustments, a batch per transaction; a batch a reservation raced is done again one
    SKU at a time from a fresh read."""
    adjusted, flagged = [], []
    for start in range(0, len(outcome.changes), WRITE_BATCH):
        batch = outcome.changes[start:start + WRITE_BATCH]
        try:
            ctx.inventory.commit_stock(StockCommit(batch))
            adjusted += [_adjusted(c) for c in batch]
        except ConcurrentModification:
            for change in batch:
                done = _one_at_a_time(ctx, change.before.sku, counted, snapshot, flagged)
                adjusted += [_adjusted(done)] if done else []
    return adjusted, flagged


def _source_again(ctx: Context, skus: list[str], snapshot: dict) -> list[dict]:
    """Where the count left fewer units than orders hold (also a count applied before a failure,
    delivered again), those orders are sourced again elsewhere or backordered: never silently
    left holding stock that is not there."""
    from .orders import source_again

    moved = []
    for sku in skus:
        level = ctx.inventory.stock_level(sku, snapshot["location_id"])
        if level.reserved > level.on_hand:
            moved += [{"sku": sku, **m} for m in source_again(
                ctx, sku, snapshot["location_id"], level.reserved - level.on_hand,
                f"count {snapshot['snapshot_id']} found fewer units")]
    return moved


def _adjusted(change: StockChange) -> dict:
    return {"sku": change.before.sku, "from": change.before.on_hand, "to": change.on_hand,
            "drift": change.on_hand - change.before.on_hand}


def _one_at_a_time(ctx: Context, sku: str, counted: dict[str, int], snapshot: dict,
                   flagged: list[dict]) -> StockChange | None:
    for attempt in range(5):
        level = ctx.inventory.stock_level(sku, snapshot["location_id"])
        moved, again = ctx.inventory.moved_since(sku, snapshot["location_id"], snapshot["as_of"],
                                                 but=snapshot["snapshot_id"])
        outcome = reconcile(snapshot_id=snapshot["snapshot_id"], location_id=snapshot["location_id"],
                            mode="partial", counted={sku: counted[sku]}, levels={sku: level},
                            moved_after={sku: moved}, known_skus={sku}, max_drift_percent=max_drift_percent(),
                            recounted={sku} if again else set())
        if not outcome.changes:
            flagged += outcome.flagged
            return None
        change = outcome.changes[0]
        try:
            ctx.inventory.commit_stock(StockCommit([change]))
        except ConcurrentModification:
            ctx.backoff(attempt)
            continue
        return change
    raise OrderRuleViolation("stock_busy", f"{sku} kept changing while it was reconciled")


def import_object(ctx: Context, bucket: str, key: str) -> dict:
    """An object in the imports bucket: a snapshot the API stored, or a warehouse's CSV with
    location_id, as_of and mode in its metadata or in its key (`.../location_id=WH1/mode=full/
    as_of=2026-12-01T06:00:00Z/count.csv`). A file that cannot be read is recorded as rejected."""
    from oms.adapters.imports import API_PREFIX

    raw, metadata = ctx.imports.read(bucket, key)
    if key.startswith(API_PREFIX):
        return process(ctx, json.loads(raw))
    settings = {**dict(part.split("=", 1) for part in key.split("/") if "=" in part), **metadata}
    try:
        items = parse_csv(raw)
        missing = [name for name in ("location_id", "as_of", "mode") if not settings.get(name)]
        if missing:
            raise InvalidSnapshot(f"the file's key or metadata must give {', '.join(missing)}")
        doc, _ = submit_file(ctx, settings, items)
    except (InvalidSnapshot, LookupError) as error:
        return _reject(ctx, settings.get("snapshot_id") or "ss" + hashlib.sha256(key.encode()).hexdigest()[:30],
                       key, str(error))
    return process(ctx, {**doc, "items": items})


def submit_file(ctx: Context, settings: dict, items: list[dict]) -> tuple[dict, bool]:
    """A file's snapshot: recorded like the API's, without storing it again."""
    as_of = moment_of(settings["as_of"])
    snapshot_id = settings.get("snapshot_id") or snapshot_id_for(settings["location_id"], as_of, settings["mode"],
                                                                 items)
    from .inventory import UnknownLocation

    if settings["location_id"] not in {loc.location_id for loc in ctx.inventory.locations()}:
        raise UnknownLocation(settings["location_id"])
    if settings["mode"] not in MODES:
        raise InvalidSnapshot(f"mode must be one of {', '.join(MODES)}")
    _recent_enough(ctx, as_of)
    doc = {"snapshot_id": snapshot_id, "location_id": settings["location_id"], "as_of": as_of,
           "mode": settings["mode"], "status": "processing", "source": "file", "lines": len(items),
           "received_at": ctx.clock.now()}
    existing = ctx.inventory.load_document(SNAPSHOT, snapshot_id)
    if existing and existing[0]["status"] != "rejected":
        return existing[0], False
    try:  # new, or a corrected file under the id of one that was rejected
        ctx.inventory.commit_stock(StockCommit(documents=[Document(SNAPSHOT, snapshot_id, doc,
                                                                   version=existing[1] if existing else None)]))
    except (DuplicateReference, ConcurrentModification):
        return ctx.inventory.load_document(SNAPSHOT, snapshot_id)[0], False
    return doc, True


def _reject(ctx: Context, snapshot_id: str, key: str, why: str) -> dict:
    doc = {"snapshot_id": snapshot_id, "status": "rejected", "source": "file", "file": key, "error": why,
           "received_at": ctx.clock.now()}
    try:
        ctx.inventory.commit_stock(StockCommit(documents=[Document(SNAPSHOT, snapshot_id, doc)]))
    except DuplicateReference:  # the same file, rejected before: answer with what was recorded then
        return ctx.inventory.load_document(SNAPSHOT, snapshot_id)[0]
    return doc
