"""The bench's AWS cost model (tests/perf/cost.py): DynamoDB's request units as on-demand
capacity bills them, and an order's share of batched invocations."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))

import cost  # noqa: E402


def _item(kilobytes: float, **extra) -> dict:
    return {"pk": {"S": "ORDER#o-1"}, "doc": {"S": "x" * int(kilobytes * 1024)}, **extra}


def test_writes_cost_a_unit_per_kilobyte_twice_in_a_transaction_and_once_more_per_index():
    assert cost.write_units("PutItem", {"Item": _item(0.2)}) == 1
    assert cost.write_units("PutItem", {"Item": _item(1.5)}) == 2
    assert cost.write_units("TransactWriteItems", {"TransactItems": [
        {"Put": {"Item": _item(1.5)}}, {"Put": {"Item": _item(0.1, gsi5pk={"S": "RESERVATIONS#UNPAID"})}},
        {"ConditionCheck": {"Key": {"pk": {"S": "SKU#A"}}}}]}) == 2 * 2 + (2 * 1 + 1) + 2 * 1


def test_reads_cost_half_a_unit_per_4_kb_eventually_and_a_whole_one_consistently():
    assert cost.read_units("GetItem", {"ConsistentRead": True}, {"Item": _item(5)}) == 2
    assert cost.read_units("GetItem", {}, {"Item": _item(5)}) == 1
    assert cost.read_units("Query", {}, {"Items": [_item(1), _item(1)]}) == 0.5
    assert cost.read_units("GetItem", {"ConsistentRead": True}, {}) == 1  # a miss is still a read


def test_an_order_pays_its_share_of_a_batched_invocation():
    invocations = cost.Invocations()
    invocations.counts.update({"handle_analytics_facts": 3, "handle_validation": 1})
    invocations.records.update({"handle_analytics_facts": 16, "handle_validation": 1})
    invocations.seconds.update({"handle_analytics_facts": 3.0, "handle_validation": 0.5})
    order = cost.order_cost([], invocations, api_requests=5, api_seconds=1.0, memory_mb={}, default_memory_mb=1024)
    assert round(order.lambda_requests, 2) == round(1 + 5 + 16 / 100, 2)
    assert round(order.gb_seconds, 2) == round(0.5 + 1.0 + 3.0 * 16 / 100 / 3, 2)
    assert round(order.sqs_requests, 2) == round(1 + 2 + 16 + 2 * 3 * 16 / 100 / 3, 2)
    lines = dict((what, usd) for what, _, usd in order.lines())
    assert round(lines["API Gateway requests"], 6) == round(5 * 1000 * 3.50 / 1e6, 6)
    assert order.total == sum(lines.values())


def test_logs_are_the_lines_written_at_info_plus_lambdas_own_and_every_request_is_a_trace():
    from oms.observability import metrics
    from oms.observability.logs import logger

    level = logger.log_level
    logger.setLevel("WARNING")
    try:
        with cost.LoggedBytes() as logged:
            logger.info("event handled")  # production logs at INFO, whatever the tests' level
            metrics.count("Shipments")  # an EMF line is a log line
        assert logger.log_level == logging.WARNING
    finally:
        logger.setLevel(level)
    written = logged.bytes
    assert 200 < written < 1500
    with cost.LoggedBytes() as nothing:
        pass
    assert nothing.bytes == 0
    order = cost.order_cost([], cost.Invocations(), api_requests=4, api_seconds=0.0, memory_mb={},
                            default_memory_mb=1024, log_bytes=written)
    lines = {what: (quantity, usd) for what, quantity, usd in order.lines()}
    megabytes = (written + 4 * cost.PLATFORM_LOG_BYTES) * 1000 / 1024 ** 2
    assert lines["CloudWatch Logs ingested (MB)"] == (f"{megabytes:,.1f}", megabytes / 1024 * 0.50)
    assert lines["X-Ray traces"] == ("4,000", 4000 * 5.00 / 1e6)
