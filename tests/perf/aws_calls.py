"""Counting the AWS calls (and the payment processor's API calls) the OMS code makes, in-process.

Every botocore client (boto3's and PynamoDB's) goes through BaseClient._make_api_call; the
recorder wraps it and keeps a call only if the call stack passes through OMS code (app.py,
functions/, layers/oms/). So the local runner's own polling (ReceiveMessage,
DeleteMessageBatch, DescribeStream, GetShardIterator, GetRecords), provisioning and the
bench's own monitoring are never counted, whatever thread they run on, while everything an
HTTP handler or an event handler does is. Calls made while serving the bench's own
observation requests (GET /orders/{id} polling) are kept apart as "observation".
Counts are per API request as the SDK issues it (botocore's own retries are not repeated)."""
from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cost import read_units, write_units

DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
DYNAMODB_READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")
OBSERVATION_VIEWS = ("get_order", "get_stock")


@dataclass
class Call:
    service: str
    operation: str
    params: dict
    thread: str
    origin: str  # "oms" or "observation"
    error: str | None = None  # the error code, if the call failed (e.g. TransactionCanceledException)
    write_units: float = 0.0  # DynamoDB's request units, as on-demand capacity bills them (cost.py)
    read_units: float = 0.0

    @property
    def trigger(self) -> str:
        """Which Lambda would have made it: the runner names its threads sqs:/stream:/schedule:<handler>."""
        name = self.thread
        return name if name.startswith(("sqs:", "stream:", "schedule:")) else "http (app.app)"


def items_written(call: Call) -> int:
    if call.operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    if call.operation == "TransactWriteItems":
        return sum(1 for item in call.params.get("TransactItems", []) if set(item) & {"Put", "Update", "Delete"})
    if call.operation == "BatchWriteItem":
        return sum(len(requests) for requests in call.params.get("RequestItems", {}).values())
    return 0


class CallRecorder:
    def __init__(self, root: Path):
        root = Path(root).resolve()
        self.prefixes = (str(root / "app.py"), str(root / "functions") + os.sep, str(root / "layers" / "oms") + os.sep)
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.enabled = True
        self._original = None

    def install(self) -> CallRecorder:
        from botocore.client import BaseClient

        if self._original is not None:
            return self
        original = self._original = BaseClient._make_api_call
        recorder = self

        def _make_api_call(client, operation_name, api_params):
            origin = recorder.classify(sys._getframe(1)) if recorder.enabled else None
            if not origin:
                return original(client, operation_name, api_params)
            call = Call(client.meta.service_model.service_name, operation_name, dict(api_params),
                        threading.current_thread().name, origin)
            recorder.record(call)
            if call.service == "dynamodb":
                call.write_units = write_units(operation_name, api_params)  # billed whether or not it succeeds
            try:
                response = original(client, operation_name, api_params)
            except Exception as error:
                call.error = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
                raise
            if call.service == "dynamodb":
                call.read_units = read_units(operation_name, api_params, response)
            return response

        BaseClient._make_api_call = _make_api_call
        self._install_stripe()
        return self

    def _install_stripe(self) -> None:
        """Stripe's SDK sends every request through its HTTP client: count those the OMS makes,
        as service "stripe" and operation "<METHOD> <path with ids as {id}>"."""
        import re
        from urllib.parse import urlsplit

        import stripe

        original = stripe.RequestsClient.request
        recorder = self

        def request(client, method, url, headers, post_data=None):
            origin = recorder.classify(sys._getframe(1)) if recorder.enabled else None
            if origin:
                path = re.sub(r"/(pi|ch|cus|re|pm|dp)_[A-Za-z0-9]+", "/{id}", urlsplit(url).path)
                recorder.record(Call("stripe", f"{method.upper()} {path}", {}, threading.current_thread().name,
                                     origin))
            return original(client, method, url, headers, post_data)

        stripe.RequestsClient.request = request

    def uninstall(self) -> None:
        from botocore.client import BaseClient

        if self._original is not None:
            BaseClient._make_api_call = self._original
            self._original = None

    def classify(self, frame) -> str | None:
        oms = False
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith(self.prefixes):
                oms = True
                if frame.f_code.co_name in OBSERVATION_VIEWS and f"{os.sep}api{os.sep}" in filename:
                    return "observation"
            frame = frame.f_back
        return "oms" if oms else None

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def reset(self) -> None:
        with self.lock:
            self.calls = []

    def snapshot(self, origin: str = "oms") -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.origin == origin]

    def count(self) -> int:
        with self.lock:
            return len(self.calls)


@dataclass
class CallSummary:
    calls: list[Call]

    def by_operation(self) -> Counter:
        return Counter((c.service, c.operation) for c in self.calls)

    def dynamodb(self, operations: tuple[str, ...]) -> list[Call]:
        return [c for c in self.calls if c.service == "dynamodb" and c.operation in operations]

    @property
    def write_requests(self) -> int:
        return len(self.dynamodb(DYNAMODB_WRITES))

    @property
    def failed_writes(self) -> int:
        """Writes a condition cancelled (an optimistic-concurrency race the service then retried)."""
        return sum(1 for c in self.dynamodb(DYNAMODB_WRITES) if c.error)

    @property
    def items_written(self) -> int:
        return sum(items_written(c) for c in self.dynamodb(DYNAMODB_WRITES))

    @property
    def read_requests(self) -> int:
        return len(self.dynamodb(DYNAMODB_READS))

    @property
    def scans(self) -> int:
        return len(self.dynamodb(("Scan",)))

    @property
    def processor_calls(self) -> list[Call]:
        return [c for c in self.calls if c.service == "stripe"]

    @property
    def aws_calls(self) -> list[Call]:
        return [c for c in self.calls if c.service != "stripe"]

    @property
    def put_events_entries(self) -> int:
        return sum(len(c.params.get("Entries", [])) for c in self.calls
                   if c.service == "events" and c.operation == "PutEvents")

    @property
    def put_events_requests(self) -> int:
        return sum(1 for c in self.calls if c.service == "events" and c.operation == "PutEvents")

    def by_trigger(self) -> dict[str, Counter]:
        table: dict[str, Counter] = {}
        for call in self.calls:
            counter = table.setdefault(call.trigger, Counter())
            counter["calls"] += 1
            if call.service == "dynamodb" and call.operation in DYNAMODB_WRITES:
                counter["writes"] += 1
                counter["items"] += items_written(call)
            elif call.service == "dynamodb" and call.operation in DYNAMODB_READS:
                counter["reads"] += 1
            elif call.service == "events":
                counter["events"] += len(call.params.get("Entries", []))
        return table
