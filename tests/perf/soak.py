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

import io
import json
import logging
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


class Metrics(io.TextIOBase):
    """stdout, where the handlers' EMF lines go: tallied by metric (and the rest passed on)."""

    def __init__(self, out):
        self.out, self.totals, self.lock, self.partial = out, Counter(), threading.Lock(), ""

    def write(self, text: str) -> int:
        with self.lock:
            lines = (self.partial + text).split("\n")
            self.partial = lines.pop()
            for line in lines:
                if line.startswith('{"_aws"'):
                    blob = json.loads(line)
                    for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                        self.totals[definition["Name"]] += sum(blob[definition["Name"]])
                else:
                    self.out.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.out.flush()


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
            time.sleep(0.5)


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


def start_stack():
    import socket

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    api_port, aws_port = free_port(), free_port()
    os.environ.update({"OMS_PORT": str(api_port), "OMS_AWS_PORT": str(aws_port), **SECRETS,
                       "OMS_STRIPE_PORT": str(free_port()), "OMS_CARRIER_PORT": str(free_port()),
                       "OMS_LOCAL_CONCURRENCY": "2", "OMS_LOCAL_FAULTS": FAULTS, "OMS_NOTIFICATIONS": "1",
                       "OMS_RESERVATION_TTL_SECONDS": "86400", "POWERTOOLS_LOG_LEVEL": "ERROR"})
    import chalice.local

    chalice.local.ChaliceRequestHandler.log_message = lambda *args: None
    from infra.local_stack import LocalStack

    stack = LocalStack(api_port=api_port, aws_port=aws_port, simulate=False, concurrency=2)
    stack.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    return stack, f"http://127.0.0.1:{api_port}"


def wait_idle(stack, driver: Driver, timeout: float = 600) -> None:
    """Every queue empty (dead-letter queues aside) for three looks in a row."""
    import boto3

    sqs, quiet, deadline = boto3.client("sqs"), 0, time.monotonic() + timeout
    queues = [stack.resolver.ref(k) for k, v in stack.template["Resources"].items()
              if v["Type"] == "AWS::SQS::Queue" and "DeadLetter" not in k]
    while quiet < 3:
        if time.monotonic() > deadline:
            raise TimeoutError("the queues did not drain")
        busy = 0
        for url in queues:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            busy += sum(int(v) for v in attributes.values())
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
        if spec["outcome"] == "backordered":
            if {h["type"] for h in order["holds"]} != {"backorder"} or not spec["hot"]:
                problems.append(f"{spec['order_id']}: waits with {order['holds']} (only hot-SKU orders may wait)")
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
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    metrics = Metrics(sys.stdout)
    sys.stdout = metrics
    started = time.perf_counter()
    stack, base = start_stack()
    driver = Driver(base)
    try:
        faults = dict(stack.faults)
        stack.faults.clear()  # the shop is set up without faults: a merchant's catalogue is not the test
        driver.call("PUT", f"/locations/{LOCATION}", (200,), body={"name": LOCATION, "type": "warehouse",
                                                                  "priority": 1, "address": {}})
        for sku in [HOT, *SKUS]:
            driver.call("PUT", f"/inventory/{sku}/locations/{LOCATION}", (200,),
                        body={"on_hand": HOT_STOCK if sku == HOT else INITIAL, "safety_stock": 0})
        wait_idle(stack, driver)
        stack.faults.update(faults)
        rng = random.Random(20261202)
        specs = [plan(n, rng) for n in range(ORDERS)]
        print(f"soak: {ORDERS} orders, {THREADS} at a time, faults {FAULTS}", file=sys.stderr)
        drive_started = time.perf_counter()
        failures = []
        with ThreadPoolExecutor(THREADS) as pool:
            for future in [pool.submit(run_order, driver, spec) for spec in specs]:
                try:
                    future.result()
                except Exception as error:  # reported below; the others go on
                    failures.append(repr(error))
        drive_seconds = time.perf_counter() - drive_started
        injected = Counter(stack.moto.injected_faults)
        stack.faults.clear()
        wait_idle(stack, driver)
        before = {name: q["depth"] for name, q in dead_letters(driver).items()}
        explained = {name: q["oldest"] for name, q in dead_letters(driver).items() if q["depth"]}
        for name, depth in before.items():
            if depth:
                driver.call("POST", f"/ops/dead-letters/{name}/redrive", (200, 202))
        wait_idle(stack, driver)
        after = {name: q["depth"] for name, q in dead_letters(driver).items() if q["depth"]}
        problems = failures + check(driver, specs, stack.stripe.url)
        if after:
            problems.append(f"dead letters left after the redrive: {after}")
    finally:
        stack.shutdown()
        sys.stdout = metrics.out
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
    print(f"  dead letters           {sum(before.values())} redriven {dict((k, v) for k, v in before.items() if v)}"
          + (f"; oldest: {explained}" if explained else ""))
    print(f"  metrics                {dict(sorted((k, int(v)) for k, v in metrics.totals.items()))}")
    print(f"  checks                 {'all held' if not problems else f'{len(problems)} FAILED'}")
    for problem in problems[:40]:
        print(f"    {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
