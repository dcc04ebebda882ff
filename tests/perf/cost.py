"""What 1,000 orders cost in AWS, at us-east-1 list prices, from what one order was counted to
use: the Lambda invocations the local runner made (and how long each took here, an upper
bound: moto answers slower than DynamoDB), the API requests, the DynamoDB capacity units of
every recorded request (sized from the items written and read), the SQS requests, the
EventBridge entries, the CloudWatch Logs the functions write (their lines at the production
level, INFO, and Lambda's own START/END/REPORT lines) and the X-Ray traces. The payment
processor's fees are not AWS's and are left out."""
from __future__ import annotations

import io
import json
import logging
import math
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

# us-east-1 list prices (USD), read 2026-12-02 from aws.amazon.com/<service>/pricing; no free tier.
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86_64
    "api_gateway_request": 3.50 / 1e6,  # REST API, first 333 million a month
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "eventbridge_event": 1.00 / 1e6,  # custom event published, per 64 KB chunk
    "logs_gb": 0.50,  # CloudWatch Logs ingested, per GB (standard class); EMF lines are logs too
    "xray_trace": 5.00 / 1e6,  # X-Ray trace recorded
}
# Lambda's START, END and REPORT lines of one invocation, the REPORT with its X-Ray trace id: the
# lengths of AWS's documented examples, rounded up.
PLATFORM_LOG_BYTES = 450
ORDERS = 1000
# Functions whose event source gathers a large batch in AWS (the facts writer: 100 events or
# 30 s): an order pays its share of an invocation, not a whole one as on the local stack.
BATCHED = {"handle_analytics_facts": 100}


def item_size(item: dict) -> int:
    """DynamoDB's item size, near enough: attribute names plus their values' JSON."""
    return sum(len(name) + len(json.dumps(value, separators=(",", ":"))) for name, value in item.items())


def _indexes_written(item: dict) -> int:
    return sum(1 for name in item if name.startswith("gsi") and name.endswith("pk"))


def write_units(operation: str, params: dict) -> float:
    """Write request units: 1 per KB per item (2 in a transaction), plus each index the item is in."""
    def units(item: dict, factor: int) -> float:
        kilobytes = max(1, math.ceil(item_size(item) / 1024))
        return factor * kilobytes + _indexes_written(item) * kilobytes

    if operation == "PutItem":
        return units(params["Item"], 1)
    if operation in ("UpdateItem", "DeleteItem"):
        return units(params.get("ExpressionAttributeValues") or {}, 1)
    if operation == "BatchWriteItem":
        return sum(units(request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"], 1)
                   for requests in params["RequestItems"].values() for request in requests)
    if operation == "TransactWriteItems":
        total = 0.0
        for entry in params["TransactItems"]:
            (kind, body), = entry.items()
            item = body.get("Item") or body.get("ExpressionAttributeValues") or body.get("Key") or {}
            total += units(item, 2)
        return total
    return 0.0


def read_units(operation: str, params: dict, response: dict) -> float:
    """Read request units: per 4 KB read, a half for eventually consistent, 2 in a transaction."""
    factor = 1.0 if params.get("ConsistentRead") else 0.5
    if operation == "GetItem":
        return factor * max(1, math.ceil(item_size(response.get("Item") or {}) / 4096))
    if operation in ("Query", "Scan"):
        return factor * max(1, math.ceil(sum(item_size(i) for i in response.get("Items", [])) / 4096))
    if operation == "BatchGetItem":
        items = [i for found in response.get("Responses", {}).values() for i in found]
        return sum(0.5 * max(1, math.ceil(item_size(i) / 4096)) for i in items) or 0.5
    if operation == "TransactGetItems":
        return sum(2 * max(1, math.ceil(item_size(r.get("Item") or {}) / 4096)) for r in response.get("Responses", []))
    return 0.0


@dataclass
class Invocations:
    """The local runner's Lambda invocations, counted while `enabled`: per handler, the number of
    invocations, the messages they carried and the seconds they took."""
    counts: Counter = field(default_factory=Counter)
    records: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)
    enabled: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> Invocations:
        from infra import runner

        original = runner.Invocation.__call__
        invocations = self

        def call(invocation, event):
            started = time.perf_counter()
            try:
                return original(invocation, event)
            finally:
                records = event.get("Records") or []
                if invocations.enabled and records:  # schedules are a cost per minute, not per order
                    with invocations.lock:
                        invocations.counts[invocation.name] += 1
                        if records[0].get("eventSource") == "aws:sqs":
                            invocations.records[invocation.name] += len(records)
                        invocations.seconds[invocation.name] += time.perf_counter() - started

        runner.Invocation.__call__ = call
        return self

    def reset(self) -> None:
        with self.lock:
            self.counts, self.records, self.seconds = Counter(), Counter(), Counter()


class LoggedBytes:
    """While open, counts what the functions write to stdout (log lines and EMF metrics, which
    Lambda sends to CloudWatch Logs), with the OMS's logger at INFO as in production."""

    def __init__(self):
        self.bytes = 0
        self._lock = threading.Lock()

    def __enter__(self) -> LoggedBytes:
        from oms.observability.logs import logger

        counter, self._stdout = self, sys.stdout

        class Counting(io.TextIOBase):
            def write(self, text: str) -> int:
                with counter._lock:
                    counter.bytes += len(text.encode())
                return len(text)

        self._handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
        self._streams = [h.setStream(Counting()) for h in self._handlers]
        self._level = logger.log_level
        logger.setLevel("INFO")
        sys.stdout = Counting()
        return self

    def __exit__(self, *exc) -> None:
        from oms.observability.logs import logger

        sys.stdout = self._stdout
        for handler, stream in zip(self._handlers, self._streams, strict=True):
            handler.setStream(stream)
        logger.setLevel(self._level)


@dataclass
class OrderCost:
    lambda_requests: float
    gb_seconds: float
    api_requests: int
    wru: float
    rru: float
    sqs_requests: float
    events: int
    log_bytes: float = 0.0  # the functions' own lines; Lambda's are added per request

    @property
    def logs_gb(self) -> float:
        return (self.log_bytes + self.lambda_requests * PLATFORM_LOG_BYTES) / 1024 ** 3

    def lines(self) -> list[tuple[str, str, float]]:
        """(what, quantity for 1,000 orders, USD for 1,000 orders)."""
        n, api, invoked = ORDERS, self.api_requests * ORDERS, self.lambda_requests * ORDERS
        return [
            ("Lambda requests", f"{invoked:,.0f}", invoked * PRICES["lambda_request"]),
            ("Lambda GB-seconds", f"{self.gb_seconds * n:,.1f}", self.gb_seconds * n * PRICES["lambda_gb_second"]),
            ("API Gateway requests", f"{api:,}", api * PRICES["api_gateway_request"]),
            ("DynamoDB write request units", f"{self.wru * n:,.0f}", self.wru * n * PRICES["dynamodb_wru"]),
            ("DynamoDB read request units", f"{self.rru * n:,.0f}", self.rru * n * PRICES["dynamodb_rru"]),
            ("SQS requests", f"{self.sqs_requests * n:,.0f}", self.sqs_requests * n * PRICES["sqs_request"]),
            ("EventBridge events", f"{self.events * n:,}", self.events * n * PRICES["eventbridge_event"]),
            ("CloudWatch Logs ingested (MB)", f"{self.logs_gb * n * 1024:,.1f}", self.logs_gb * n * PRICES["logs_gb"]),
            # Every request a trace of its own, as under X-Ray's default sampling (the first
            # request a second, then 5 %) at a few orders a minute: an upper bound at volume.
            ("X-Ray traces", f"{invoked:,.0f}", invoked * PRICES["xray_trace"]),
        ]

    @property
    def total(self) -> float:
        return sum(usd for _, _, usd in self.lines())


def order_cost(calls, invocations: Invocations, api_requests: int, api_seconds: float, memory_mb: dict[str, int],
               default_memory_mb: int, log_bytes: float = 0.0) -> OrderCost:
    """One order's share. SQS: EventBridge's SendMessage for each message, and per invocation
    the poller's ReceiveMessage and DeleteMessageBatch (empty polls are a fixed cost, not per order).
    The API's GB-seconds are its requests' round trips as the client saw them (an upper bound)."""
    wru = sum(call.write_units for call in calls if call.service == "dynamodb")
    rru = sum(call.read_units for call in calls if call.service == "dynamodb")
    def share(name: str) -> float:  # of this order's invocations of the function, as AWS would batch them
        return min(1.0, invocations.records[name] / BATCHED[name] / max(1, invocations.counts[name])) \
            if name in BATCHED else 1.0

    lambda_requests = sum(count * share(name) for name, count in invocations.counts.items())
    sqs_requests = sum(invocations.records[name] + 2 * invocations.counts[name] * share(name)
                       for name in invocations.records)
    gb_seconds = sum(seconds * share(name) * memory_mb.get(name, default_memory_mb) / 1024
                     for name, seconds in invocations.seconds.items())
    gb_seconds += api_seconds * memory_mb.get("api_handler", default_memory_mb) / 1024
    events = sum(len(call.params.get("Entries", [])) for call in calls
                 if call.service == "events" and call.operation == "PutEvents")
    return OrderCost(lambda_requests=lambda_requests + api_requests, gb_seconds=gb_seconds,
                     api_requests=api_requests, wru=wru, rru=rru, sqs_requests=sqs_requests, events=events,
                     log_bytes=log_bytes)
