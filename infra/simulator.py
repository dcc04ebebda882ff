"""With OMS_SIMULATE=1, a simulated warehouse and carrier move orders along by themselves,
as outside systems would. The warehouse works each new fulfilment order through the ops API:
a pick list, every unit found, one package, a label bought at the local carrier service
(the cheapest on time), handed over. That carrier then posts signed EasyPost tracker events until
the parcel is delivered. A location without an address cannot buy labels: it ships with a
tracking number of its own, and this simulator posts its tracking updates instead. They hear
about work the way a subscriber would, through their own queue and rule on the bus."""
from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import boto3
import requests

from oms.adapters.signatures import sign_generic

from .runner import _Loop

log = logging.getLogger("oms.local.simulator")
TRACKING_STEPS = (("in_transit", "Departed the sorting facility", "Secaucus, NJ"),
                  ("out_for_delivery", "Out for delivery", "New York, NY"),
                  ("delivered", "Delivered, front door", "New York, NY"))


class Simulator(_Loop):
    def __init__(self, stop, api: str, queue_url: str, step_seconds: float):
        super().__init__("simulator", stop)
        self.api, self.queue_url, self.step = api, queue_url, step_seconds
        self.sqs = boto3.client("sqs")
        self.due: list = []
        self.counter = itertools.count()

    @classmethod
    def create(cls, stack) -> list[_Loop]:
        region, bus = os.environ["AWS_REGION"], stack.resolver.ref("EventBus")
        sqs, events = boto3.client("sqs"), boto3.client("events")
        url = sqs.create_queue(QueueName="oms-local-simulator")["QueueUrl"]
        events.put_rule(Name="SimulatorRule", EventBusName=bus, EventPattern=json.dumps(
            {"source": ["oms"], "detail-type": ["FulfillmentOrderCreated", "ShipmentCreated"]}))
        events.put_targets(Rule="SimulatorRule", EventBusName=bus, Targets=[
            {"Id": "simulator", "Arn": f"arn:aws:sqs:{region}:123456789012:oms-local-simulator"}])
        step = float(os.environ.get("OMS_SIMULATE_STEP_SECONDS", "2"))
        return [cls(stack.stop, f"http://127.0.0.1:{stack.api_port}", url, step)]

    def later(self, seconds: float, action, *args) -> None:
        heapq.heappush(self.due, (time.monotonic() + seconds, next(self.counter), action, args, 0))

    def tick(self) -> bool:
        busy = False
        for message in self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            detail = json.loads(message["Body"])["detail"]
            if detail["event_type"] == "FulfillmentOrderCreated":
                self.later(self.step, self.work, detail["data"]["fulfillment_order_id"],
                           detail["data"]["location_id"])
            elif detail["data"]["carrier"] == "simulated":  # labelled parcels are the carrier's to track
                for n, step in enumerate(TRACKING_STEPS, start=1):
                    self.later(self.step * n, self.track, detail["data"]["tracking_number"], *step)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            busy = True
        while self.due and self.due[0][0] <= time.monotonic():
            _, n, action, args, attempts = heapq.heappop(self.due)
            try:
                action(*args)
            except Exception as error:  # the API may be briefly unavailable: try again later
                if attempts < 5:
                    heapq.heappush(self.due, (time.monotonic() + self.step, n, action, args, attempts + 1))
                log.warning("simulator step failed (%s), attempt %d", error, attempts + 1)
            busy = True
        return busy

    def work(self, fulfillment_order_id: str, location_id: str) -> None:
        """Pick, pack, label and ship; steps already done answer 409 and are passed over."""
        made = self._call("POST", f"/locations/{location_id}/pick-lists",
                          {"fulfillment_order_ids": [fulfillment_order_id]}, ok=(201, 409))
        if made.status_code == 201:
            pick_list = made.json()
            picks = [{"fulfillment_order_id": fo["fulfillment_order_id"], "sku": line["sku"],
                      "quantity_picked": fo["quantity"]}
                     for line in pick_list["lines"] for fo in line["fulfillment_orders"]]
            self._call("POST", f"/pick-lists/{pick_list['pick_list_id']}/confirm", {"picks": picks})
            units = [{"sku": p["sku"], "quantity": p["quantity_picked"]} for p in picks]
            self._call("POST", f"/fulfillment-orders/{fulfillment_order_id}/packages", {"packages": [{
                "lines": units, "weight_grams": 400 * sum(u["quantity"] for u in units),
                "dimensions_cm": {"length": 30, "width": 20, "height": 12}}]}, ok=(200, 409))
        labels = self._call("POST", f"/fulfillment-orders/{fulfillment_order_id}/labels",
                            {"strategy": "cheapest_on_time"}, ok=(200, 201, 409, 422))
        if labels.status_code == 422:
            labels = self._call("POST", f"/fulfillment-orders/{fulfillment_order_id}/labels",
                                {"strategy": "cheapest"}, ok=(200, 201, 409))
        if labels.status_code in (200, 201):
            self._call("POST", f"/fulfillment-orders/{fulfillment_order_id}/ship", None, ok=(200, 409))
        else:  # no address to ship from: its own tracking number
            self.ship(fulfillment_order_id)

    def _call(self, method: str, path: str, body, ok=(200, 201)):
        response = requests.request(method, f"{self.api}{path}", timeout=15, json=body,
                                    headers={"Authorization": f"Bearer {os.environ['OMS_OPS_TOKEN']}"})
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:200]}")
        return response

    def ship(self, fulfillment_order_id: str) -> None:
        tracking = "SIM" + hashlib.sha256(fulfillment_order_id.encode()).hexdigest()[:12].upper()
        response = requests.post(f"{self.api}/fulfillment-orders/{fulfillment_order_id}/ship", timeout=10,
                                 headers={"Authorization": f"Bearer {os.environ['OMS_OPS_TOKEN']}"},
                                 json={"carrier": "simulated", "tracking_number": tracking, "service": "ground"})
        if response.status_code >= 500 or response.status_code == 401:
            raise RuntimeError(f"ship answered {response.status_code}")

    def track(self, tracking_number: str, status: str, description: str, location: str) -> None:
        now = datetime.now(UTC)
        body = json.dumps({"tracking_number": tracking_number, "status": status, "description": description,
                           "location": location, "occurred_at": now.isoformat(timespec="milliseconds"),
                           "estimated_delivery": (now + timedelta(days=1)).date().isoformat()}).encode()
        signature = sign_generic(os.environ["OMS_WEBHOOK_SECRET_TRACKING_GENERIC"], body, int(time.time()))
        response = requests.post(f"{self.api}/webhooks/tracking/generic", data=body, timeout=10,
                                 headers={"X-OMS-Signature": signature, "Content-Type": "application/json"})
        if response.status_code >= 500:
            raise RuntimeError(f"tracking webhook answered {response.status_code}")
