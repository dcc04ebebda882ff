"""The local Stripe: localstripe (pinned in requirements-dev.txt), run as its own process by
`make run` and the tests, with its state in a file of the caller's choosing (localstripe
always writes /tmp/localstripe.pickle, which two stacks on one machine would share).

`python -m infra.local_stripe --port 8420 --state <dir>/localstripe.pickle`

localstripe implements the Stripe API the OMS uses (customers, manual-capture PaymentIntents,
capture, cancel, refunds) but knows only three of Stripe's documented test payment methods
and declines every failing card with the same code. So that Stripe's documented test inputs
keep their meaning locally, this adds, without changing how localstripe behaves otherwise:
- Stripe's test cards by payment method (`pm_card_chargeDeclined`, ...) and by token
  (`tok_visa`, ... given as `payment_method_data[card][token]`, as Stripe accepts them), with
  each test card's decline code (`insufficient_funds`, `expired_card`, `processing_error`);
- `setup_future_usage` on a PaymentIntent (accepted; localstripe lets any payment method be
  reused off-session anyway), and `cancellation_reason` when one is cancelled.
Everything else localstripe is lenient about (refunds above the captured amount, idempotency
keys ignored, no disputes) stays lenient: the OMS must not rely on it, and its tests prove it."""
from __future__ import annotations

import argparse
import pickle

# Stripe's documented test cards: (card number, failure code, decline code). A failure code
# of None approves. https://docs.stripe.com/testing
TEST_CARDS = {
    "visa": ("4242424242424242", None, None),
    "mastercard": ("5555555555554444", None, None),
    "discover": ("6011111111111117", None, None),
    "chargeDeclined": ("4000000000000002", "card_declined", "generic_decline"),
    "chargeDeclinedInsufficientFunds": ("4000000000009995", "card_declined", "insufficient_funds"),
    "chargeDeclinedExpiredCard": ("4000000000000069", "expired_card", "expired_card"),
    "chargeDeclinedProcessingError": ("4000000000000119", "processing_error", "processing_error"),
}
TOKENS = {f"tok_{name}": name for name in TEST_CARDS} | {"tok_processingError": "chargeDeclinedProcessingError"}
PAYMENT_METHODS = {f"pm_card_{name}": name for name in TEST_CARDS}
FAILURES = {number: (code, decline) for number, code, decline in TEST_CARDS.values() if code}


def install(state_path: str) -> None:
    """Patch localstripe's module objects in this process before its server starts."""
    from localstripe import resources
    from localstripe.errors import UserError

    def load(store) -> None:
        try:
            with open(state_path, "rb") as f:
                store.clear()
                store.update(pickle.load(f))
        except FileNotFoundError:
            pass  # a new stack: the local Stripe starts empty

    def dump(store) -> None:
        with open(state_path, "wb") as f:
            pickle.dump(store, f, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump

    payment_method = resources.PaymentMethod

    def test_card(name: str):
        number = TEST_CARDS[name][0]
        return payment_method(type="card", card={"number": number, "exp_month": "12", "exp_year": "2034",
                                                 "cvc": "123"})

    canonical = payment_method._try_get_canonical_test_article.__func__

    def test_article(cls, id):
        if id in PAYMENT_METHODS and id not in ("pm_card_visa",):
            return test_card(PAYMENT_METHODS[id])
        return canonical(cls, id)
    payment_method._try_get_canonical_test_article = classmethod(test_article)

    declined = payment_method._charging_is_declined
    payment_method._charging_is_declined = lambda self: (
        declined(self) or (self.type == "card" and self._card_number in FAILURES))

    charge = resources.Charge
    set_failure = charge._set_auth_failure

    def failure_for_card(self) -> None:
        set_failure(self)
        number = getattr(resources.PaymentMethod._api_retrieve(self.payment_method), "_card_number", None)
        if number in FAILURES:
            self.failure_code, self._decline_code = FAILURES[number]
    charge._set_auth_failure = failure_for_card

    def raise_failure(self) -> None:
        raise UserError(402, self.failure_message, {"code": self.failure_code, "charge": self.id,
                                                    "decline_code": getattr(self, "_decline_code", None)
                                                    or self.failure_code})
    charge._raise_failure = raise_failure

    intent = resources.PaymentIntent
    create = intent._api_create.__func__

    def create_intent(cls, payment_method_data=None, setup_future_usage=None, **data):
        if setup_future_usage not in (None, "off_session", "on_session"):
            raise UserError(400, "Invalid setup_future_usage")
        if payment_method_data is not None:
            token = (payment_method_data.get("card") or {}).get("token") if isinstance(
                payment_method_data, dict) else None
            if token not in TOKENS or data.get("payment_method"):
                raise UserError(400, f"No such token: '{token}'", {"code": "resource_missing"})
            data["payment_method"] = test_card(TOKENS[token]).id
        obj = create(cls, **data)
        obj.setup_future_usage = setup_future_usage
        return obj
    intent._api_create = classmethod(create_intent)

    cancel = intent._api_cancel

    def cancel_intent(id, cancellation_reason=None, **kwargs):
        obj = cancel(id, **kwargs)
        obj.cancellation_reason = cancellation_reason
        return obj
    # localstripe's extra routes hold the function itself (its server builds them at import).
    resources.extra_apis[:] = [(method, url, cancel_intent if func == cancel else func)
                               for method, url, func in resources.extra_apis]


class LocalStripe:
    """A localstripe process on `port` with its state under `state_dir`, stopped with its parent."""

    def __init__(self, port: int, state_dir: str, log=None):
        import subprocess
        import sys
        from pathlib import Path

        self.port, self.url = port, f"http://127.0.0.1:{port}"
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local_stripe", "--port", str(port),
             "--state", str(Path(state_dir) / "localstripe.pickle")],
            cwd=root, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            # Its own session: a Ctrl-C at the terminal reaches the stack, which stops it in order.
            start_new_session=True)
        self._wait_until_listening()

    def _wait_until_listening(self, seconds: float = 30) -> None:
        import socket
        import time

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local Stripe exited with {self.process.returncode}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the local Stripe did not listen on {self.port}")

    def register_webhook(self, url: str, secret: str) -> None:
        """Point localstripe's deliveries of the events the OMS handles at its Stripe webhook
        (as one subscribes an endpoint to chosen events in Stripe's dashboard)."""
        import requests

        from oms.adapters.stripe_events import HANDLED

        response = requests.post(f"{self.url}/_config/webhooks/oms", timeout=5,
                                 json={"url": url, "secret": secret, "events": list(HANDLED)})
        response.raise_for_status()

    def stop(self) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the stack's process dies, even by SIGKILL."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the stack's own shutdown still stops it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state", required=True, help="localstripe's state file")
    args = parser.parse_args()
    install(args.state)
    import logging
    import socket

    from aiohttp import web
    from localstripe import server

    server.store.try_load_from_disk()
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    web.run_app(server.app, sock=sock, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
