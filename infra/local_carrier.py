"""The local carrier: EasyPost's API v2 (https://docs.easypost.com), as much of it as the OMS uses,
in memory, so that the official `easypost` client works against it unchanged:
`easypost.EasyPostClient(key, api_base=carrier.url + "/v2")`.

`python -m infra.local_carrier --port 8430 [--simulate] [--webhook URL]`

- POST /v2/shipments                 rates from a fixed table: weight x distance (ZIP first digits)
- GET  /v2/shipments/{id}
- POST /v2/shipments/{id}/buy        {"rate": {"id": ...}}: tracking code, PNG label, a Tracker
                                     (the PNG has rules and bars but no words: no font in the
                                     standard library; the PDF, ZPL and EPL2 labels have them all)
- GET  /v2/shipments/{id}/label      ?file_format=PDF|ZPL|EPL2|PNG: the label in that format too
- POST /v2/shipments/{id}/refund     refund_status "submitted"
- GET  /v2/trackers/{id}, GET /v2/rates/{id}, POST/GET /v2/webhooks
- GET  /labels/{file}                the label files the URLs above point at (this service, not S3)
- GET  /track/{tracker id}           the tracker's public page, as plain text

Any non-empty API key is accepted, as a Bearer token (what the client sends) or as the HTTP Basic
username (what EasyPost documents). Errors have EasyPost's shape, {"error": {"code", "message",
"errors"}}, with its codes (SHIPMENT.POSTAGE.EXISTS for a second purchase, NOT_FOUND, ...).

Like the real service it is sometimes slow or down, when asked: OMS_LOCAL_CARRIER_FAULTS=0.1 (or
`faults=`) answers 10 % of API calls 503, chosen by a seeded RNG so a run can be repeated; half of
the failed POSTs are carried out first and only the answer is lost, as when a timeout hides a
purchase that went through (callers read the shipment before buying, and buy once).
OMS_LOCAL_CARRIER_LATENCY=0.2 (or `latency=`) delays every API call by that many seconds.

With `simulate=True` each bought parcel travels: a tracker.created Event, then tracker.updated
Events (in_transit, out_for_delivery, delivered), `step_seconds` apart, POSTed to every registered
webhook signed as EasyPost signs them (X-Hmac-Signature), failed deliveries retried a few times."""
from __future__ import annotations

import argparse
import base64
import heapq
import itertools
import json
import logging
import math
import os
import random
import re
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from .carrier_labels import CONTENT_TYPES, FORMATS, LABEL_WRITERS, label_text, place
from .carrier_rates import SERVICES, band, rate, tracking_code

try:
    from oms.adapters.signatures import sign_easypost
except ModuleNotFoundError:  # `python -m infra.local_carrier` without make's PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers"))
    from oms.adapters.signatures import sign_easypost

log = logging.getLogger("oms.local.carrier")

STEPS = (("pre_transit", "label_created", "Shipping label created, awaiting item", "from"),
         ("in_transit", "arrived_at_facility", "Arrived at sort facility", "from"),
         ("out_for_delivery", "out_for_delivery", "Out for delivery", "to"),
         ("delivered", "arrived_at_destination", "Delivered, front door", "to"))
ADDRESS_FIELDS = ("name", "company", "street1", "street2", "city", "state", "zip", "country", "phone", "email")
DELIVERY_ATTEMPTS = 5
FAULT_SEED = 20240802


class ApiError(Exception):
    """An answer in EasyPost's error shape."""

    def __init__(self, status: int, code: str, message: str, errors: list | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "errors": self.errors}}


def _required(field: str) -> ApiError:
    return ApiError(422, "PARAMETER.REQUIRED", "Missing required parameter.",
                    [{"field": field, "message": "cannot be blank"}])


def _not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource could not be found.")


def _now(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"  # EasyPost's ids: a type prefix and 32 hex digits


class LocalCarrier:
    """EasyPost on 127.0.0.1:`port` (0: any free port), in a daemon thread, from start() to stop()."""

    def __init__(self, port: int = 0, *, simulate: bool = False, step_seconds: float = 2.0,
                 faults: float | None = None, latency: float | None = None, host: str = "127.0.0.1"):
        if faults is None:
            faults = float(os.environ.get("OMS_LOCAL_CARRIER_FAULTS") or 0)
        if latency is None:
            latency = float(os.environ.get("OMS_LOCAL_CARRIER_LATENCY") or 0)
        if not 0 <= faults <= 1:
            raise ValueError(f"faults is a share of calls, 0 to 1, not {faults}")
        self.host, self.port, self.simulate, self.step = host, port, simulate, step_seconds
        self.faults, self.latency = faults, latency
        self._lock = threading.RLock()
        self._random = random.Random(FAULT_SEED)
        self._shipments: dict[str, dict] = {}
        self._rates: dict[str, dict] = {}
        self._addresses: dict[str, dict] = {}
        self._trackers: dict[str, dict] = {}
        self._files: dict[str, tuple[str, bytes]] = {}
        self._webhooks: list[dict] = []
        self._due: list = []  # (monotonic time, n, action, args): the simulation's timetable
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local carrier is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> LocalCarrier:
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.carrier = self  # type: ignore[attr-defined]
        self._stopping = False
        self._threads = [threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                          name="local-carrier", daemon=True),
                         threading.Thread(target=self._run_timetable, name="local-carrier-sim", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def __enter__(self) -> LocalCarrier:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def register_webhook(self, url: str, secret: str | None = None) -> dict:
        """Send tracker Events to `url`, signed with `secret` (as EasyPost's webhook_secret)."""
        hook = {"id": _id("hook"), "object": "Webhook", "mode": "test", "url": url, "created_at": _now(),
                "disabled_at": None, "custom_headers": []}
        with self._lock:
            self._webhooks.append({"hook": hook, "secret": secret})
        return hook

    # ---- the API -----------------------------------------------------------------------------

    def _create_shipment(self, body: dict) -> dict:
        given = body.get("shipment")
        if not isinstance(given, dict) or not given:
            raise _required("shipment")
        now = _now()
        with self._lock:
            to_address = self._address(given.get("to_address"), "to_address", now)
            from_address = self._address(given.get("from_address"), "from_address", now)
            parcel = _parcel(given.get("parcel"), now)
            shipment_id = _id("shp")
            options = {"currency": "USD", "payment": {"type": "SENDER"}, "date_advance": 0,
                       **(given.get("options") if isinstance(given.get("options"), dict) else {})}
            distance = band(from_address["zip"], to_address["zip"])
            rates = [rate(service, shipment_id, parcel["weight"], distance, now) for service in SERVICES]
            shipment = {
                "id": shipment_id, "object": "Shipment", "mode": "test", "reference": given.get("reference"),
                "status": "unknown", "is_return": bool(given.get("is_return")), "options": options,
                "to_address": to_address, "from_address": from_address, "return_address": from_address,
                "buyer_address": to_address, "parcel": parcel, "customs_info": None, "insurance": None,
                "rates": rates, "selected_rate": None, "postage_label": None, "tracking_code": None,
                "tracker": None, "refund_status": None, "messages": [], "forms": [], "fees": [],
                "usps_zone": min(8, distance + 1), "scan_form": None, "order_id": None, "batch_id": None,
                "batch_status": None, "batch_message": None, "created_at": now, "updated_at": now}
            self._shipments[shipment_id] = shipment
            self._rates.update((rate["id"], rate) for rate in rates)
            return shipment

    def _address(self, given, field: str, now: str) -> dict:
        if not isinstance(given, dict) or not given:
            raise _required(f"shipment.{field}")
        if set(given) == {"id"}:  # EasyPost takes an existing object by its id
            if given["id"] not in self._addresses:
                raise _not_found()
            return self._addresses[given["id"]]
        address = {"id": _id("adr"), "object": "Address", "created_at": now, "updated_at": now,
                   **{key: (None if given.get(key) is None else str(given[key])) for key in ADDRESS_FIELDS},
                   "mode": "test", "carrier_facility": None, "residential": given.get("residential"),
                   "federal_tax_id": None, "state_tax_id": None, "verifications": {}}
        address["country"] = (address["country"] or "US").upper()
        self._addresses[address["id"]] = address
        return address

    def _shipment(self, shipment_id: str) -> dict:
        if shipment_id not in self._shipments:
            raise _not_found()
        return self._shipments[shipment_id]

    def _buy(self, shipment_id: str, body: dict) -> dict:
        rate_id = (body.get("rate") or {}).get("id") if isinstance(body.get("rate"), dict) else body.get("rate")
        with self._lock:
            shipment = self._shipment(shipment_id)
            if shipment["postage_label"] is not None:
                raise ApiError(422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment.")
            if not rate_id:
                raise _required("rate")
            rate = next((rate for rate in shipment["rates"] if rate["id"] == rate_id), None)
            if rate is None:
                raise ApiError(422, "SHIPMENT.INVALID_PARAMS", f"Rate {str(rate_id)[:40]} is not one of this "
                               "shipment's rates.", [{"field": "rate.id", "message": "is invalid"}])
            now = datetime.now(UTC)
            code = tracking_code(rate["carrier"], shipment_id)
            label_format = str(shipment["options"].get("label_format") or "PNG").upper()
            label_format = label_format if label_format in FORMATS else "PNG"
            label = {"id": _id("pl"), "object": "PostageLabel", "created_at": _now(now), "updated_at": _now(now),
                     "date_advance": 0, "integrated_form": "none", "label_date": _now(now), "label_resolution": 300,
                     "label_size": "4x6", "label_type": "default", "label_file_type": FORMATS[label_format][1],
                     "label_url": None, "label_pdf_url": None, "label_zpl_url": None, "label_epl2_url": None,
                     "label_file": None}
            tracker_id = _id("trk")
            tracker = {
                "id": tracker_id, "object": "Tracker", "mode": "test", "tracking_code": code, "status": "unknown",
                "status_detail": "unknown", "created_at": _now(now), "updated_at": _now(now), "signed_by": None,
                "weight": shipment["parcel"]["weight"],
                "est_delivery_date": (now + timedelta(days=rate["delivery_days"])).strftime("%Y-%m-%dT00:00:00Z"),
                "shipment_id": shipment_id, "carrier": rate["carrier"], "tracking_details": [], "fees": [],
                "carrier_detail": {"object": "CarrierDetail", "service": rate["service"], "container_type": None,
                                   "est_delivery_date_local": None, "est_delivery_time_local": None,
                                   "origin_location": place(shipment["from_address"]),
                                   "destination_location": place(shipment["to_address"]),
                                   "guaranteed_delivery_date": None, "alternate_identifier": None},
                "finalized": False, "is_return": shipment["is_return"], "public_url": f"{self.url}/track/{tracker_id}"}
            self._step(tracker, shipment, 0)
            self._trackers[tracker_id] = tracker
            amount = Decimal(rate["rate"])
            shipment.update(selected_rate=rate, tracking_code=code, postage_label=label, tracker=tracker,
                            updated_at=_now(now),
                            fees=[{"object": "Fee", "type": "LabelFee", "amount": "0.00000", "charged": True,
                                   "refunded": False},
                                  {"object": "Fee", "type": "PostageFee", "amount": f"{amount:.5f}",
                                   "charged": True, "refunded": False}])
            self._render(shipment, "PNG")
            if label_format != "PNG":  # options.label_format asks for another default, label_url included
                self._render(shipment, label_format)
                label["label_url"] = label[FORMATS[label_format][2]]
        if self.simulate:
            self._later(self.step, self._announce, tracker_id, "tracker.created", {})
            for n in range(1, len(STEPS)):
                self._later(self.step * (n + 1), self._advance, tracker_id, n)
        return shipment

    def _convert(self, shipment_id: str, query: dict) -> dict:
        file_format = (query.get("file_format") or [""])[0].upper()
        if not file_format:
            raise _required("file_format")
        with self._lock:
            shipment = self._shipment(shipment_id)
            if shipment["postage_label"] is None:
                raise ApiError(422, "SHIPMENT.POSTAGE.REQUIRED", "This shipment has no postage to convert.")
            if file_format not in FORMATS:
                raise ApiError(422, "SHIPMENT.POSTAGE.INVALID_FORMAT", f"Unknown label format {file_format[:10]}; "
                               "use PNG, PDF, ZPL or EPL2.", [{"field": "file_format", "message": "is invalid"}])
            if shipment["postage_label"][FORMATS[file_format][2]] is None:
                self._render(shipment, file_format)
            return shipment

    def _refund(self, shipment_id: str) -> dict:
        with self._lock:
            shipment = self._shipment(shipment_id)
            if shipment["postage_label"] is None:
                raise ApiError(422, "SHIPMENT.POSTAGE.REQUIRED", "This shipment has no postage to refund.")
            # EasyPost lets a rejected refund be asked again; one submitted or granted cannot be.
            if shipment["refund_status"] in ("submitted", "refunded"):
                raise ApiError(422, "SHIPMENT.REFUND.UNAVAILABLE",
                               f"A refund was already requested for this shipment ({shipment['refund_status']}).")
            if shipment["tracker"]["status"] not in ("unknown", "pre_transit"):
                raise ApiError(422, "SHIPMENT.REFUND.UNAVAILABLE",
                               "Unable to request refund. The parcel has been shipped.")
            shipment.update(refund_status="submitted", updated_at=_now())
            return shipment

    def _tracker(self, tracker_id: str) -> dict:
        with self._lock:
            if tracker_id not in self._trackers:
                raise _not_found()
            return self._trackers[tracker_id]

    def _rate_by_id(self, rate_id: str) -> dict:
        with self._lock:
            if rate_id not in self._rates:
                raise _not_found()
            return self._rates[rate_id]

    def _create_webhook(self, body: dict) -> dict:
        given = body.get("webhook") if isinstance(body.get("webhook"), dict) else {}
        if not given.get("url"):
            raise _required("webhook.url")
        return self.register_webhook(str(given["url"]), given.get("webhook_secret"))

    def _list_webhooks(self) -> dict:
        with self._lock:
            return {"webhooks": [webhook["hook"] for webhook in self._webhooks]}

    # ---- labels ------------------------------------------------------------------------------

    def _render(self, shipment: dict, file_format: str) -> None:
        """Write the label in `file_format` and point its PostageLabel field at it."""
        extension, _, field = FORMATS[file_format]
        label = shipment["postage_label"]
        name = f"{label['id']}.{extension}"
        self._files[name] = (CONTENT_TYPES[extension], LABEL_WRITERS[file_format](label_text(shipment)))
        label[field] = f"{self.url}/labels/{name}"
        label["updated_at"] = shipment["updated_at"] = _now()

    def label_file(self, name: str) -> tuple[str, bytes]:
        with self._lock:
            if name not in self._files:
                raise _not_found()
            return self._files[name]

    def _tracking_page(self, tracker_id: str) -> bytes:
        with self._lock:
            tracker = self._tracker(tracker_id)
            lines = [f"{tracker['carrier']} {tracker['tracking_code']}: {tracker['status']}", ""]
            lines += [f"{d['datetime']}  {d['status']:<17} {d['message']}  {place(d['tracking_location'])}"
                      for d in reversed(tracker["tracking_details"])]
        return "\n".join(lines).encode() + b"\n"

    # ---- the simulated journey ---------------------------------------------------------------

    def _step(self, tracker: dict, shipment: dict, n: int) -> None:
        status, detail, message, where = STEPS[n]
        address = shipment["from_address" if where == "from" else "to_address"]
        now = _now()
        tracker["tracking_details"].append({
            "object": "TrackingDetail", "message": message, "description": message, "status": status,
            "status_detail": detail, "datetime": now, "source": tracker["carrier"], "carrier_code": "",
            "tracking_location": {"object": "TrackingLocation", "city": (address["city"] or "").upper() or None,
                                  "state": address["state"], "country": address["country"], "zip": address["zip"]}})
        tracker.update(status=status, status_detail=detail, updated_at=now, finalized=status == "delivered")

    def _advance(self, tracker_id: str, n: int) -> None:
        with self._lock:
            tracker = self._trackers[tracker_id]
            shipment = self._shipments[tracker["shipment_id"]]
            if shipment["refund_status"]:  # a voided label never travels
                return
            previous = tracker["status"]
            self._step(tracker, shipment, n)
            shipment.update(status=tracker["status"], updated_at=tracker["updated_at"])
        self._announce(tracker_id, "tracker.updated", {"status": previous})

    def _announce(self, tracker_id: str, description: str, previous: dict) -> None:
        """An Event per webhook (each lists its own URL as pending, as EasyPost's do), sent now."""
        with self._lock:
            tracker, hooks = self._trackers[tracker_id], list(self._webhooks)
            event_id, now = _id("evt"), _now()
            deliveries = []
            for hook in hooks:
                event = {"description": description, "mode": "test", "previous_attributes": previous,
                         "created_at": now, "pending_urls": [hook["hook"]["url"]], "completed_urls": [],
                         "updated_at": now, "id": event_id, "user_id": "user_local", "status": "pending",
                         "object": "Event", "result": tracker}
                # Compact, like EasyPost's bodies; the signature is over these exact bytes.
                deliveries.append((hook["hook"]["url"], hook["secret"], json.dumps(event, separators=(",", ":"))))
        for url, secret, body in deliveries:
            self._deliver(url, secret, body.encode(), 1)

    def _deliver(self, url: str, secret: str | None, body: bytes, attempt: int) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "EasyPost WebHook Agent 1.0"}
        if secret:
            headers["X-Hmac-Signature"] = sign_easypost(secret, body)
        try:
            answer = requests.post(url, data=body, headers=headers, timeout=5)
            if answer.status_code < 300:
                return
            failure = f"answered {answer.status_code}"
        except requests.RequestException as error:
            failure = str(error)
        log.warning("webhook %s %s (attempt %d)", url, failure, attempt)
        if attempt < DELIVERY_ATTEMPTS:  # EasyPost retries failed deliveries, backing off
            self._later(self.step * 2 ** attempt, self._deliver, url, secret, body, attempt + 1)

    def _later(self, seconds: float, action, *args) -> None:
        with self._wake:
            heapq.heappush(self._due, (time.monotonic() + seconds, next(self._counter), action, args))
            self._wake.notify()

    def _run_timetable(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._due or self._due[0][0] > time.monotonic()):
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                if self._stopping:
                    return
                _, _, action, args = heapq.heappop(self._due)
            try:
                action(*args)
            except Exception:  # one bad step must not stop every other parcel
                log.exception("local carrier: %s failed", getattr(action, "__name__", action))

    # ---- faults ------------------------------------------------------------------------------

    def _fault(self) -> str | None:
        """None, "refuse" (503, nothing done) or "lose" (done, but the answer is a 503)."""
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            if not self.faults or self._random.random() >= self.faults:
                return None
            return "lose" if self._random.random() < 0.5 else "refuse"


# ---- shapes ------------------------------------------------------------------------------------

def _parcel(given, now: str) -> dict:
    if not isinstance(given, dict) or not given:
        raise _required("shipment.parcel")
    if given.get("weight") in (None, ""):
        raise _required("shipment.parcel.weight")
    parcel = {"id": _id("prcl"), "object": "Parcel", "created_at": now, "updated_at": now,
              "predefined_package": given.get("predefined_package"), "mode": "test"}
    for key in ("length", "width", "height", "weight"):
        value = given.get(key)
        try:
            parcel[key] = None if value in (None, "") else float(value)
        except (TypeError, ValueError):
            parcel[key] = math.nan
        if parcel[key] is not None and not (math.isfinite(parcel[key]) and parcel[key] >= 0):
            raise ApiError(422, "PARCEL.PARAMETERS.INVALID", "Invalid parcel.",
                           [{"field": f"shipment.parcel.{key}", "message": "must be a number, 0 or more"}])
    if parcel["weight"] <= 0:
        raise ApiError(422, "PARCEL.PARAMETERS.INVALID", "Invalid parcel.",
                       [{"field": "shipment.parcel.weight", "message": "must be greater than 0 (ounces)"}])
    return parcel




# ---- HTTP ----------------------------------------------------------------------------------------

ROUTES = (  # method, path, handler(carrier, match, query, body) -> (status, payload)
    ("POST", r"/v2/shipments", lambda c, m, q, b: (201, c._create_shipment(b))),
    ("GET", r"/v2/shipments/(\w+)", lambda c, m, q, b: (200, c._shipment(m[1]))),
    ("POST", r"/v2/shipments/(\w+)/buy", lambda c, m, q, b: (200, c._buy(m[1], b))),
    ("GET", r"/v2/shipments/(\w+)/label", lambda c, m, q, b: (200, c._convert(m[1], q))),
    ("POST", r"/v2/shipments/(\w+)/refund", lambda c, m, q, b: (200, c._refund(m[1]))),
    ("GET", r"/v2/trackers/(\w+)", lambda c, m, q, b: (200, c._tracker(m[1]))),
    ("GET", r"/v2/rates/(\w+)", lambda c, m, q, b: (200, c._rate_by_id(m[1]))),
    ("POST", r"/v2/webhooks", lambda c, m, q, b: (201, c._create_webhook(b))),
    ("GET", r"/v2/webhooks", lambda c, m, q, b: (200, c._list_webhooks())),
)


def _api_key(headers) -> str:
    """Bearer KEY (the official clients) or Basic base64(KEY:) (curl -u KEY: in EasyPost's docs)."""
    scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
        except ValueError:
            return ""
    return ""


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so nothing is still being served after stop().
    server_version = "LocalCarrier/1.0"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, content_type: str, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Ep-Request-Uuid", uuid.uuid4().hex)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        carrier: LocalCarrier = self.server.carrier  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        try:
            if method == "GET" and path.startswith("/labels/"):
                self._send(200, *carrier.label_file(path.removeprefix("/labels/")))
            elif method == "GET" and path.startswith("/track/"):
                self._send(200, "text/plain; charset=utf-8", carrier._tracking_page(path.removeprefix("/track/")))
            else:
                self._api(carrier, method, path, parse_qs(parts.query))
        except ApiError as error:
            self._send(error.status, "application/json; charset=utf-8", json.dumps(error.body()).encode())
        except Exception:
            log.exception("local carrier: %s %s failed", method, self.path)
            body = ApiError(500, "INTERNAL_SERVER_ERROR", "An unexpected condition was encountered.").body()
            self._send(500, "application/json; charset=utf-8", json.dumps(body).encode())

    def _api(self, carrier: LocalCarrier, method: str, path: str, query: dict) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not _api_key(self.headers):
            raise ApiError(401, "APIKEY.REQUIRED", "An API key is required: send it as a Bearer token or as the "
                           "HTTP Basic username.")
        fault = carrier._fault()
        if fault == "refuse":
            raise ApiError(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable. Please try again.")
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "BAD_REQUEST", "The request body must be a JSON object.")
        for route_method, pattern, action in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                try:
                    status, payload = action(carrier, match, query, body)
                    with carrier._lock:  # a consistent snapshot while the simulation moves trackers along
                        answer = json.dumps(payload).encode()
                finally:
                    if fault == "lose":  # it happened (or failed), but the caller never hears so
                        raise ApiError(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable.")
                headers = {"Location": f"/api{path}/{payload['id']}"} if status == 201 else {}
                self._send(status, "application/json; charset=utf-8", answer, headers)
                return
        raise _not_found()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8430)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--simulate", action="store_true", help="bought parcels travel, with tracker webhooks")
    parser.add_argument("--step-seconds", type=float, default=2.0)
    parser.add_argument("--webhook", action="append", default=[],
                        help="a URL for tracker Events, signed with $OMS_WEBHOOK_SECRET_TRACKING_EASYPOST")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    carrier = LocalCarrier(args.port, simulate=args.simulate, step_seconds=args.step_seconds, host=args.host)
    for url in args.webhook:
        carrier.register_webhook(url, os.environ.get("OMS_WEBHOOK_SECRET_TRACKING_EASYPOST"))
    carrier.start()
    print(f"local carrier (EasyPost API) on {carrier.url}/v2", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        log.info("stopped")  # Ctrl-C is how a standalone run ends
    finally:
        carrier.stop()


if __name__ == "__main__":
    main()
