"""Schemathesis against a local stack, from the stack's own GET /openapi.json: every operation is
called with generated requests, valid and invalid (the coverage phase's boundaries and missing or
mistyped fields, then a few random ones), and no answer may be a 5xx, every 4xx must be in the
error shape, and every answer must be one the document declares, in the shape it declares.

Ops calls carry the ops token; the customer routes a signed-in customer's token; the webhooks no
valid signature (they must answer 401). Path and query values are drawn half the time from what
the stack was seeded with (an order, its fulfilment order, a return, a case, ...), so the
fuzzer reaches past the 404s. The stack is this module's own: the fuzzer writes locations, channel
policies and service levels that other tests' stack must not see.

`make test` runs the fuzzing phase, 5 examples an operation, derandomised (about 40 s of the test's
~70 s here). A deeper run, e.g. before a release (the coverage phase alone is ~3,900 requests):
    OMS_FUZZ_PHASES=coverage,fuzzing OMS_FUZZ_EXAMPLES=50 .venv/bin/python -m pytest tests/e2e/test_openapi_fuzz.py"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from tests.support.orders import ADDRESS, canonical_order

from .conftest import OPS_TOKEN, SECRETS, Stack

ROOT = Path(__file__).resolve().parents[2]
HOOKS = Path(__file__).with_name("openapi_fuzz_hooks.py")
EMAIL = "fuzz@example.com"
PHASES = os.environ.get("OMS_FUZZ_PHASES", "fuzzing").split(",")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
          "negative_data_rejection", "ignored_auth", "missing_required_header", "error_shape")


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("fuzz-stack"), OMS_LOCAL_CONCURRENCY="2")
    yield stack
    stack.stop()


def _ok(response: requests.Response, *statuses: int) -> dict:
    assert response.status_code in (statuses or (200,)), response.text
    return response.json()


def seed(stack: Stack) -> dict[str, list[str]]:
    """One of each thing the API names by id, for the fuzzer to find."""
    for location in ("WH1", "WH2"):
        _ok(stack.ops("PUT", f"/locations/{location}", {"name": location, "type": "warehouse", "priority": 1,
                                                         "address": dict(ADDRESS)}))
        _ok(stack.ops("PUT", f"/inventory/SKU-1/locations/{location}", {"on_hand": 50, "safety_stock": 0}))
    customer = {"email": EMAIL, "first_name": "Fuzz", "last_name": "Tester"}
    order = _ok(stack.webhook("orders", canonical_order(customer=customer), retry_unavailable=True), 202)
    order_id = order["order_id"]
    placed = stack.wait_for(order_id, lambda o: o["fulfillment_orders"])
    fulfillment_order_id = placed["fulfillment_orders"][0]["fulfillment_order_id"]
    _ok(stack.ops("POST", f"/fulfillment-orders/{fulfillment_order_id}/ship", {
        "carrier": "ups", "tracking_number": "1ZFUZZ000000000001", "lines": [{"sku": "SKU-1", "quantity": 1}]}), 201)
    _ok(stack.webhook("tracking", {"tracking_number": "1ZFUZZ000000000001", "status": "delivered",
                                   "occurred_at": "2026-11-27T10:00:00Z"}, retry_unavailable=True), 202)
    line_id = placed["lines"][0]["line_id"]
    stack.wait_for(order_id, lambda o: o["lines"][0]["delivered"] == 1)
    returned = _ok(stack.ops("POST", f"/orders/{order_id}/returns",
                             {"lines": [{"line_id": line_id, "quantity": 1, "reason": "damaged"}]}), 201)
    case = _ok(stack.ops("POST", "/cases", {"order_id": order_id, "type": "where_is_my_order", "subject": "Where?",
                                            "message": "Asking", "channel": "email"}), 201)
    purchase_order = _ok(stack.ops("POST", "/purchase-orders", {"supplier": "Acme", "location_id": "WH1",
                                                                "expected_at": "2026-12-24",
                                                                "lines": [{"sku": "SKU-1", "quantity": 5}]}), 201)
    transfer = _ok(stack.ops("POST", "/inventory/transfers", {"sku": "SKU-1", "from_location_id": "WH1",
                                                              "to_location_id": "WH2", "quantity": 1}), 201)
    snapshot = _ok(stack.ops("POST", "/inventory/snapshots", {"location_id": "WH2", "as_of": "2026-11-30T00:00:00Z",
                                                              "mode": "partial",
                                                              "items": [{"sku": "SKU-1", "on_hand": 49}]}), 202)
    pick_list = stack.ops("POST", "/locations/WH1/pick-lists", {})
    return {
        "path.order_id": [order_id], "path.fulfillment_order_id": [fulfillment_order_id],
        "path.order_ref": [order["order_number"], "100045"], "query.email": [EMAIL],
        "path.return_id": [returned["return_id"]], "path.case_id": [case["case_id"]],
        "path.case_number": [case["case_number"]], "path.purchase_order_id": [purchase_order["purchase_order_id"]],
        "path.transfer_id": [transfer["transfer_id"]], "path.snapshot_id": [snapshot["snapshot_id"]],
        "path.location_id": ["WH1", "WH2"], "query.location_id": ["WH1"], "path.sku": ["SKU-1"],
        "query.skus": ["SKU-1"], "query.sku": ["SKU-1"], "path.channel": ["web"], "query.channel": ["web"],
        "path.group_id": [placed["delivery_groups"][0]["group_id"]],
        "path.hold_type": ["invalid_address", "backorder", "awaiting_payment"], "path.queue": ["validation"],
        **({"path.pick_list_id": [pick_list.json()["pick_list_id"]]} if pick_list.status_code == 201 else {}),
    }


def config(values: dict[str, list[str]]) -> dict:
    customer_token = jwt.encode({"email": EMAIL, "exp": int(time.time()) + 3600},
                                SECRETS["OMS_CUSTOMER_TOKEN_SECRET"], algorithm="HS256")
    return {
        "hooks": str(HOOKS), "workers": 1,
        "headers": {"Authorization": f"Bearer {OPS_TOKEN}"},
        # Derandomised: every run sends the same requests.
        "generation": {"mode": "all", "max-examples": int(os.environ.get("OMS_FUZZ_EXAMPLES", "5")),
                       "deterministic": True, "database": "none"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False},
                   "fuzzing": {"enabled": "fuzzing" in PHASES},
                   # Only the methods the document declares: an undeclared one never reaches a Lambda in
                   # AWS (API Gateway answers 403 in the error shape), while Chalice's local server
                   # answers it in its own shapes (405 {"Code", "Message"}, or 501 in HTML for TRACE).
                   "coverage": {"enabled": "coverage" in PHASES, "unexpected-methods": []}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS},
                   # A body over 1 MiB is refused with 413 before anything reads it.
                   "negative_data_rejection": {"enabled": True,
                                               "expected-statuses": [400, 401, 403, 404, 409, 413, 415, 422]}},
        "dictionaries": {name.replace(".", "_"): {"values": found} for name, found in values.items()},
        "parameters": {name: {"dictionary": name.replace(".", "_"), "probability": 0.5} for name in values},
        "operations": [{"include-path-regex": "^/customers/me/",
                        "headers": {"Authorization": f"Bearer {customer_token}"}}],
    }


def toml(settings: dict) -> str:
    """The config as TOML (tomllib reads but does not write): JSON's strings, numbers and arrays are
    TOML's too, an object is an inline table, and a list of objects an array of tables (last)."""
    def value(v) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)  # true, false, numbers and strings as TOML writes them

    tables = {k: v for k, v in settings.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    lines = [f"{json.dumps(k)} = {value(v)}" for k, v in settings.items() if k not in tables]
    for key, items in tables.items():
        for item in items:
            lines += [f"[[{key}]]", *(f"{json.dumps(k)} = {value(v)}" for k, v in item.items())]
    return "\n".join(lines) + "\n"


def test_the_fuzzer_finds_no_server_error_and_every_answer_is_documented(fuzz_stack, tmp_path):
    settings = config(seed(fuzz_stack))
    (tmp_path / "schemathesis.toml").write_text(toml(settings))
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", f"{fuzz_stack.url}/openapi.json",
                          "--no-color", "--output-truncate", "true"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'layers'}",
                                           "HOME": str(tmp_path)})
    elapsed = time.monotonic() - started
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis failed after {elapsed:.0f} s:\n{report[-20000:]}"
    paths = requests.get(f"{fuzz_stack.url}/openapi.json", timeout=30).json()["paths"]
    count = sum(len(item) for item in paths.values()) - 1  # Schemathesis leaves out the document's own address
    assert f"Tested: {count}" in report, report[-3000:]
    print(f"schemathesis: {count} operations in {elapsed:.0f} s")
