"""A simulated card processor behind the PaymentProcessor port. It behaves like Stripe's
test mode: the token decides approval or decline, `tok_processingError` fails transiently,
answers take a little time, and the idempotency key returns the same answer again."""
from __future__ import annotations

import hashlib
import os
import random
import threading
import time

from oms.services.ports import AuthorizationResult, PaymentRejected, TransientPaymentError

APPROVING = {"tok_visa", "tok_mastercard", "tok_amex", "tok_discover"}
DECLINING = {"tok_chargeDeclined": "card_declined", "tok_chargeDeclinedInsufficientFunds": "insufficient_funds",
             "tok_chargeDeclinedExpiredCard": "expired_card"}


class ProcessorRejected(PaymentRejected):
    """The processor refused a request outright (e.g. capture above the authorisation)."""


class SimulatedCardProcessor:
    def __init__(self, latency_ms: float | None = None):
        self._latency = (float(os.environ.get("OMS_PAYMENT_SIMULATOR_LATENCY_MS", "15"))
                         if latency_ms is None else latency_ms) / 1000
        self._lock = threading.Lock()
        self._answers: dict[str, object] = {}
        self._authorised: dict[str, int] = {}
        self._captured: dict[str, int] = {}

    def _wait(self) -> None:
        if self._latency:
            time.sleep(self._latency * (0.5 + random.random()))

    @staticmethod
    def _id(prefix: str, key: str) -> str:
        return f"{prefix}_sim_{hashlib.sha256(key.encode()).hexdigest()[:20]}"

    def authorize(self, *, amount: int, currency: str, token: str, idempotency_key: str) -> AuthorizationResult:
        self._wait()
        with self._lock:
            if idempotency_key in self._answers:
                return self._answers[idempotency_key]
        if token == "tok_processingError":
            raise TransientPaymentError("processing_error")
        if token in DECLINING:
            result = AuthorizationResult(False, None, DECLINING[token])
        elif token in APPROVING:
            result = AuthorizationResult(True, self._id("auth", idempotency_key))
            with self._lock:
                self._authorised[result.authorization_id] = amount
        else:
            result = AuthorizationResult(False, None, "invalid_token")
        with self._lock:
            self._answers[idempotency_key] = result
        return result

    def capture(self, *, authorization_id: str, amount: int, currency: str, idempotency_key: str) -> str:
        self._wait()
        with self._lock:
            if idempotency_key in self._answers:
                return self._answers[idempotency_key]
            # Another process may have authorised (Lambda instances do not share memory);
            # the authorisation id itself is then the only proof we get, as with a real processor.
            limit = self._authorised.get(authorization_id)
            already = self._captured.get(authorization_id, 0)
            if amount <= 0 or (limit is not None and already + amount > limit):
                raise ProcessorRejected("amount_too_large")
            self._captured[authorization_id] = already + amount
            capture_id = self._id("cap", idempotency_key)
            self._answers[idempotency_key] = capture_id
            return capture_id

    def void(self, *, authorization_id: str, idempotency_key: str) -> None:
        """Give back what was not captured (Stripe: cancel the PaymentIntent)."""
        self._wait()
        with self._lock:
            if idempotency_key in self._answers:
                return
            if not authorization_id:
                raise ProcessorRejected("no_such_authorization")
            self._authorised[authorization_id] = self._captured.get(authorization_id, 0)
            self._answers[idempotency_key] = None
