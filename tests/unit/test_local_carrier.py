"""The local carrier speaks EasyPost's API well enough for EasyPost's own Python client: rates,
purchase (once), labels in PNG, PDF and ZPL, refunds, EasyPost's errors, injected faults, and
tracker webhooks signed as EasyPost signs them, in the shape the OMS's EasyPost webhook reads."""
import io
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import easypost
import pytest
import requests
from easypost.errors import InvalidRequestError, NotFoundError, ServiceUnavailableError, UnauthorizedError
from pypdf import PdfReader

from infra.local_carrier import LocalCarrier
from oms.adapters.carriers.easypost import to_tracking
from oms.adapters.signatures import verify_easypost

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s\u00e9cret-for-tests"
TO = {"name": "Ada Lovelace", "street1": "1 Main St", "city": "Brooklyn", "state": "NY", "zip": "11201",
      "country": "US"}
FROM = {"name": "Warehouse", "company": "OMS", "street1": "388 Townsend St", "city": "San Francisco",
        "state": "CA", "zip": "94107", "country": "US"}
PARCEL = {"length": 10, "width": 8, "height": 4, "weight": 15.4}


@pytest.fixture
def carrier():
    with LocalCarrier() as carrier:
        yield carrier


def client_for(carrier: LocalCarrier, key: str = "EZTK_test") -> easypost.EasyPostClient:
    return easypost.EasyPostClient(key, api_base=carrier.url + "/v2", timeout=10)


@pytest.fixture
def client(carrier):
    return client_for(carrier)


def shipment(client, **changes):
    return client.shipment.create(**{"to_address": TO, "from_address": FROM, "parcel": PARCEL,
                                     "reference": "ord_1", **changes})


def priced(rates) -> list[tuple]:
    return [(r.carrier, r.service, r.rate, r.currency, r.delivery_days) for r in rates]


def test_a_shipment_comes_with_rates_in_easyposts_shape(client):
    created = shipment(client)
    assert created.id.startswith("shp_") and created.object == "Shipment" and created.mode == "test"
    assert created.to_address.id.startswith("adr_") and created.to_address.object == "Address"
    assert created.from_address.zip == "94107" and created.parcel.id.startswith("prcl_")
    assert created.parcel.weight == 15.4 and created.reference == "ord_1"
    assert created.selected_rate is None and created.postage_label is None
    assert created.tracking_code is None and created.refund_status is None
    assert len(created.rates) >= 3 and {r.carrier for r in created.rates} >= {"USPS", "UPS", "FedEx"}
    for rate in created.rates:
        assert rate.id.startswith("rate_") and rate.object == "Rate" and rate.shipment_id == created.id
        assert rate.currency == "USD" and rate.carrier_account_id.startswith("ca_")
        assert float(rate.rate) > 0 and rate.rate == f"{float(rate.rate):.2f}"
        assert isinstance(rate.delivery_days, int) and rate.est_delivery_days == rate.delivery_days
        assert rate.delivery_date.endswith("T00:00:00Z") and isinstance(rate.delivery_date_guaranteed, bool)
    assert client.shipment.retrieve(created.id).rates[0].id == created.rates[0].id
    assert client.rate.retrieve(created.rates[0].id).rate == created.rates[0].rate


def test_the_same_parcel_and_route_always_cost_the_same_and_farther_costs_more(client):
    first, again = shipment(client), shipment(client)
    assert priced(first.rates) == priced(again.rates) and first.rates[0].id != again.rates[0].id
    near = shipment(client, to_address={**TO, "zip": "94016"})
    heavier = shipment(client, parcel={**PARCEL, "weight": 80})
    for far_rate, near_rate, heavy_rate in zip(first.rates, near.rates, heavier.rates, strict=True):
        assert float(far_rate.rate) > float(near_rate.rate)
        assert far_rate.delivery_days >= near_rate.delivery_days
        assert float(heavy_rate.rate) > float(far_rate.rate)


def test_buying_a_rate_gives_a_tracking_code_a_label_and_a_tracker(client):
    created = shipment(client)
    ups = next(r for r in created.rates if r.carrier == "UPS")
    bought = client.shipment.buy(created.id, rate=ups)
    assert bought.selected_rate.id == ups.id and bought.tracking_code.startswith("1Z")
    label = bought.postage_label
    assert label.object == "PostageLabel" and label.id.startswith("pl_") and label.label_size == "4x6"
    assert label.label_file_type == "image/png" and label.label_url.startswith(client.api_base.removesuffix("/v2"))
    assert label.label_pdf_url is None
    png = requests.get(label.label_url, timeout=5)
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    tracker = bought.tracker
    assert tracker.object == "Tracker" and tracker.id.startswith("trk_") and tracker.status == "pre_transit"
    assert tracker.tracking_code == bought.tracking_code and tracker.carrier == "UPS"
    assert requests.get(tracker.public_url, timeout=5).text.startswith(f"UPS {bought.tracking_code}")
    assert [fee.type for fee in bought.fees] == ["LabelFee", "PostageFee"]
    # The code belongs to the shipment, and a USPS one looks like USPS's.
    assert client.shipment.retrieve(created.id).tracking_code == bought.tracking_code
    usps = shipment(client)
    assert client.shipment.buy(usps.id, rate={"id": usps.rates[0].id}).tracking_code.startswith("9400")


def test_postage_is_bought_once(client):
    created = shipment(client)
    client.shipment.buy(created.id, rate=created.rates[0])
    with pytest.raises(InvalidRequestError) as again:
        client.shipment.buy(created.id, rate=created.rates[1])
    assert again.value.http_status == 422 and again.value.code == "SHIPMENT.POSTAGE.EXISTS"
    assert client.shipment.retrieve(created.id).selected_rate.id == created.rates[0].id


def test_a_rate_of_another_shipment_is_refused(client):
    one, other = shipment(client), shipment(client)
    with pytest.raises(InvalidRequestError) as refused:
        client.shipment.buy(one.id, rate=other.rates[0])
    assert refused.value.http_status == 422 and refused.value.errors
    assert client.shipment.retrieve(one.id).postage_label is None


def test_the_label_converts_to_a_real_pdf(client):
    created = shipment(client)
    bought = client.shipment.buy(created.id, rate=created.rates[0])
    converted = client.shipment.label(created.id, file_format="PDF")
    url = converted.postage_label.label_pdf_url
    assert url.endswith(".pdf") and converted.postage_label.label_url == bought.postage_label.label_url
    pdf = requests.get(url, timeout=5)
    assert pdf.headers["Content-Type"] == "application/pdf"
    page = PdfReader(io.BytesIO(pdf.content), strict=True).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (288, 432)  # 4 x 6 in
    text = page.extract_text()
    for words in (bought.tracking_code, "USPS", bought.selected_rate.service, "Ada Lovelace", "Brooklyn NY 11201"):
        assert words in text


def test_the_label_converts_to_zpl(client):
    created = shipment(client)
    bought = client.shipment.buy(created.id, rate=created.rates[0])
    url = client.shipment.label(created.id, file_format="zpl").postage_label.label_zpl_url
    zpl = requests.get(url, timeout=5)
    assert zpl.headers["Content-Type"].startswith("text/plain")
    assert zpl.text.startswith("^XA") and zpl.text.rstrip().endswith("^XZ")
    assert f"^BCN,220,Y,N,N^FD{bought.tracking_code}^FS" in zpl.text and "Ada Lovelace" in zpl.text


def test_a_label_format_asked_for_at_creation_is_the_default(client):
    created = shipment(client, options={"label_format": "PDF"})
    label = client.shipment.buy(created.id, rate=created.rates[0]).postage_label
    assert label.label_file_type == "application/pdf" and label.label_url == label.label_pdf_url
    assert requests.get(label.label_url, timeout=5).content.startswith(b"%PDF-")


def test_labels_need_postage_and_a_known_format(client):
    created = shipment(client)
    with pytest.raises(InvalidRequestError) as unbought:
        client.shipment.label(created.id, file_format="PDF")
    assert unbought.value.code == "SHIPMENT.POSTAGE.REQUIRED"
    client.shipment.buy(created.id, rate=created.rates[0])
    with pytest.raises(InvalidRequestError) as unknown:
        client.shipment.label(created.id, file_format="GIF")
    assert unknown.value.code == "SHIPMENT.POSTAGE.INVALID_FORMAT"
    assert requests.get(client.api_base.removesuffix("/v2") + "/labels/pl_missing.pdf", timeout=5).status_code == 404


def test_a_refund_is_submitted_once(client):
    created = shipment(client)
    client.shipment.buy(created.id, rate=created.rates[0])
    assert client.shipment.refund(created.id).refund_status == "submitted"
    assert client.shipment.retrieve(created.id).refund_status == "submitted"
    with pytest.raises(InvalidRequestError) as again:
        client.shipment.refund(created.id)
    assert again.value.code == "SHIPMENT.REFUND.UNAVAILABLE"


def test_an_unknown_shipment_is_easyposts_not_found(client):
    with pytest.raises(NotFoundError) as missing:
        client.shipment.retrieve("shp_0123456789abcdef0123456789abcdef")
    assert missing.value.http_status == 404 and missing.value.code == "NOT_FOUND"
    with pytest.raises(NotFoundError):
        client.shipment.buy("shp_nope", rate={"id": "rate_nope"})


def test_without_an_api_key_every_call_is_unauthorized(carrier):
    with pytest.raises(UnauthorizedError) as refused:
        shipment(client_for(carrier, key=""))
    assert refused.value.http_status == 401 and refused.value.code == "APIKEY.REQUIRED"
    body = json.loads(refused.value.http_body)["error"]
    assert set(body) == {"code", "message", "errors"} and body["errors"] == []
    # EasyPost's documented HTTP Basic form (the key as the username) is accepted too.
    answer = requests.get(carrier.url + "/v2/shipments/shp_x", auth=("EZTK_test", ""), timeout=5)
    assert answer.status_code == 404


def test_a_parcel_without_weight_is_refused_with_the_field(client):
    with pytest.raises(InvalidRequestError) as refused:
        shipment(client, parcel={"length": 10, "width": 8, "height": 4})
    assert refused.value.code == "PARAMETER.REQUIRED"
    assert refused.value.errors == [{"field": "shipment.parcel.weight", "message": "cannot be blank"}]
    with pytest.raises(InvalidRequestError) as negative:
        shipment(client, parcel={**PARCEL, "weight": -1})
    assert negative.value.code == "PARCEL.PARAMETERS.INVALID"


def test_with_every_call_failing_the_client_raises_service_unavailable():
    with LocalCarrier(faults=1.0) as down:
        client = client_for(down)
        for call in (lambda: shipment(client), lambda: client.shipment.retrieve("shp_x")):
            with pytest.raises(ServiceUnavailableError) as failed:
                call()
            assert failed.value.http_status == 503 and failed.value.code == "SERVICE_UNAVAILABLE"


def test_faults_come_from_the_environment_and_repeat_run_after_run(monkeypatch):
    monkeypatch.setenv("OMS_LOCAL_CARRIER_FAULTS", "0.5")

    def outcomes() -> list[bool]:
        with LocalCarrier() as flaky:
            client, seen = client_for(flaky), []
            for _ in range(12):
                try:
                    client.shipment.retrieve("shp_x")
                except ServiceUnavailableError:
                    seen.append(False)
                except NotFoundError:
                    seen.append(True)
            return seen

    first = outcomes()
    assert first == outcomes() and True in first and False in first


class Receiver:
    """A webhook endpoint that keeps what it is sent."""

    def __init__(self):
        self.received: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers.get("X-Hmac-Signature")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                """Quiet: the test reads what arrived, not the server's access log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/tracking/easypost"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def events_until_delivered(self, seconds: float = 5) -> list[dict]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            events = [json.loads(body) for body, _ in self.received]
            if any(event["result"]["status"] == "delivered" for event in events):
                return events
            time.sleep(0.02)
        raise AssertionError(f"no delivered event in {seconds} s: {len(self.received)} received")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def test_a_bought_parcel_travels_with_signed_tracker_events(receiver):
    with LocalCarrier(simulate=True, step_seconds=0.03) as travelling:
        travelling.register_webhook(receiver.url, SECRET)
        client = client_for(travelling)
        created = shipment(client)
        bought = client.shipment.buy(created.id, rate=created.rates[0])
        events = receiver.events_until_delivered()
        assert client.shipment.retrieve(created.id).tracker.status == "delivered"
    for body, signature in receiver.received:
        verify_easypost(SECRET, body, signature)  # raises if EasyPost's scheme was not followed
    assert [e["description"] for e in events] == ["tracker.created"] + ["tracker.updated"] * 3
    statuses = [e["result"]["status"] for e in events]
    assert statuses == ["pre_transit", "in_transit", "out_for_delivery", "delivered"]
    assert [e["previous_attributes"] for e in events[1:]] == [{"status": s} for s in statuses[:-1]]
    last = events[-1]
    assert last["object"] == "Event" and last["id"].startswith("evt_") and last["pending_urls"] == [receiver.url]
    tracker = last["result"]
    assert tracker["tracking_code"] == bought.tracking_code and tracker["shipment_id"] == created.id
    assert [d["status"] for d in tracker["tracking_details"]] == statuses
    assert tracker["tracking_details"][-1]["tracking_location"]["zip"] == "11201"
    # The OMS's EasyPost webhook reads these as it reads EasyPost's own (the FedEx fixture).
    tracking = to_tracking(last)
    assert tracking["tracking_number"] == bought.tracking_code
    assert [c["status"] for c in tracking["checkpoints"]] == ["info_received", "in_transit", "out_for_delivery",
                                                              "delivered"]


def test_webhooks_made_through_the_api_are_sent_events_and_refunded_labels_stay_put(receiver):
    # Slow enough steps that the refund reaches the label before it is scanned (then it could not be).
    with LocalCarrier(simulate=True, step_seconds=0.1) as travelling:
        client = client_for(travelling)
        hook = client.webhook.create(url=receiver.url, webhook_secret=SECRET)
        assert hook.id.startswith("hook_") and [h.url for h in client.webhook.all().webhooks] == [receiver.url]
        voided = shipment(client)
        client.shipment.buy(voided.id, rate=voided.rates[0])
        client.shipment.refund(voided.id)
        sent = shipment(client)
        client.shipment.buy(sent.id, rate=sent.rates[0])
        events = receiver.events_until_delivered()
        assert client.shipment.retrieve(voided.id).tracker.status == "pre_transit"
    verify_easypost(SECRET, *receiver.received[-1])
    assert {e["result"]["shipment_id"] for e in events if e["description"] == "tracker.updated"} == {sent.id}


def test_it_runs_on_its_own():
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # it finds layers/ itself
    with subprocess.Popen([sys.executable, "-m", "infra.local_carrier", "--port", "0"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            base = process.stdout.readline().split(" on ")[-1].strip()
            assert base.endswith("/v2")
            created = easypost.EasyPostClient("EZTK_test", api_base=base, timeout=10).shipment.create(
                to_address=TO, from_address=FROM, parcel=PARCEL)
            assert len(created.rates) >= 3
        finally:
            process.terminate()
