"""The soak totals the metrics from its stack's output, where threads' lines may run together."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))

import soak  # noqa: E402


def _emf(name: str, value: float) -> str:
    return json.dumps({"_aws": {"CloudWatchMetrics": [{"Namespace": "OMS", "Dimensions": [["stage"]],
                                                       "Metrics": [{"Name": name, "Unit": "Count"}]}]},
                       "stage": "local", name: [value]})


def test_metrics_are_totalled_from_lines_that_ran_together_and_the_rest_ignored():
    log = "\n".join([_emf("Shipments", 1), _emf("Shipments", 1) + _emf("Refunds", 2),
                     '127.0.0.1 - - "GET /orders/o1 HTTP/1.1" 200 -', _emf("Returns", 1)[:40]])
    assert soak.emitted_metrics(log) == {"Shipments": 2, "Refunds": 2}
