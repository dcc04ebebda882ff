"""`make soak`: 1,000 orders through the local stack while moto fails a tenth of DynamoDB,
EventBridge and SQS calls (half of them after the call took effect), then the books are checked.

Orders: 30 % ask for one hot SKU whose stock runs out (the rest wait on a backorder hold); the
others are spread over ordinary SKUs. Each order has a fate: delivered; cancelled before it
ships; delivered then a unit returned (damaged, or back on sale) and refunded; delivered then a
goodwill refund. The driver behaves as channels and operators do: it retries a 5xx with the
same request (the same external id, tracking number or Idempotency-Key).

After the drive the faults stop, the queues drain, dead letters are listed and redriven, and:
every order is in the state its fate calls for (or waits for the hot SKU); no order has two
shipments for one parcel or a capture or refund the processor made twice; what the processor
holds equals what each order records; and for every SKU on_hand = initial + returned to stock -
shipped and reserved = the orders' allocated, unshipped units. The figures are printed; the
README keeps the latest."""
from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT), str(ROOT / "layers"), str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(1, _path)

from driver import generic_order  # noqa: E402

ORDERS = int(os.environ.get("OMS_SOAK_ORDERS", "1000"))
THREADS = 24  # orders in flight: each waits on queues most of its time
FAULTS = "DynamoDB_20120810=0.1,AWSEvents=0.1,AmazonSQS=0.1"
HOT, HOT_STOCK, HOT_SHARE = "SOAK-HOT", 200, 0.30
SKUS = [f"SOAK-{n:02d}" for n in range(20)]
INITIAL = 100_000
LOCATION = "SOAK-WH"
FATES = {"deliver": 0.70, "cancel": 0.10, "return": 0.10, "refund": 0.10}
SECRETS = {"OMS_OPS_TOKEN": "soak-ops-token", "OMS_WEBHOOK_SECRET_ORDERS_GENERIC": "soak-orders-secret",
           "OMS_WEBHOOK_SECRET_TRACKING_GENERIC": "soak-tracking-secret"}
ORDER_TIMEOUT_S = 240


def emitted_metrics(log: str) -> Counter:
    """The handlers' EMF lines in the stack's output, totalled by metric."""
    totals: Counter = Counter()
    decoder = json.JSONDecoder()
    for line in log.splitlines():
        at = line.find('{"_aws"')
        while at >= 0:  # the stack's threads share its stdout: two lines may run together
            try:
                blob, end = decoder.raw_decode(line, at)
            except json.JSONDecodeError:
                break
            for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                totals[definition["Name"]] += int(sum(blob[definition["Name"]]))
            at = line.find('{"_aws"', end)
    return totals


class Driver:
    """The channels, the warehouse, the carrier and the agents, over HTTP, retrying 5xx answers."""

    def __init__(self, base: str):
        self.base, self.local = base, threading.local()
        self.retries, self.lock = Counter(), threading.Lock()

    @property
    def http(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, method: str, path: str, expect: tuple[int, ...], *, signed: str | None = None,
             body=None, headers: dict | None = None, params: dict | None = None, attempts: int = 30):
        for attempt in range(attempts):
            try:
                if signed:
                    from tests.support.signing import signed as sign

                    raw, signature = sign(body, signed)
                    response = self.http.request(method, self.base + path, data=raw, timeout=60,
                                                 headers={**signature, **(headers or {})})
                else:
                    response = self.http.request(method, self.base + path, json=body, params=params, timeout=60,
                                                 headers={"Authorization": f"Bearer {SECRETS['OMS_OPS_TOKEN']}",
                                                          **(headers or {})})
            except requests.RequestException:
                response = None
            if response is not None and response.status_code in expect:
                return response
            if response is not None and response.status_code < 500:
                return response  # the caller decides what a 4xx means here
            with self.lock:
                self.retries[f"{method} {path.split('/')[1]}"] += 1
            time.sleep(min(2.0, 0.1 * 2 ** attempt))
        raise RuntimeError(f"{method} {path}: no answer after {attempts} attempts")

    def order(self, order_id: str) -> dict:
        return self.call("GET", f"/orders/{order_id}", (200,)).json()

    def wait_for(self, order_id: str, condition, timeout: float = ORDER_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            order = self.order(order_id)
            if condition(order):
                return order
            if time.monotonic() > deadline:
                raise TimeoutError(f"{order_id}: {order['status']} {order['holds']} "
                                   f"{[h['event_type'] for h in order['history']][-8:]}")
            time.sleep(1.0)


def plan(n: int, rng: random.Random) -> dict:
    lines = [(rng.choice(SKUS), rng.randint(1, 2), f"{rng.randint(5, 60)}.00") for _ in range(rng.randint(1, 3))]
    lines = list({sku: (sku, q, p) for sku, q, p in lines}.values())
    hot = rng.random() < HOT_SHARE
    if hot:
        lines[0] = (HOT, 1, "25.00")
    fate = rng.choices(list(FATES), weights=list(FATES.values()))[0]
    return {"n": n, "external_id": f"SOAK-{n:05d}", "lines": lines, "hot": hot, "fate": fate,
            "sellable_return": rng.random() < 0.5}


def run_order(driver: Driver, spec: dict) -> dict:
    body = generic_order(spec["external_id"], spec["lines"])
    answer = driver.call("POST", "/webhooks/orders/generic", (200, 202), signed=SECRETS[
        "OMS_WEBHOOK_SECRET_ORDERS_GENERIC"], body=body)
    spec["order_id"] = order_id = answer.json()["order_id"]
    ready = lambda o: o["fulfillment_orders"] or "backorder" in {h["type"] for h in o["holds"]}  # noqa: E731
    order = driver.wait_for(order_id, ready)
    if not order["fulfillment_orders"]:
        spec["outcome"] = "backordered"
        if spec["fate"] == "cancel":  # an agent cancels a waiting order: its stock goes to the next
            _cancel(driver, order_id)
            spec["outcome"] = "cancelled"
        return spec
    if spec["fate"] == "cancel":
        _cancel(driver, order_id)
        spec["outcome"] = "cancelled"
        return spec
    for k, fo in enumerate(order["fulfillment_orders"]):
        tracking = f"1ZSOAK{spec['n']:05d}{k}"
        driver.call("POST", f"/fulfillment-orders/{fo['fulfillment_order_id']}/ship", (200, 201),
                    body={"carrier": "ups", "tracking_number": tracking, "service": "ground"})
        driver.call("POST", "/webhooks/tracking/generic", (202,), signed=SECRETS["OMS_WEBHOOK_SECRET_TRACKING_GENERIC"],
                    body={"tracking_number": tracking, "status": "delivered", "occurred_at": "2026-12-02T10:00:00Z",
                          "description": "Delivered", "location": "New York, NY"})
    order = driver.wait_for(order_id, lambda o: o["status"] == "delivered"
                            and o["payments"]["captured"] == o["totals"]["total"])
    spec["outcome"] = "delivered"
    if spec["fate"] == "refund":
        driver.call("POST", f"/orders/{order_id}/refunds", (200, 201), body={"amount": "1.00", "reason": "goodwill"},
                    headers={"Idempotency-Key": f"soak-goodwill-{spec['n']}"})
        driver.wait_for(order_id, lambda o: o["refunds"] and o["refunds"][0]["status"] == "succeeded")
        spec["outcome"] = "refunded"
    elif spec["fate"] == "return":
        _return_one(driver, spec, order)
    return spec


def _cancel(driver: Driver, order_id: str) -> None:
    answer = driver.call("POST", f"/orders/{order_id}/cancel", (200,), body={"reason": "customer asked"})
    if answer.status_code != 200 and driver.order(order_id)["status"] != "cancelled":
        raise AssertionError(f"{order_id}: cancel answered {answer.status_code} {answer.text[:200]}")
    driver.wait_for(order_id, lambda o: o["status"] == "cancelled")


def _return_one(driver: Driver, spec: dict, order: dict) -> None:
    order_id, line = spec["order_id"], order["lines"][0]
    answer = driver.call("POST", f"/orders/{order_id}/returns", (201,), body={"lines": [
        {"line_id": line["line_id"], "quantity": 1, "reason": "damaged"}]})
    if answer.status_code == 201:
        return_id = answer.json()["return_id"]
    else:  # a 5xx after the return was taken, retried: the units are claimed by it already
        existing = driver.order(order_id).get("returns") or []
        if not existing:
            raise AssertionError(f"{order_id}: return answered {answer.status_code} {answer.text[:200]}")
        return_id = existing[0]["return_id"]
    driver.call("POST", f"/returns/{return_id}/approve", (200, 409), body={})
    condition = "sellable" if spec["sellable_return"] else "damaged"
    driver.call("POST", f"/returns/{return_id}/receive", (200, 409), body={"location_id": LOCATION, "lines": [
        {"line_id": line["line_id"], "quantity": 1, "condition": condition}]})
    driver.wait_for(order_id, lambda o: o["refunds"] and all(r["status"] == "succeeded" for r in o["refunds"]))
    spec.update(outcome="returned", returned_sku=line["sku"], restocked=condition == "sellable")


class Stack:
    """`make run`'s stack in its own process (the driver must not share its interpreter's lock),
    with OMS_LOCAL_FAULTS set; its output goes to a file, read for the metrics at the end."""

    def __init__(self, log: Path):
        import socket
        import subprocess

        def free_port() -> int:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                return probe.getsockname()[1]

        api_port, self.aws_port, self.stripe_port = free_port(), free_port(), free_port()
        self.base, self.log = f"http://127.0.0.1:{api_port}", log
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMS_"))}
        env.update({"OMS_PORT": str(api_port), "OMS_AWS_PORT": str(self.aws_port), **SECRETS,
                    "OMS_STRIPE_PORT": str(self.stripe_port), "OMS_CARRIER_PORT": str(free_port()),
                    "OMS_LOCAL_CONCURRENCY": "2", "OMS_LOCAL_FAULTS": FAULTS,
                    "OMS_RESERVATION_TTL_SECONDS": "86400", "POWERTOOLS_LOG_LEVEL": "ERROR",
                    "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{ROOT}:{ROOT / 'layers'}"})
        self.process = subprocess.Popen([sys.executable, "-m", "infra.local_stack"], cwd=ROOT, env=env,
                                        stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{self.base}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def aws(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{self.aws_port}", region_name="us-east-1",
                            aws_access_key_id="soak", aws_secret_access_key="soak")

    def end_faults(self) -> Counter:
        import signal

        self.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if line.startswith('{"injected_faults"'):
                    return Counter(json.loads(line)["injected_faults"])
            time.sleep(0.2)
        raise RuntimeError("the stack did not say how many faults it injected")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except Exception:
            self.process.kill()


def wait_idle(stack: Stack, timeout: float = 900) -> None:
    """Every queue empty (dead-letter queues aside) for three looks in a row. Its own calls to
    moto may meet the injected faults: botocore retries them."""
    from botocore.exceptions import ClientError

    sqs, quiet, deadline = stack.aws("sqs"), 0, time.monotonic() + timeout
    queues = [url for url in sqs.list_queues(QueueNamePrefix="oms-local-")["QueueUrls"] if not url.endswith("-dlq")]
    while quiet < 3:
        if time.monotonic() > deadline:
            raise TimeoutError("the queues did not drain")
        busy = 0
        try:
            for url in queues:
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                busy += sum(int(v) for v in attributes.values())
        except ClientError:
            busy = 1  # a fault: look again
        quiet = quiet + 1 if busy == 0 else 0
        time.sleep(2)


def dead_letters(driver: Driver) -> dict[str, dict]:
    return {q["queue"]: q for q in driver.call("GET", "/ops/dead-letters", (200,)).json()["dead_letters"]}


def _processor_agrees(stripe, stripe_url: str, order_id: str, intent: str, payments: dict) -> list[str]:
    """The local Stripe's charge against the order's books. A partial capture there releases the
    rest as a refund of its own (no oms_key); our refunds carry their key, each once."""
    problems = []
    charge = stripe.get(f"{stripe_url}/v1/payment_intents/{intent}", timeout=10).json().get("latest_charge")
    if isinstance(charge, str):
        charge = stripe.get(f"{stripe_url}/v1/charges/{charge}", timeout=10).json()
    refunds = stripe.get(f"{stripe_url}/v1/refunds", params={"payment_intent": intent}, timeout=10).json()
    ours = [r for r in refunds.get("data", []) if (r.get("metadata") or {}).get("oms_key")]
    released = sum(r["amount"] for r in refunds.get("data", []) if not (r.get("metadata") or {}).get("oms_key"))
    captured = charge["amount"] - released if charge and charge.get("captured") else 0
    if f"{captured / 100:.2f}" != payments["captured"]:
        problems.append(f"{order_id}: Stripe captured {captured}, the order says {payments['captured']}")
    keys = [r["metadata"]["oms_key"] for r in ours]
    if len(keys) != len(set(keys)):
        problems.append(f"{order_id}: a refund key used twice at Stripe: {keys}")
    if f"{sum(r['amount'] for r in ours) / 100:.2f}" != payments["refunded"]:
        problems.append(f"{order_id}: Stripe refunded {[r['amount'] for r in ours]}, the order says "
                        f"{payments['refunded']}")
    return problems


def check(driver: Driver, specs: list[dict], stripe_url: str) -> list[str]:
    problems: list[str] = []
    expected = {"delivered": "delivered", "refunded": "delivered", "returned": None, "cancelled": "cancelled"}
    stripe = requests.Session()
    stripe.headers["Authorization"] = "Bearer sk_test_oms_local"
    shipped, reserved, restocked = Counter(), Counter(), Counter()
    for spec in specs:
        order = driver.order(spec["order_id"])
        want = expected.get(spec["outcome"])
        if spec["outcome"] == "backordered":  # waits for the hot SKU, or was served units a cancellation gave back
            holds = {h["type"] for h in order["holds"]}
            if not spec["hot"] or holds - {"backorder"} or (not holds and not order["fulfillment_orders"]):
                problems.append(f"{spec['order_id']}: {order['status']} with {order['holds']} after waiting "
                                f"for stock (only hot-SKU orders may wait)")
        elif want and order["status"] != want:
            problems.append(f"{spec['order_id']}: {order['status']}, expected {want}")
        tracking = [s["tracking_number"] for fo in order["fulfillment_orders"] for s in fo["shipments"]]
        if len(tracking) != len(set(tracking)) or len(tracking) > len(order["fulfillment_orders"]):
            problems.append(f"{spec['order_id']}: shipments {tracking} for {len(order['fulfillment_orders'])} parcels")
        payments = order["payments"]
        intent = payments.get("payment_intent_id")
        if intent:
            problems += _processor_agrees(stripe, stripe_url, spec["order_id"], intent, payments)
        if spec["outcome"] == "cancelled" and payments["captured"] != "0.00":
            problems.append(f"{spec['order_id']}: cancelled but {payments['captured']} captured")
        for line in order["lines"]:
            shipped[line["sku"]] += line["shipped"]
            reserved[line["sku"]] += line["allocated"] - line["shipped"]
        if spec.get("restocked"):
            restocked[spec["returned_sku"]] += 1
    for sku in [HOT, *SKUS]:
        stock = driver.call("GET", f"/inventory/{sku}", (200,)).json()["totals"]
        initial = HOT_STOCK if sku == HOT else INITIAL
        if stock["on_hand"] != initial + restocked[sku] - shipped[sku]:
            problems.append(f"{sku}: on_hand {stock['on_hand']} != {initial} + {restocked[sku]} returned to stock "
                            f"- {shipped[sku]} shipped")
        if stock["reserved"] != reserved[sku]:
            problems.append(f"{sku}: reserved {stock['reserved']} != {reserved[sku]} allocated, not shipped")
    return problems


def main() -> int:
    started = time.perf_counter()
    log = Path(os.environ.get("OMS_SOAK_LOG", "/tmp/oms-soak-stack.log"))
    stack = Stack(log)
    driver = Driver(stack.base)
    specs: list[dict] = []
    try:
        # The shop is set up under the faults too: its calls are retried as the orders' are.
        driver.call("PUT", f"/locations/{LOCATION}", (200,), body={"name": LOCATION, "type": "warehouse",
                                                                  "priority": 1, "address": {}})
        for sku in [HOT, *SKUS]:
            driver.call("PUT", f"/inventory/{sku}/locations/{LOCATION}", (200,),
                        body={"on_hand": HOT_STOCK if sku == HOT else INITIAL, "safety_stock": 0})
        wait_idle(stack)
        rng = random.Random(20261202)
        specs = [plan(n, rng) for n in range(ORDERS)]
        print(f"soak: {ORDERS} orders, {THREADS} at a time, faults {FAULTS}; the stack logs to {log}", flush=True)
        drive_started = time.perf_counter()
        failures = []
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(run_order, driver, spec) for spec in specs]
            for done, future in enumerate(futures, start=1):
                try:
                    future.result()
                except Exception as error:  # reported below; the others go on
                    failures.append(repr(error))
                if done % 100 == 0:
                    print(f"  {done} orders done, {time.perf_counter() - drive_started:.0f} s", flush=True)
        drive_seconds = time.perf_counter() - drive_started
        injected = stack.end_faults()
        wait_idle(stack)
        before = dead_letters(driver)
        waiting = {name: q["depth"] for name, q in before.items() if q["depth"]}
        for name in waiting:
            driver.call("POST", f"/ops/dead-letters/{name}/redrive", (200, 202))
        wait_idle(stack)
        after = {name: q["depth"] for name, q in dead_letters(driver).items() if q["depth"]}
        problems = failures + check(driver, specs, f"http://127.0.0.1:{stack.stripe_port}")
        if after:
            problems.append(f"dead letters left after the redrive: {after}")
    finally:
        stack.stop()
    metrics = emitted_metrics(log.read_text())
    outcomes = Counter(spec.get("outcome", "unfinished") for spec in specs)
    print(f"\nOMS soak ({time.perf_counter() - started:.0f} s)")
    print(f"  orders                 {ORDERS} ({sum(s['hot'] for s in specs)} with the hot SKU, "
          f"{HOT_STOCK} units of it)")
    print(f"  outcomes               {dict(sorted(outcomes.items()))}")
    print(f"  drive                  {drive_seconds:.0f} s, {ORDERS / drive_seconds:.2f} orders/s")
    print(f"  faults injected        {sum(injected.values())}: " + ", ".join(
        f"{service} {count}" for service, count in sorted(Counter(
            t.partition('.')[0] for t in injected.elements()).items())))
    print(f"  5xx retried by callers {sum(driver.retries.values())}: {dict(driver.retries.most_common(6))}")
    print(f"  dead letters           {sum(waiting.values())} redriven {waiting}"
          + "".join(f"; {name}'s oldest: {before[name]['oldest']}" for name in waiting))
    print(f"  metrics                {dict(sorted(metrics.items()))}")
    print(f"  checks                 {'all held' if not problems else f'{len(problems)} FAILED'}")
    for problem in problems[:40]:
        print(f"    {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
