"""`make bench`: three measurements, each against a baseline measured in the same run.

  cold start     `import app` from the unzipped Lambda artefact in fresh `python -I -S -B`
                 interpreters (only the package on sys.path, no bytecode written: /var/task is
                 read-only and the zip ships no .pyc), median of 9, against the same for
                 `import boto3; boto3.client("dynamodb")`. app.py imports handler bodies on
                 first call, so each body's first-invocation import is measured too.
  cost per order one 3-line order driven webhook -> fulfilment order -> ship -> 3 tracking
                 updates -> delivered and captured on the in-process local stack; every AWS
                 call the OMS code makes is counted (not the runner's polling), against the
                 number of domain events in the order's history.
  throughput     500 orders through the generic webhook from 8 client threads until all are
                 "processing", against 500 bare DynamoDB PutItem calls from the same threads
                 against the same moto server.
  analytics      100,000 past orders imported through POST /analytics/history, then
                 GET /analytics/summary over their whole year by week (median of 5), against a
                 bare DuckDB scan of the same Parquet files on the same moto server.

Not part of `make test` (pytest ignores tests/perf). Runs in about eleven minutes.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _path in (str(ROOT / "layers"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(1, _path)

from aws_calls import DYNAMODB_WRITES, CallRecorder, CallSummary  # noqa: E402
from cost import ORDERS as ORDERS_PRICED  # noqa: E402
from cost import Invocations, LoggedBytes, order_cost  # noqa: E402
from driver import OmsClient, generic_order  # noqa: E402

from infra import verify_package  # noqa: E402

COLD_RUNS = 9
BODY_RUNS = 5
BASELINE_IMPORT = 'import boto3; boto3.client("dynamodb", region_name="us-east-1")'
BODY_MODULES = (*verify_package.LAZY_MODULES, "oms.services.orders")
# What the first invocation of each kind of Lambda imports after app.py.
FIRST_INVOCATIONS = {
    "first SQS event (order_events, bootstrap, services.orders)":
        "import functions.order_events, oms.bootstrap, oms.services.orders",
    "first stream batch (outbox, eventbus)": "import functions.outbox, oms.adapters.eventbus",
    "first order webhook (parser, bootstrap, canonical, intake)":
        "import aws_lambda_powertools.utilities.parser, oms.bootstrap, oms.services.canonical, oms.services.intake",
}
LOCATION = "BENCH-WH"
LINES = [("BENCH-A", 1, "10.00"), ("BENCH-B", 2, "5.50"), ("BENCH-C", 1, "20.00")]
ORDERS = 500
CLIENT_THREADS = 8
CONCURRENCY = 2
THROUGHPUT_TIMEOUT_S = 200
SECRETS = {"OMS_OPS_TOKEN": "bench-ops-token", "OMS_WEBHOOK_SECRET_ORDERS_GENERIC": "bench-orders-secret",
           "OMS_WEBHOOK_SECRET_TRACKING_GENERIC": "bench-tracking-secret"}


@dataclass
class Row:
    measurement: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    met: str = ""


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ratio(value: float | None, baseline: float | None) -> str:
    return f"{value / baseline:.2f}" if value is not None and baseline else "-"


def ms(seconds: float | None) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds is not None else "failed"


# ---- 1. cold start ------------------------------------------------------------------------------
def ensure_package() -> Path:
    zip_path = ROOT / "build" / "deployment.zip"
    if not zip_path.exists():
        say("build/deployment.zip is missing: running `make package`")
        done = subprocess.run(["make", "package"], cwd=ROOT, capture_output=True, text=True)
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        if not zip_path.exists():
            raise SystemExit("`make package` did not produce build/deployment.zip")
        if done.returncode:
            say("WARNING: the package verifier failed (see above); timing the artefact anyway")
    return zip_path


def time_statement(root: Path, statement: str, setup: str = "", bytecode: bool = False) -> tuple[float | None, str]:
    """Seconds `statement` takes in a fresh interpreter that sees only root and the stdlib."""
    code = (f"import sys; sys.path.insert(0, {str(root)!r})\nimport time\n{setup}\n"
            f"started = time.perf_counter()\n{statement}\nprint(time.perf_counter() - started)\n")
    flags = ["-I", "-S"] + ([] if bytecode else ["-B"])
    done = subprocess.run([sys.executable, *flags, "-c", code], cwd=root, capture_output=True, text=True,
                          env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ.get("PATH", "")}, timeout=120)
    if done.returncode:
        return None, (done.stderr.strip().splitlines() or ["?"])[-1]
    return float(done.stdout.strip().splitlines()[-1]), ""


def median_of(runs: int, measure: Callable[[], tuple[float | None, str]]) -> tuple[float | None, str]:
    times, error = [], ""
    for _ in range(runs):
        seconds, error = measure()
        if seconds is None:
            return None, error
        times.append(seconds)
    return statistics.median(times), ""


def paired(root: Path, statement: str, runs: int, show: bool = False) -> tuple[float | None, float | None, str]:
    """Medians of `statement` and of the baseline, run alternately so that drift hits both alike."""
    times: dict[str, list[float]] = {statement: [], BASELINE_IMPORT: []}
    errors = []
    for _ in range(runs):
        for code, measured in times.items():
            seconds, error = time_statement(root, code)
            if seconds is None:
                errors.append(error)
            else:
                measured.append(seconds)
    if show:
        for name, code in (("import app", statement), ("boto3 baseline", BASELINE_IMPORT)):
            print(f"  {name:<17} runs (ms): {' '.join(f'{t * 1000:.0f}' for t in times[code])}")
    medians = [statistics.median(t) if len(t) == runs else None for t in times.values()]
    return medians[0], medians[1], errors[0] if errors else ""


def cold_start() -> list[Row]:
    zip_path = ensure_package()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="oms-bench-") as scratch:
        root = verify_package.extract(zip_path, Path(scratch) / "task")
        say(f"cold start: {COLD_RUNS} fresh interpreters each for `import app` and the boto3 baseline")
        app, base, error = paired(root, "import app", COLD_RUNS, show=True)
        if error:
            print(f"  ERROR: {error}")
        rows.append(Row(f"cold start: import app (median of {COLD_RUNS}, no .pyc)", ms(app),
                        f"{ms(base)} boto3+client", ratio(app, base), "<= 1.5",
                        "FAIL" if app is None or not base else "ok" if app / base <= 1.5 else "MISS"))

        say(f"cold start: first-invocation imports of the handler bodies (after `import app`, median of {BODY_RUNS})")
        for module in BODY_MODULES:
            seconds, error = median_of(BODY_RUNS, lambda m=module: time_statement(root, f"import {m}", "import app"))
            rows.append(Row(f"  first call imports {module}", f"FAILED: {error}" if seconds is None else ms(seconds),
                            ms(base), ratio(seconds, base), "info"))
        for label, statement in FIRST_INVOCATIONS.items():
            seconds, error = median_of(BODY_RUNS, lambda s=statement: time_statement(root, s, "import app"))
            rows.append(Row(f"  {label}", ms(seconds) if seconds is not None else f"FAILED: {error}", ms(base),
                            ratio(seconds, base), "info"))
        say(f"cold start: import app + a first invocation's imports, {COLD_RUNS} runs each, interleaved with "
            "the baseline again")
        for label, key in (("SQS event", "first SQS event (order_events, bootstrap, services.orders)"),
                           ("order webhook", "first order webhook (parser, bootstrap, canonical, intake)")):
            seconds, paired_base, error = paired(root, f"import app\n{FIRST_INVOCATIONS[key]}", COLD_RUNS)
            rows.append(Row(f"cold start + first {label} imports (median of {COLD_RUNS})",
                            f"FAILED: {error}" if seconds is None else ms(seconds), f"{ms(paired_base)} boto3+client",
                            ratio(seconds, paired_base), "info"))
        for row in rows[1:]:
            if row.value.startswith("FAILED"):
                row.met = "FAIL"

        say("cold start: the same with a warm bytecode cache (.pyc written once, as if the zip shipped them)")
        time_statement(root, "import app", bytecode=True)
        time_statement(root, BASELINE_IMPORT, bytecode=True)
        for body in BODY_MODULES:
            time_statement(root, f"import {body}", "import app", bytecode=True)
        app_pyc, _ = median_of(BODY_RUNS, lambda: time_statement(root, "import app", bytecode=True))
        base_pyc, _ = median_of(BODY_RUNS, lambda: time_statement(root, BASELINE_IMPORT, bytecode=True))
        rows.insert(1, Row(f"cold start: import app (median of {BODY_RUNS}, with .pyc)", ms(app_pyc),
                           f"{ms(base_pyc)} boto3+client", ratio(app_pyc, base_pyc), "info"))
    return rows


# ---- the in-process local stack -------------------------------------------------------------------
def configured_memory() -> tuple[dict[str, int], int]:
    """Each function's memory as .chalice/config.json configures it (the dev stage)."""
    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]
    per_function = {name: settings["lambda_memory_size"]
                    for name, settings in stage.get("lambda_functions", {}).items() if "lambda_memory_size" in settings}
    return per_function, stage.get("lambda_memory_size", 128)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_stack(recorder: CallRecorder):
    api_port, aws_port = free_port(), free_port()
    os.environ.update({"OMS_PORT": str(api_port), "OMS_AWS_PORT": str(aws_port), **SECRETS,
                       "OMS_STRIPE_PORT": str(free_port()),
                       "OMS_LOCAL_CONCURRENCY": str(CONCURRENCY)})
    os.environ.pop("OMS_SIMULATE", None)
    os.environ.pop("OMS_LOCAL_FAULTS", None)
    recorder.install()
    import chalice.local

    chalice.local.ChaliceRequestHandler.log_message = lambda *args: None  # one line per request otherwise
    from infra.local_stack import LocalStack

    stack = LocalStack(api_port=api_port, aws_port=aws_port, simulate=False, concurrency=CONCURRENCY)
    stack.start()
    client = OmsClient(f"http://127.0.0.1:{api_port}", SECRETS["OMS_OPS_TOKEN"],
                       SECRETS["OMS_WEBHOOK_SECRET_ORDERS_GENERIC"], SECRETS["OMS_WEBHOOK_SECRET_TRACKING_GENERIC"])
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.http.get(f"{client.base}/health", timeout=5).status_code == 200:
                break
        except OSError:
            pass  # not listening yet: wait below, within the deadline
        if time.monotonic() > deadline:
            raise SystemExit("the local stack did not answer /health")
        time.sleep(0.1)
    say(f"local stack up: API :{api_port}, moto :{aws_port}, {CONCURRENCY} pollers per queue")
    return stack, client


def queue_depths(stack) -> dict[str, int]:
    import boto3

    sqs = boto3.client("sqs")
    depths = {}
    for logical_id, resource in stack.template["Resources"].items():
        if resource["Type"] == "AWS::SQS::Queue":
            attributes = sqs.get_queue_attributes(QueueUrl=stack.resolver.ref(logical_id), AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            depths[logical_id] = sum(int(v) for v in attributes.values())
    return depths


def wait_idle(stack, recorder: CallRecorder, quiet_s: float = 2.0, timeout_s: float = 60) -> None:
    """Queues drained (DLQs aside) and no OMS call for quiet_s: every event has been handled."""
    deadline = time.monotonic() + timeout_s
    last, since = recorder.count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = recorder.count()
        if now != last:
            last, since = now, time.monotonic()
            continue
        busy = {k: v for k, v in queue_depths(stack).items() if v and "DeadLetter" not in k}
        if not busy and time.monotonic() - since >= quiet_s:
            return
    raise TimeoutError(f"the stack did not go idle in {timeout_s}s: {queue_depths(stack)}")


# ---- 2. cost per order ------------------------------------------------------------------------------
def cost_per_order(stack, client: OmsClient, recorder: CallRecorder) -> tuple[list[Row], str]:
    say("cost per order: one 3-line order, webhook -> delivered and captured")
    client.put_location(LOCATION)
    for sku, _, _ in LINES:
        client.put_stock(sku, LOCATION, 100_000)
    wait_idle(stack, recorder)
    recorder.reset()
    invocations = Invocations().install()
    api: list[float] = []  # the order's own API requests (the bench's polling aside), their round trips

    def timed(call, *args):
        began = time.perf_counter()
        result = call(*args)
        api.append(time.perf_counter() - began)
        return result

    with LoggedBytes() as logged:  # the functions' log lines and metrics, at INFO
        started = time.perf_counter()
        order_id = timed(client.post_order, generic_order("BENCH-COST-1", LINES))
        order = client.wait_for(order_id, lambda o: bool(o["fulfillment_orders"]))
        tracking = "1ZBENCHCOST0001"
        timed(client.ship, order["fulfillment_orders"][0]["fulfillment_order_id"], "ups", tracking)
        for n, status in enumerate(("in_transit", "out_for_delivery", "delivered")):
            timed(client.track, tracking, status, f"2026-11-27T1{n}:00:00Z")
        order = client.wait_for(order_id, lambda o: o["status"] == "delivered"
                                and o["payments"]["captured"] == o["totals"]["total"])
        elapsed = time.perf_counter() - started
        wait_idle(stack, recorder)
        invocations.enabled = False
    order = client.get_order(order_id)

    summary = CallSummary(recorder.snapshot("oms"))
    observation = recorder.snapshot("observation")
    events = len(order["history"])
    print(f"  order {order_id}: {order['status']}, captured {order['payments']['captured']} of "
          f"{order['totals']['total']} in {elapsed:.1f}s; history: {[h['event_type'] for h in order['history']]}")
    print("  calls by the OMS code (AWS and Stripe), by service and operation:")
    for (service, operation), count in sorted(summary.by_operation().items()):
        print(f"    {service:<16} {operation:<22} {count:>4}")
    print("  by trigger (the Lambda that would make them):      calls  writes  items  reads  events")
    for trigger, counter in sorted(summary.by_trigger().items()):
        print(f"    {trigger:<48} {counter['calls']:>5}  {counter['writes']:>6}  {counter['items']:>5}  "
              f"{counter['reads']:>5}  {counter['events']:>6}")
    for call in summary.calls:
        if call.error:
            print(f"  failed call: {call.trigger} {call.service}.{call.operation}: {call.error}")
    print(f"  (not counted: {len(observation)} calls serving the bench's own GET /orders polling)")
    scheduled = [c for c in summary.calls if c.trigger.startswith("schedule:")]
    if scheduled:
        print(f"  note: {len(scheduled)} calls came from a scheduled handler during the measurement")

    cost = order_cost(summary.calls, invocations, len(api), sum(api), *configured_memory(), log_bytes=logged.bytes)
    print(f"  Lambda invocations for the order (API aside): {dict(invocations.counts)}")
    print(f"  AWS cost of {ORDERS_PRICED:,} such orders at us-east-1 list prices (no free tier; Stripe's fees aside):")
    for what, quantity, usd in cost.lines():
        print(f"    {what:<30} {quantity:>14}  ${usd:8.4f}")
    print(f"    {'total':<30} {'':>14}  ${cost.total:8.4f}")
    base = f"{events} events"
    # The order's steps, apart from its customer e-mails (the service queue: a lease and a record
    # each) and from writes a condition cancelled (a lost race, retried).
    dynamodb_writes = summary.dynamodb(DYNAMODB_WRITES)
    mails = [c for c in dynamodb_writes if c.trigger == "sqs:handle_service" and not c.error]
    steps = [c for c in dynamodb_writes if c.trigger != "sqs:handle_service" and not c.error]
    lost = [c for c in dynamodb_writes if c.error]
    rows = [
        Row("cost/order: DynamoDB write requests, the order's steps", str(len(steps)), base,
            ratio(len(steps), events), "<= 10", "ok" if len(steps) <= 10 else "MISS"),
        Row("cost/order: DynamoDB write requests, all", f"{len(dynamodb_writes)}: {len(steps)} steps, {len(mails)} for "
            f"its e-mails, {len(lost)} lost a race and retried", base, ratio(len(dynamodb_writes), events), "info"),
        Row(f"cost/{ORDERS_PRICED:,} orders: AWS at us-east-1 list prices", f"${cost.total:.2f}",
            f"DynamoDB ${sum(usd for what, _, usd in cost.lines() if what.startswith('DynamoDB')):.2f}",
            ratio(cost.total, sum(usd for what, _, usd in cost.lines() if what.startswith("DynamoDB"))), "info"),
        Row("cost/order: DynamoDB items written", str(summary.items_written), base,
            ratio(summary.items_written, events), "info"),
        Row("cost/order: DynamoDB read requests", str(summary.read_requests), base,
            ratio(summary.read_requests, events), "info"),
        Row("cost/order: DynamoDB Scans", str(summary.scans), base, ratio(summary.scans, events), "0",
            "ok" if summary.scans == 0 else "MISS"),
        Row("cost/order: EventBridge PutEvents entries", f"{summary.put_events_entries} in "
            f"{summary.put_events_requests} calls", base, ratio(summary.put_events_entries, events), "1 per event",
            "ok" if summary.put_events_entries == events else "MISS"),
        Row("cost/order: AWS calls, all services", str(len(summary.aws_calls)), base,
            ratio(len(summary.aws_calls), events), "info"),
        Row("cost/order: Stripe API calls (customer, authorise, capture)", str(len(summary.processor_calls)),
            f"{len(summary.aws_calls)} AWS calls", ratio(len(summary.processor_calls), len(summary.aws_calls)),
            "<= 3", "ok" if len(summary.processor_calls) <= 3 else "MISS"),
    ]
    return rows, order_id


# ---- 2b. cost per return -------------------------------------------------------------------------------
def cost_per_return(stack, client: OmsClient, recorder: CallRecorder, order_id: str) -> list[Row]:
    """One unit of the delivered cost-per-order order comes back damaged: from the customer's
    request to the refund at the processor."""
    say("cost per return: one unit returned damaged, from request to refund")
    order = client.get_order(order_id)
    wait_idle(stack, recorder)
    recorder.reset()
    started = time.perf_counter()
    ret = client.start_return(order["order_number"], "ada@example.com",
                              [{"line_id": "L1", "quantity": 1, "reason": "damaged"}])
    client.receive_return(ret["return_id"], LOCATION, [{"line_id": "L1", "quantity": 1, "condition": "sellable"}])
    order = client.wait_for(order["order_id"],
                            lambda o: bool(o["refunds"]) and o["refunds"][-1]["status"] == "succeeded")
    elapsed = time.perf_counter() - started
    wait_idle(stack, recorder)
    summary = CallSummary(recorder.snapshot("oms"))
    print(f"  return {ret['return_id']}: refunded {order['refunds'][-1]['amount']} in {elapsed:.1f}s")
    for (service, operation), count in sorted(summary.by_operation().items()):
        print(f"    {service:<16} {operation:<22} {count:>4}")
    return [
        Row("cost/return: DynamoDB write requests (request to refund)", str(summary.write_requests),
            f"{len(summary.aws_calls)} AWS calls", ratio(summary.write_requests, len(summary.aws_calls)), "info"),
        Row("cost/return: AWS calls, all services", str(len(summary.aws_calls)), "", "", "info"),
        Row("cost/return: Stripe API calls (refund read, refund)", str(len(summary.processor_calls)), "", "",
            "info"),
        Row("cost/return: DynamoDB Scans", str(summary.scans), "", "", "0", "ok" if summary.scans == 0 else "MISS"),
    ]


# ---- 2c. cost of reconciling a warehouse count -----------------------------------------------------------
SNAPSHOT_LINES = 10_000


def seed_stock(skus: list[str], on_hand: int) -> None:
    """Set-up, not measured: stock items for every SKU at the bench location, written directly."""
    import boto3

    dynamodb = boto3.client("dynamodb")
    table = os.environ["OMS_TABLE"]
    items = []
    for sku in skus:
        items.append({"pk": {"S": f"SKU#{sku}"}, "sk": {"S": "SKU"}})
        items.append({"pk": {"S": f"SKU#{sku}"}, "sk": {"S": f"LOC#{LOCATION}"}, "on_hand": {"N": str(on_hand)},
                      "reserved": {"N": "0"}, "safety_stock": {"N": "0"}, "available": {"N": str(on_hand)},
                      "inbound": {"N": "0"}, "version": {"N": "1"}, "gsi2pk": {"S": f"STOCK#{LOCATION}"},
                      "gsi2sk": {"S": sku}})
    for start in range(0, len(items), 25):
        dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]})


def cost_per_snapshot(stack, client: OmsClient, recorder: CallRecorder) -> list[Row]:
    """A 10,000-line count of one location: 100 SKUs a unit short (applied), 10 far off (flagged)."""
    say(f"cost per snapshot: a {SNAPSHOT_LINES:,}-line count, 100 small drifts and 10 large ones")
    skus = [f"BENCH-{n:05d}" for n in range(SNAPSHOT_LINES)]
    seed_stock(skus, 50)
    recorder.enabled = True  # the throughput run turned it off
    wait_idle(stack, recorder)
    recorder.reset()
    started = time.perf_counter()
    items = [{"sku": sku, "on_hand": 49 if n < 100 else 10 if n < 110 else 50} for n, sku in enumerate(skus)]
    answer = client.http.post(f"{client.base}/inventory/snapshots", headers=client.auth, timeout=120, json={
        "location_id": LOCATION, "as_of": "2026-12-01T06:00:00Z", "mode": "full", "items": items})
    snapshot_id = client._check(answer, 202)["snapshot_id"]
    while (result := client.http.get(f"{client.base}/inventory/snapshots/{snapshot_id}", headers=client.auth,
                                     timeout=30).json())["status"] != "completed":
        if time.perf_counter() - started > 600:
            raise SystemExit("the snapshot was not reconciled in 10 minutes")
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    wait_idle(stack, recorder)
    summary = CallSummary(recorder.snapshot("oms"))
    print(f"  snapshot {snapshot_id}: matched {result['matched']}, adjusted {len(result['adjusted'])}, "
          f"flagged {len(result['flagged'])} in {elapsed:.1f}s")
    for (service, operation), count in sorted(summary.by_operation().items()):
        print(f"    {service:<16} {operation:<22} {count:>4}")
    lines = SNAPSHOT_LINES
    return [
        Row(f"cost/snapshot ({lines:,} lines): DynamoDB read requests", str(summary.read_requests),
            f"{lines:,} lines", ratio(summary.read_requests, lines), "info"),
        Row(f"cost/snapshot ({lines:,} lines): DynamoDB write requests", str(summary.write_requests),
            "110 SKUs off", ratio(summary.write_requests, 110), "info"),
        Row(f"cost/snapshot ({lines:,} lines): DynamoDB items written", str(summary.items_written), "", "", "info"),
        Row(f"cost/snapshot ({lines:,} lines): DynamoDB Scans", str(summary.scans), "", "", "0",
            "ok" if summary.scans == 0 else "MISS"),
        Row(f"cost/snapshot ({lines:,} lines): seconds to completed on the local stack", f"{elapsed:.1f}",
            "", "", "info"),
    ]


# ---- 3. throughput ------------------------------------------------------------------------------------
def baseline_puts(count: int, threads: int) -> float:
    import boto3

    table = "bench-baseline"
    setup = boto3.client("dynamodb")
    setup.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    clients = [boto3.client("dynamodb") for _ in range(threads)]
    for client in clients:  # connect before the clock starts, as the OMS side's sessions have
        client.describe_table(TableName=table)
    counter, lock = iter(range(count)), threading.Lock()

    def work(client) -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            client.put_item(TableName=table, Item={"pk": {"S": f"ITEM#{n}"}, "n": {"N": str(n)}})

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, clients))
    return count / (time.perf_counter() - started)


def oms_throughput(client: OmsClient, count: int, threads: int) -> tuple[float, int, float, float]:
    """Orders per second from the first post until the last order is seen "processing"."""
    orders = [generic_order(f"BENCH-TP-{n:04d}", LINES) for n in range(count)]
    with ThreadPoolExecutor(threads) as pool:  # warm every thread's keep-alive session
        list(pool.map(lambda _: client.http.get(f"{client.base}/health", timeout=10), range(threads * 2)))
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        order_ids = list(pool.map(client.post_order, orders))
    posted = time.perf_counter() - started
    pending, deadline = list(order_ids), started + THROUGHPUT_TIMEOUT_S
    while pending and time.perf_counter() < deadline:
        misses, still = 0, []
        for n, order_id in enumerate(pending):
            if misses >= 3:  # the oldest are not done yet: the rest will not be either (and GETs load moto)
                still += pending[n:]
                break
            if client.get_order(order_id)["status"] == "processing":
                continue
            misses += 1
            still.append(order_id)
        pending = still
        if pending:
            time.sleep(0.5)
    elapsed = time.perf_counter() - started
    done = count - len(pending)
    return done / elapsed, done, elapsed, posted


def throughput(stack, client: OmsClient, recorder: CallRecorder) -> list[Row]:
    recorder.enabled = False  # no stack walks on the hot path
    say(f"throughput baseline: {ORDERS} bare DynamoDB PutItem calls from {CLIENT_THREADS} threads")
    puts = baseline_puts(ORDERS, CLIENT_THREADS)
    say(f"throughput: {ORDERS} orders through the generic webhook from {CLIENT_THREADS} threads")
    rate, done, elapsed, posted = oms_throughput(client, ORDERS, CLIENT_THREADS)
    print(f"  {done}/{ORDERS} orders processing after {elapsed:.1f}s (all posted after {posted:.1f}s, "
          f"{ORDERS / posted:.0f} webhooks/s); baseline {puts:.0f} PutItem/s")
    dead = {k: v for k, v in queue_depths(stack).items() if v and "DeadLetter" in k}
    if dead:
        print(f"  WARNING: messages in dead-letter queues: {dead}")
    # Past the time limit the rate so far is still a measurement (marked partial); none done is a failure.
    return [Row(f"throughput: orders/s to processing ({ORDERS} orders)",
                f"{rate:.1f}/s" + ("" if done == ORDERS else f" ({done} done in {THROUGHPUT_TIMEOUT_S}s)"),
                f"{puts:.0f} PutItem/s", ratio(rate, puts), "info",
                "" if done == ORDERS else "partial" if done else "FAIL")]


# ---- the table -----------------------------------------------------------------------------------------
# ---- 5. analytics ------------------------------------------------------------------------------------
HISTORY_ORDERS = 100_000
SUMMARY_RUNS = 5


def history_lines(count: int) -> list[bytes]:
    import json
    import random

    rng, start = random.Random(12), time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, 0))
    lines = []
    for n in range(count):
        placed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + rng.randrange(365 * 86400)))
        cents = rng.randint(500, 40_000)
        lines.append(json.dumps({"order_id": f"BENCH-H{n:06d}", "customer_id": f"BENCH-C{rng.randrange(20_000):05d}",
                                 "placed_at": placed, "total": f"{cents // 100}.{cents % 100:02d}",
                                 "currency": rng.choice(("USD", "USD", "EUR", "GBP")),
                                 "channel": rng.choice(("shopify", "web", "sfcc"))}).encode())
    return lines


def bare_scan_seconds(bucket: str) -> float:
    from analytics.store import _duckdb, _s3_secret

    connection = _duckdb(s3=True)
    _s3_secret(connection)
    began = time.perf_counter()
    connection.execute(f"SELECT currency, count(*), sum(total) FROM read_parquet('s3://{bucket}/facts/orders/*/*.parquet',"
                       " hive_partitioning = true) GROUP BY currency").fetchall()
    return time.perf_counter() - began


def analytics_summary(stack, client: OmsClient, recorder: CallRecorder) -> list[Row]:
    say(f"analytics: {HISTORY_ORDERS:,} past orders imported, then the summary over their year")
    lines, chunk, began = history_lines(HISTORY_ORDERS), [], time.perf_counter()
    headers = {**client.auth, "Content-Type": "application/x-ndjson"}

    def send(rows: list[bytes]) -> None:
        response = client.http.post(f"{client.base}/analytics/history", data=b"\n".join(rows), headers=headers,
                                    timeout=120)
        assert response.status_code == 202, response.text

    for line in lines:
        if chunk and sum(map(len, chunk)) + len(chunk) + len(line) > 1024 * 1024:
            send(chunk)
            chunk = []
        chunk.append(line)
    send(chunk)
    wait_idle(stack, recorder, timeout_s=600)
    imported = time.perf_counter() - began
    query = f"{client.base}/analytics/summary?from=2025-01-01&to=2025-12-31&granularity=week"
    times = []
    for _ in range(SUMMARY_RUNS):
        start = time.perf_counter()
        response = client.http.get(query, headers=client.auth, timeout=300)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    counted = sum(figures["orders"] for figures in response.json().values())
    assert counted == HISTORY_ORDERS, counted
    bare = statistics.median(bare_scan_seconds(os.environ["OMS_ANALYTICS_BUCKET"]) for _ in range(SUMMARY_RUNS))
    summary = statistics.median(times)
    print(f"  imported in {imported:.1f}s ({HISTORY_ORDERS / imported:,.0f} orders/s to Parquet); summary counted "
          f"{counted:,} orders in {len(response.json())} currencies")
    return [Row(f"GET /analytics/summary over {HISTORY_ORDERS:,} imported orders (a year by week, DuckDB on the "
                "local stack's S3), median of 5", ms(summary), f"{ms(bare)} for a bare DuckDB scan of the orders' "
                "Parquet", ratio(summary, bare))]


def table(rows: list[Row]) -> str:
    header = Row("measurement", "value", "baseline", "ratio", "target", "met")
    columns = list(vars(header))
    widths = {c: max(len(str(getattr(r, c))) for r in [header, *rows]) for c in columns}
    line = lambda r: "  ".join(f"{getattr(r, c):<{widths[c]}}" for c in columns).rstrip()  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * widths[c] for c in columns), *map(line, rows)])


def main(only: set[str]) -> int:
    """`bench.py` runs every section; `bench.py cost` only the cold start and the cost per order."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    started = time.perf_counter()
    rows = cold_start()
    recorder = CallRecorder(ROOT)
    stack, client = start_stack(recorder)
    try:
        order_rows, order_id = cost_per_order(stack, client, recorder)
        rows += order_rows
        if not only:
            rows += cost_per_return(stack, client, recorder, order_id)
            rows += throughput(stack, client, recorder)
            rows += analytics_summary(stack, client, recorder)
            rows += cost_per_snapshot(stack, client, recorder)  # last: its 10,000 stock items would slow moto
    finally:
        stack.shutdown()
        recorder.uninstall()
    print(f"\nOMS benchmark ({time.perf_counter() - started:.0f}s; ratios are value / baseline)")
    print(table(rows))
    return 1 if any(r.met == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(set(sys.argv[1:])))
