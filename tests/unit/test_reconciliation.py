"""Reconciling stock with a warehouse's count, brought up to now by what moved after it."""
from __future__ import annotations

from oms.domain.inventory import StockLevel
from oms.domain.reconciliation import reconcile


def run(counted, levels, moved_after=None, mode="partial", known=None, percent=20):
    return reconcile(snapshot_id="ss1", location_id="WH1", mode=mode, counted=counted,
                     levels={sku: StockLevel(sku, "WH1", *values) for sku, values in levels.items()},
                     moved_after=moved_after or {}, known_skus=known or set(counted) | set(levels),
                     max_drift_percent=percent)


def test_what_shipped_after_the_count_is_not_drift():
    # counted 50 at 9:00; 3 shipped at 10:00; the OMS has 47: nothing to change
    outcome = run({"A": 50}, {"A": (47, 0, 0)}, moved_after={"A": -3})
    assert outcome.matched == 1 and not outcome.changes and not outcome.flagged


def test_what_arrived_after_the_count_is_not_drift_either():
    outcome = run({"A": 10}, {"A": (22, 0, 0)}, moved_after={"A": 12})
    assert outcome.matched == 1


def test_a_small_drift_is_applied_and_a_large_one_flagged():
    outcome = run({"A": 97, "B": 50}, {"A": (100, 0, 0), "B": (100, 0, 0)})
    assert outcome.adjusted == [{"sku": "A", "from": 100, "to": 97, "drift": -3}]
    assert [(c.before.sku, c.on_hand, c.reason, c.reference) for c in outcome.changes] == [
        ("A", 97, "reconciliation", "ss1")]
    assert outcome.flagged == [{"sku": "B", "expected": 100, "counted": 50, "drift": -50,
                                "reason": "drift_over_threshold"}]


def test_the_threshold_is_at_least_five_units():
    assert run({"A": 6}, {"A": (2, 0, 0)}).adjusted  # 200 % of 2, but only 4 units
    assert run({"A": 8}, {"A": (2, 0, 0)}).flagged  # 6 units


def test_full_mode_flags_what_the_file_leaves_out_and_never_zeroes_it():
    outcome = run({"A": 5}, {"A": (5, 0, 0), "B": (7, 0, 0), "C": (0, 0, 0)}, mode="full")
    assert outcome.missing_in_snapshot == ["B"] and not outcome.changes
    assert outcome.flagged[-1]["reason"] == "missing_in_snapshot"
    assert run({"A": 5}, {"A": (5, 0, 0), "B": (7, 0, 0)}).missing_in_snapshot == []  # partial: nothing said


def test_unknown_skus_are_reported_not_created():
    outcome = run({"A": 5, "ZZZ": 3}, {"A": (5, 0, 0)}, known={"A"})
    assert outcome.unknown_skus == ["ZZZ"] and outcome.matched == 1


def test_a_drift_below_what_is_reserved_is_applied_in_full():
    outcome = run({"A": 8}, {"A": (10, 9, 0)})  # the service then sources the lacking unit's order again
    assert outcome.adjusted == [{"sku": "A", "from": 10, "to": 8, "drift": -2}]


def test_more_shipped_than_counted_is_flagged():
    assert run({"A": 1}, {"A": (0, 0, 0)}, moved_after={"A": -3}).flagged[0]["reason"] == "negative_after_movements"


def test_a_sku_counted_again_after_the_snapshot_keeps_its_newer_count():
    outcome = reconcile(snapshot_id="ss1", location_id="WH1", mode="partial", counted={"A": 1},
                        levels={"A": StockLevel("A", "WH1", 8, 0, 0)}, moved_after={}, known_skus={"A"},
                        max_drift_percent=20, recounted={"A"})
    assert not outcome.changes and outcome.flagged[0]["reason"] == "counted_since"
