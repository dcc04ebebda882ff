"""The local stack started as `make run` starts it, driven over HTTP."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from tests.support.personal_data import leaks, personal_values
from tests.support.signing import signed

ROOT = Path(__file__).resolve().parents[2]
OPS_TOKEN = "e2e-ops-token"
SECRETS = {"OMS_WEBHOOK_SECRET_ORDERS_GENERIC": "e2e-orders", "OMS_WEBHOOK_SECRET_TRACKING_GENERIC": "e2e-tracking",
           "OMS_WEBHOOK_SECRET_ORDERS_SHOPIFY": "e2e-shopify", "OMS_WEBHOOK_SECRET_ORDERS_SFCC": "e2e-sfcc",
           "OMS_WEBHOOK_SECRET_TRACKING_EASYPOST": "e2e-easypost",
           "OMS_WEBHOOK_SECRET_TRACKING_AFTERSHIP": "e2e-aftership", "OMS_WEBHOOK_SECRET_PAYMENTS_STRIPE": "whsec_e2e",
           "OMS_CHANNEL_TOKEN_SHOPIFY": "shpat_e2e", "OMS_CHANNEL_TOKEN_SFCC": "e2e-sfcc-bearer",
           "OMS_SFCC_ORGANIZATION_ID": "f_ecom_e2e", "OMS_SFCC_SITE_ID": "RefArch",
           "OMS_CUSTOMER_TOKEN_SECRET": "e2e-customer-token-secret-32-bytes!"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self, tmp: Path, **env: str):
        self.api_port, self.aws_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.aws = f"http://127.0.0.1:{self.aws_port}"
        self.log = tmp / f"stack-{self.api_port}.log"
        self.personal: set[str] = set()  # the customers' data sent in: it must never come out
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMS_"))}
        self.stripe_port = _free_port()
        environment.update({"OMS_PORT": str(self.api_port), "OMS_AWS_PORT": str(self.aws_port),
                            "OMS_STRIPE_PORT": str(self.stripe_port), "OMS_CARRIER_PORT": str(_free_port()),
                            "OMS_OPS_TOKEN": OPS_TOKEN, "PYTHONUNBUFFERED": "1", "POWERTOOLS_LOG_LEVEL": "INFO",
                            "PYTHONPATH": f"{ROOT}:{ROOT / 'layers'}", **SECRETS, **env})
        self.process = subprocess.Popen([sys.executable, "-m", "infra.local_stack"], cwd=ROOT, env=environment,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local stack exited:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/health", timeout=1).json() == {"status": "ok"}:
                    break
            except requests.RequestException:
                time.sleep(0.1)  # not listening yet
                continue
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the local stack did not become healthy:\n{self.log.read_text()[-3000:]}")
        self.session = requests.Session()

    def aws_client(self, service: str):
        return boto3.client(service, endpoint_url=self.aws, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def tap(self) -> str:
        """Subscribe a queue to every event on the bus, as an auditor would."""
        sqs, events = self.aws_client("sqs"), self.aws_client("events")
        url = sqs.create_queue(QueueName="e2e-tap")["QueueUrl"]
        events.put_rule(Name="e2e-tap", EventBusName="oms-local", EventPattern=json.dumps({"source": ["oms"]}))
        events.put_targets(Rule="e2e-tap", EventBusName="oms-local",
                           Targets=[{"Id": "tap", "Arn": "arn:aws:sqs:us-east-1:123456789012:e2e-tap"}])
        return url

    def tapped(self, url: str, until, timeout: float = 30) -> list[dict]:
        """Events the tap queue received, read until `until(seen)` holds (the outbox is
        asynchronous: the last state change may be committed before its event is on the bus)."""
        sqs, seen = self.aws_client("sqs"), []
        deadline = time.monotonic() + timeout
        while not until(seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"the bus carried only {sorted({e['detail-type'] for e in seen})}")
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                time.sleep(0.1)
            for message in messages:
                seen.append(json.loads(message["Body"]))
                assert not leaks(message["Body"], self.personal), f"an event carries personal data: {message['Body']}"
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return seen

    def ops(self, method: str, path: str, body=None, retry_unavailable: bool = False) -> requests.Response:
        for _ in range(20):
            response = self.session.request(method, self.url + path, json=body, timeout=30,
                                            headers={"Authorization": f"Bearer {OPS_TOKEN}"})
            if not (retry_unavailable and response.status_code >= 500):
                return response
            time.sleep(0.2)
        return response

    def webhook(self, kind: str, body, retry_unavailable: bool = False) -> requests.Response:
        self.personal |= personal_values(body)
        raw, headers = signed(body, SECRETS[f"OMS_WEBHOOK_SECRET_{kind.upper()}_GENERIC"])
        for _ in range(20):
            response = requests.post(f"{self.url}/webhooks/{kind}/generic", data=raw, headers=headers, timeout=30)
            if not (retry_unavailable and response.status_code >= 500):
                return response
            time.sleep(0.2)
        return response

    def post(self, path: str, raw: bytes, headers: dict) -> requests.Response:
        self.personal |= personal_values(raw)
        for _ in range(20):
            response = requests.post(f"{self.url}{path}", data=raw, timeout=30,
                                     headers={"Content-Type": "application/json", **headers})
            if response.status_code < 500:
                return response
            time.sleep(0.2)
        return response

    def order(self, order_id: str) -> dict:
        response = self.ops("GET", f"/orders/{order_id}", retry_unavailable=True)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, order_id: str, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            order = self.order(order_id)
            if predicate(order):
                return order
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id} stuck at {order['status']} {order['holds']}: "
                                     f"{[e['event_type'] for e in order['history']]}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def assert_logs_hold_no_personal_data(self) -> None:
        """Every line the stack wrote (its handlers log at INFO here) searched for what was sent in."""
        text = self.log.read_text(errors="replace")
        found = leaks(text, self.personal)
        assert not found, f"{len(found)} personal values in {self.log}: " + ", ".join(
            text[max(0, text.index(value) - 200):text.index(value) + 50] for value in found[:3])


@pytest.fixture(scope="session")
def channels():
    """Stand-ins for Shopify's and SFCC's APIs, recording what the stack tells them."""
    from tests.support.recording_server import RecordingServer

    with RecordingServer() as shopify, RecordingServer() as sfcc:
        yield {"shopify": shopify, "sfcc": sfcc}


@pytest.fixture(scope="session")
def stack(tmp_path_factory, channels):
    started = Stack(tmp_path_factory.mktemp("stack"), OMS_LOCAL_CONCURRENCY="3", OMS_SLA_SWEEP_SECONDS="1",
                    OMS_CHANNEL_BASE_URL_SHOPIFY=channels["shopify"].url,
                    OMS_CHANNEL_BASE_URL_SFCC=channels["sfcc"].url)
    yield started
    started.stop()
    started.assert_logs_hold_no_personal_data()
