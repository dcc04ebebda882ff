"""Reconciling the OMS's stock with a warehouse's count.

The count is the truth as of the moment it was taken (`as_of`); what moved since (units shipped
from, or received into, the location after it) brings it up to now. The difference to on hand
now is the drift: applied as an adjustment (reason `reconciliation`), or, when it is larger than
the threshold (a share of on hand, and at least MIN_FLAG_UNITS), flagged for an operator instead.
A full count also flags (never zeroes) what the OMS holds there that the file leaves out."""
from __future__ import annotations

from dataclasses import dataclass, field

from .inventory import StockChange, StockLevel

MIN_FLAG_UNITS = 5
MODES = ("partial", "full")


@dataclass
class Outcome:
    matched: int = 0
    adjusted: list[dict] = field(default_factory=list)  # {"sku", "from", "to", "drift"}
    flagged: list[dict] = field(default_factory=list)  # {"sku", "expected", "counted", "drift", "reason"}
    unknown_skus: list[str] = field(default_factory=list)
    missing_in_snapshot: list[str] = field(default_factory=list)
    changes: list[StockChange] = field(default_factory=list)  # to write


def reconcile(*, snapshot_id: str, location_id: str, mode: str, counted: dict[str, int],
              levels: dict[str, StockLevel], moved_after: dict[str, int], known_skus: set[str],
              max_drift_percent: float, recounted: set[str] = frozenset()) -> Outcome:
    """`levels`: the location's stock items now, by SKU; `moved_after`: on-hand movements since
    the count, by SKU (shipments negative, receipts positive); `recounted`: SKUs counted again
    after it (their newer count stands)."""
    outcome = Outcome()
    for sku in sorted(counted):
        if sku not in known_skus:
            outcome.unknown_skus.append(sku)
            continue
        level = levels.get(sku) or StockLevel(sku, location_id, 0, 0, 0)
        if sku in recounted:
            outcome.flagged.append({"sku": sku, "expected": level.on_hand, "counted": counted[sku], "drift": None,
                                    "reason": "counted_since"})
            continue
        truth = counted[sku] + moved_after.get(sku, 0)
        drift = truth - level.on_hand
        if drift == 0:
            outcome.matched += 1
            continue
        large = abs(drift) > level.on_hand * max_drift_percent / 100 and abs(drift) >= MIN_FLAG_UNITS
        reason = "negative_after_movements" if truth < 0 else "drift_over_threshold" if large else None
        if reason:
            outcome.flagged.append({"sku": sku, "expected": level.on_hand, "counted": counted[sku], "drift": drift,
                                    "reason": reason})
            continue
        outcome.adjusted.append({"sku": sku, "from": level.on_hand, "to": truth, "drift": drift})
        outcome.changes.append(StockChange(level, truth, level.inbound, level.safety_stock, "reconciliation",
                                           snapshot_id))
    if mode == "full":
        for sku in sorted(set(levels) - set(counted)):
            if levels[sku].on_hand:
                outcome.missing_in_snapshot.append(sku)
                outcome.flagged.append({"sku": sku, "expected": levels[sku].on_hand, "counted": None,
                                        "drift": None, "reason": "missing_in_snapshot"})
    return outcome
