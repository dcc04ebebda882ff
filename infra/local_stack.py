"""`make run`: the whole OMS on this machine. An embedded moto server stands in for AWS, the
resources come from template.yaml, the event-source runner delivers queues, the stream and
schedules to app.py's handlers, and Chalice's local server serves the HTTP API."""
from __future__ import annotations

import faulthandler
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRETS = ("OMS_WEBHOOK_SECRET_ORDERS_GENERIC", "OMS_WEBHOOK_SECRET_TRACKING_GENERIC",
                   "OMS_WEBHOOK_SECRET_ORDERS_SHOPIFY", "OMS_WEBHOOK_SECRET_ORDERS_SFCC",
                   "OMS_WEBHOOK_SECRET_TRACKING_EASYPOST", "OMS_WEBHOOK_SECRET_TRACKING_AFTERSHIP",
                   "OMS_WEBHOOK_SECRET_PAYMENTS_STRIPE")


def configure_environment(stage: str = "local") -> dict:
    """Local-mode settings, decided before any AWS client or model is imported."""
    aws_port = int(os.environ.get("OMS_AWS_PORT", "5000"))
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # botocore 1.44 + DynamoDB Streams on moto
        "OMS_STAGE": stage, "OMS_TABLE": f"oms-{stage}", "OMS_EVENT_BUS": f"oms-{stage}", "OMS_SECRETS": "env",
        "OMS_IMPORTS_BUCKET": f"oms-{stage}-imports-123456789012",  # the template's name, in moto's account
        # Analytics: the template's bucket and queues in moto (its queue URLs), queried with DuckDB
        # in-process (Athena in AWS). No batching window: the runner delivers what is there.
        "OMS_ANALYTICS_BUCKET": f"oms-{stage}-analytics-123456789012",
        "OMS_ANALYTICS_QUEUE_URL": f"http://127.0.0.1:{aws_port}/123456789012/oms-{stage}-analytics",
        "OMS_ANALYTICS_JOBS_QUEUE_URL": f"http://127.0.0.1:{aws_port}/123456789012/oms-{stage}-analytics-jobs",
        "OMS_ANALYTICS_ENGINE": "duckdb",
        "OMS_DLQ_REDRIVE": "copy",  # dead letters go back by receive, send, delete: moto has no message move task
        "POWERTOOLS_METRICS_NAMESPACE": "OMS",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        # Locally a channel that is down is retried after 1, 2, 4... seconds, not 30, 60, 120...
        "OMS_CHANNEL_RETRY_BASE_SECONDS": os.environ.get("OMS_CHANNEL_RETRY_BASE_SECONDS", "1"),
        # The local Stripe (localstripe), which accepts any secret key that starts with sk_.
        "OMS_PAYMENTS": os.environ.get("OMS_PAYMENTS", "stripe"),
        "OMS_STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port()}",
        "OMS_STRIPE_API_KEY": os.environ.get("OMS_STRIPE_API_KEY", "sk_test_oms_local"),
        # The local carrier service (EasyPost's API): rates, labels, voids, tracker webhooks.
        "OMS_EASYPOST_API_BASE": f"http://127.0.0.1:{carrier_port()}/v2",
        "OMS_EASYPOST_API_KEY": os.environ.get("OMS_EASYPOST_API_KEY", "EZTK_oms_local"),
        # Customer e-mails go to the local SES (moto): read them at /moto-api/data.json.
        "OMS_MAIL_FROM": os.environ.get("OMS_MAIL_FROM", "orders@example.com"),
        "OMS_SLA_SWEEP_SECONDS": os.environ.get("OMS_SLA_SWEEP_SECONDS", "60"),
    }
    env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
    os.environ.update(env)
    os.environ.setdefault("OMS_OPS_TOKEN", secrets.token_urlsafe(24))
    os.environ.setdefault("OMS_CUSTOMER_TOKEN_SECRET", secrets.token_urlsafe(32))
    os.environ.setdefault("OMS_ANALYTICS_CUSTOMER_KEY", secrets.token_urlsafe(32))
    for name in WEBHOOK_SECRETS:
        os.environ.setdefault(name, secrets.token_urlsafe(24))
    for path in (str(ROOT / "layers"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    return env


def stripe_port() -> int:
    return int(os.environ.get("OMS_STRIPE_PORT", "8420"))


def carrier_port() -> int:
    return int(os.environ.get("OMS_CARRIER_PORT", "8430"))


def parse_faults(spec: str) -> dict[str, float]:
    """OMS_LOCAL_FAULTS="DynamoDB_20120810.TransactWriteItems=0.2,AmazonSQS.DeleteMessageBatch=0.1":
    the share of those AWS calls the local server fails with a 500, to rehearse failures; a
    service's prefix alone (`DynamoDB_20120810=0.1,AWSEvents=0.1,AmazonSQS=0.1`) fails that share
    of all its calls. Half of the faults come after the call took effect (a lost response), half
    before it. They start once the stack's resources are provisioned."""
    faults = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        target, _, rate = part.partition("=")
        faults[target] = float(rate)
    return faults


def start_moto(port: int, faults: dict[str, float] | None = None):
    """moto's WSGI app behind a lock: DynamoDB serialises conflicting writes, and moto's
    in-memory backends are not thread-safe, so the local server answers one call at a time."""
    import json
    import random

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from .moto_speedup import install as speed_up_moto

    speed_up_moto()  # moto 5.2's TransactWriteItems and Query cost O(table size)

    backend = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    faults = {} if faults is None else faults  # the caller's dict: it may set faults later
    injected: Counter = Counter()

    def app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        rate = faults.get(target, faults.get(target.partition(".")[0], 0.0)) if target else 0.0
        if random.random() >= rate:
            with lock:
                return list(backend(environ, start_response))
        injected[target] += 1
        if random.random() < 0.5:
            with lock:
                list(backend(environ, lambda *args: None))
        start_response("500 Internal Server Error", [("Content-Type", "application/x-amz-json-1.0")])
        return [json.dumps({"__type": "InternalServerError", "message": f"injected fault: {target}"}).encode()]

    server = serving(make_server("127.0.0.1", port, app, threaded=True), "moto")
    server.injected_faults = injected
    return server


def serving(server, name: str):
    """The server once its loop runs: shutting down a server whose loop never started would wait
    for ever, so a signal while starting must find nothing half-started to shut down."""
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


class LocalStack:
    def __init__(self, api_port: int, aws_port: int, simulate: bool, concurrency: int = 2):
        self.api_port, self.aws_port, self.simulate, self.concurrency = api_port, aws_port, simulate, concurrency
        self.stop = threading.Event()
        self.loops: list = []

    def start(self) -> None:
        env = configure_environment()
        from .local_stripe import LocalStripe

        # The stack's own state folder: two stacks on one machine never share the local Stripe's file.
        self.state_dir = tempfile.mkdtemp(prefix="oms-stack-")
        self.stripe = LocalStripe(stripe_port(), self.state_dir)
        from .local_carrier import LocalCarrier

        self.carrier = LocalCarrier(carrier_port(), simulate=self.simulate,
                                    step_seconds=float(os.environ.get("OMS_SIMULATE_STEP_SECONDS", "2")))
        self.carrier.start()
        self.faults: dict[str, float] = {}
        self.moto = start_moto(self.aws_port, self.faults)
        from .provision import provision

        visibility = int(os.environ.get("OMS_LOCAL_VISIBILITY_TIMEOUT", "2"))
        self.template, self.resolver = provision("local", env["AWS_REGION"], visibility_timeout=visibility)
        self.faults.update(parse_faults(os.environ.get("OMS_LOCAL_FAULTS", "")))

        from chalice.config import Config
        from chalice.local import create_local_server

        import app as app_module

        from .local_api import emulate_api_gateway
        from .runner import build_pollers

        emulate_api_gateway()
        self.loops = build_pollers(app_module, self.template, self.resolver, env["AWS_REGION"], self.stop,
                                   self.concurrency)
        if self.simulate:  # an external actor using the public API, like a real warehouse
            from .simulator import Simulator

            self.loops += Simulator.create(self)
        for loop in self.loops:
            loop.start()
        # Before the API answers /health: a healthy stack is a whole one.
        self.stripe.register_webhook(f"http://127.0.0.1:{self.api_port}/webhooks/payments/stripe",
                                     os.environ["OMS_WEBHOOK_SECRET_PAYMENTS_STRIPE"])
        self.carrier.register_webhook(f"http://127.0.0.1:{self.api_port}/webhooks/tracking/easypost",
                                      os.environ["OMS_WEBHOOK_SECRET_TRACKING_EASYPOST"])
        self.http = serving(create_local_server(app_module.app, Config.create(chalice_stage="local", app_name="oms"),
                                                "127.0.0.1", self.api_port), "api")

    def describe(self) -> str:
        names = [f"  {kind:<16} {value}" for kind, value in (
            ("table", self.resolver.ref("OmsTable")), ("event bus", self.resolver.ref("EventBus")),
            *[(f"queue {k}", self.resolver.get_att(k, "QueueName")) for k, v in self.template["Resources"].items()
              if v["Type"] == "AWS::SQS::Queue"])]
        return "\n".join([
            f"OMS API        http://127.0.0.1:{self.api_port}   (GET /health)",
            f"AWS (moto)     http://127.0.0.1:{self.aws_port}",
            f"ops token      {os.environ['OMS_OPS_TOKEN']}   (Authorization: Bearer <token>)",
            f"customer key   {os.environ['OMS_CUSTOMER_TOKEN_SECRET']}   (HS256 key of customers' tokens; "
            f"RS256: OMS_CUSTOMER_JWKS_URL {os.environ.get('OMS_CUSTOMER_JWKS_URL') or 'not set'})",
            *[f"{name:<14} {os.environ[name]}" .replace("OMS_WEBHOOK_SECRET_", "secret ")
              for name in WEBHOOK_SECRETS],
            *[f"{channel + ' API':<14} {os.environ.get(f'OMS_CHANNEL_BASE_URL_{channel.upper()}') or unset}"
              for channel, unset in (("shopify", "https://<shop domain> (set OMS_CHANNEL_BASE_URL_SHOPIFY)"),
                                     ("sfcc", "not set (OMS_CHANNEL_BASE_URL_SFCC)"))],
            f"imports        s3://{os.environ['OMS_IMPORTS_BUCKET']}/snapshots/...   (warehouse counts: CSV "
            "sku,on_hand with location_id, as_of and mode in the key or metadata)",
            f"analytics      s3://{os.environ['OMS_ANALYTICS_BUCKET']}/facts/<table>/dt=YYYY-MM-DD/   (Parquet, "
            "read by DuckDB in-process; the dashboard: /dashboard)",
            f"mails sent     http://127.0.0.1:{self.aws_port}/moto-api/data.json   (under ses > Message; "
            f"from {os.environ['OMS_MAIL_FROM']}, OMS_NOTIFICATIONS={os.environ.get('OMS_NOTIFICATIONS', '1')})",
            f"Stripe         {self.stripe.url}   (local Stripe, localstripe; its events go to "
            "/webhooks/payments/stripe)",
            f"carrier        {self.carrier.url}/v2   (local carrier service, EasyPost's API; its tracker events go "
            "to /webhooks/tracking/easypost)",
            "simulator      " + ("on: the warehouse picks, packs, buys labels and ships; the carrier tracks"
                                    if self.simulate else "off"),
            "resources:", *names, "Ctrl-C stops everything."])

    def end_faults(self) -> None:
        """No more injected faults; one line on stdout: {"injected_faults": {target: count}}."""
        self.faults.clear()
        print(json.dumps({"injected_faults": dict(self.moto.injected_faults)}), flush=True)

    def shutdown(self) -> None:
        """Stop whatever has started (a signal may arrive while the stack is starting)."""
        self.stop.set()
        for server in (getattr(self, "http", None), getattr(self, "moto", None)):
            if server is not None:
                server.shutdown()
        if getattr(self, "stripe", None) is not None:
            self.stripe.stop()
        if getattr(self, "carrier", None) is not None:
            self.carrier.stop()
        if getattr(self, "state_dir", None):
            shutil.rmtree(self.state_dir, ignore_errors=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stack = LocalStack(api_port=int(os.environ.get("OMS_PORT", "8000")),
                       aws_port=int(os.environ.get("OMS_AWS_PORT", "5000")),
                       simulate=os.environ.get("OMS_SIMULATE") == "1",
                       concurrency=int(os.environ.get("OMS_LOCAL_CONCURRENCY", "2")))
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stack.start()
        # `kill -USR2 <pid>` ends OMS_LOCAL_FAULTS' rehearsal and says how many faults it injected.
        signal.signal(signal.SIGUSR2, lambda signum, frame: stack.end_faults())
        print("\n" + stack.describe(), flush=True)
        while True:
            signal.pause()
    except Stopped:
        print("stopping", flush=True)
    finally:
        stack.shutdown()


class Stopped(BaseException):
    """SIGTERM or SIGINT (Ctrl-C) arrived. A BaseException, as KeyboardInterrupt is: it may be
    raised inside any code the main thread runs (a library's `except Exception` must not eat it)."""


def _stop(signum, frame):
    # A signal handler runs between two bytecodes of the main thread, possibly inside a lock it
    # holds (Event.set() deadlocked on a second SIGTERM, which make forwards to its child): so
    # take no lock here. Ignore further signals and unwind the main thread with an exception.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


if __name__ == "__main__":
    main()
