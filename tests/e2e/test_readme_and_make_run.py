"""The README's commands as a new user runs them: `make run` with the settings the README
gives, the "Try it" block exactly as written (only the API address differs: a free port), and
`make run` stopping promptly and cleanly on SIGTERM (twice, as make forwards it) and SIGINT."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time

import pytest
import requests

from .conftest import ROOT, Stack, _free_port


def _try_it_blocks() -> tuple[str, str]:
    section = (ROOT / "README.md").read_text().split("### Try it", 1)[1].split("\n## ", 1)[0]
    start, commands = re.findall(r"```bash\n(.*?)```", section, re.S)
    return start, commands


def _settings(start_block: str) -> dict[str, str]:
    """The VAR=value settings the README puts before `make run`."""
    words = shlex.split(start_block.replace("\\\n", " "))
    assert "make" in words and words[words.index("make") + 1] == "run", start_block
    return dict(word.split("=", 1) for word in words[:words.index("make")])


def test_the_readme_try_it_block_runs_as_written(tmp_path):
    start, commands = _try_it_blocks()
    stack = Stack(tmp_path, **_settings(start))
    try:
        script = re.sub(r"^API=\S+", f"API={stack.url}", commands, count=1, flags=re.M)
        assert script != commands, "the block no longer starts with API=..."
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    finally:
        stack.stop()
    assert run.returncode == 0, run.stderr + run.stdout
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert not [a for a in answers if "error" in a or "Code" in a], run.stdout
    location, stock, received, order, shipped, refund, shopify = answers
    assert location["location_id"] == "WH1" and stock["totals"]["on_hand"] == 10
    assert received["status"] == "received" and order["order_id"] == received["order_id"]
    assert order["lines"][0]["sku"] == "SKU-1" and order["payments"]["processor"] == "stripe"
    assert shipped["shipment"]["tracking_number"] == "1ZTRYIT0000000001"
    assert (refund["amount"], refund["status"]) == ("5.00", "succeeded")
    assert shopify["status"] == "cancelled"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(("signals", "while_starting"), [
    ((signal.SIGTERM, signal.SIGTERM), False), ((signal.SIGINT,), False), ((signal.SIGTERM, signal.SIGTERM), True)],
    ids=["SIGTERM twice", "SIGINT", "SIGTERM twice while starting"])
def test_make_run_stops_promptly_and_cleanly(tmp_path, signals, while_starting):
    api_port, aws_port, stripe_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMS_"))}
    env.update({"OMS_PORT": str(api_port), "OMS_AWS_PORT": str(aws_port), "OMS_STRIPE_PORT": str(stripe_port),
                "PYTHONUNBUFFERED": "1"})
    log = tmp_path / "make-run.log"
    # A session of its own, as a terminal gives: the signal goes to make and the stack alike.
    make = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not while_starting:
            assert make.poll() is None, log.read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{api_port}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        if while_starting:
            time.sleep(1.5)  # the stack is importing, creating its queues or starting the local Stripe
        for sig in signals:
            os.killpg(make.pid, sig)
        make.wait(timeout=20)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            pytest.fail(f"make run did not stop:\n{log.read_text()[-3000:]}")
    output = log.read_text()
    assert "Traceback" not in output, output[-3000:]
    assert "stopping" in output or while_starting
    assert all(_port_free(port) for port in (api_port, aws_port, stripe_port)), "a server outlived make run"
