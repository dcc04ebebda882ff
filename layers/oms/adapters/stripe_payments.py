"""Stripe behind the PaymentProcessor port, with the official SDK. Manual-capture
PaymentIntents: authorise = create and confirm with capture_method=manual, capture = capture
with amount_to_capture (several times where the card allows multicapture), void = cancel,
refund = Refund.create. Every call carries the idempotency key the OMS decided for it.

Stripe answers a repeated key with its first answer for 24 hours. Where a repeat could still
reach Stripe later, or a processor that ignores keys (localstripe), the adapter reads before it
writes: a capture the intent already shows, a cancel of a cancelled intent and a refund already
made under the same key are recognised as done, not made twice."""
from __future__ import annotations

import os
from functools import cache

from oms.services.ports import (
    AuthorizationResult,
    PaymentRejected,
    PaymentSource,
    RefundResult,
    TransientPaymentError,
)

TIMEOUT_SECONDS = 10.0
OWN_CANCELLATION = "abandoned"  # the reason the OMS gives when it cancels an authorisation itself


def _api_key() -> str:
    from oms.adapters.secrets import payment_processor_key

    return payment_processor_key("stripe")


@cache
def _client(api_key: str, api_base: str | None):
    import stripe

    return stripe.StripeClient(api_key, base_addresses={"api": api_base} if api_base else None,
                               http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS), max_network_retries=0)


def _get(obj, name: str, default=None):
    """A field of a Stripe object or of a plain dict (an id where Stripe did not expand)."""
    if obj is None:
        return default
    try:
        return obj[name]
    except (KeyError, TypeError):
        return getattr(obj, name, default)


def _id(obj) -> str | None:
    return obj if isinstance(obj, str) or obj is None else _get(obj, "id")


class StripeProcessor:
    name = "stripe"

    def __init__(self, api_base: str | None = None, api_key=_api_key):
        self._api_base = api_base if api_base is not None else os.environ.get("OMS_STRIPE_API_BASE") or None
        self._api_key = api_key

    @property
    def _v1(self):
        return _client(self._api_key(), self._api_base).v1

    def _call(self, request):
        """Run one Stripe request, translating its errors into the port's."""
        import stripe

        try:
            return request()
        except stripe.CardError:
            raise
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.AuthenticationError,
                stripe.PermissionError) as error:  # nothing was done, or cannot be known: same key again
            raise TransientPaymentError(f"stripe: {type(error).__name__}: {error.user_message or error}") from None
        except stripe.StripeError as error:
            if (error.http_status or 500) >= 500 or error.http_status == 409:
                raise TransientPaymentError(f"stripe {error.http_status}: {error.user_message or error}") from None
            raise PaymentRejected(error.code or error.user_message or str(error)) from None

    # ---- authorising ----------------------------------------------------------------------------
    def authorize(self, *, amount: int, currency: str, source: PaymentSource, idempotency_key: str,
                  order_id: str) -> AuthorizationResult:
        import stripe

        params: dict = {"amount": amount, "currency": currency.lower(), "capture_method": "manual",
                        "confirm": True, "metadata": {"oms_order_id": order_id, "oms_key": idempotency_key},
                        "payment_method_options": {"card": {"request_multicapture": "if_available"}},
                        "expand": ["latest_charge"]}
        if source.off_session:
            params.update(payment_method=source.payment_method, customer=source.customer, off_session=True)
        else:
            # A customer to save the card with, so the rest of a split order can be authorised
            # again off-session if the card cannot be captured more than once.
            customer = self._call(lambda: self._v1.customers.create(
                params={"metadata": {"oms_order_id": order_id}},
                options={"idempotency_key": f"{order_id}:customer"}))
            params.update(customer=customer.id, setup_future_usage="off_session")
            if source.token:
                params["payment_method_data"] = {"type": "card", "card": {"token": source.token}}
            else:
                params["payment_method"] = source.payment_method
        try:
            intent = self._call(lambda: self._v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}))
        except stripe.CardError as error:
            if error.code == "processing_error":  # Stripe's answer is final for this key
                raise TransientPaymentError("processing_error", answered=True) from None
            intent_id = _id(_get(error.error, "payment_intent")) if error.error else None
            return AuthorizationResult(False, intent_id, decline_code=_decline_code(error))
        return self._authorization(intent, amount)

    def _authorization(self, intent, amount: int) -> AuthorizationResult:
        status = _get(intent, "status")
        if status != "requires_capture":
            failure = _get(intent, "last_payment_error") or {}
            code = _get(failure, "decline_code") or _get(failure, "code") or status
            return AuthorizationResult(False, _id(intent), decline_code=code)
        charge = _get(intent, "latest_charge")
        card = _get(_get(charge, "payment_method_details"), "card")
        multicapture = _get(_get(card, "multicapture"), "status") == "available"
        reusable = _get(intent, "setup_future_usage") == "off_session" and _get(intent, "customer")
        return AuthorizationResult(
            True, _id(intent), amount=_get(intent, "amount_capturable") or _get(intent, "amount") or amount,
            charge_id=_id(charge), multicapture=multicapture,
            saved_payment_method=_id(_get(intent, "payment_method")) if reusable else None,
            customer=_id(_get(intent, "customer")) if reusable else None)

    def verify_authorization(self, *, authorization_id: str, amount: int, currency: str) -> AuthorizationResult:
        """A PaymentIntent the storefront confirmed: usable if it awaits capture, in the
        order's currency, for at least what is due."""
        try:
            intent = self._call(lambda: self._v1.payment_intents.retrieve(
                authorization_id, params={"expand": ["latest_charge"]}))
        except PaymentRejected as refusal:
            return AuthorizationResult(False, authorization_id, mismatch=f"{authorization_id}: {refusal}")
        status, held = _get(intent, "status"), _get(intent, "amount_capturable") or _get(intent, "amount") or 0
        problem = None
        if status != "requires_capture":
            problem = f"{authorization_id} is {status}, not authorised for capture"
        elif (_get(intent, "currency") or "").upper() != currency.upper():
            problem = f"{authorization_id} is in {(_get(intent, 'currency') or '?').upper()}, the order in {currency}"
        elif held < amount:
            problem = f"{authorization_id} holds {held}, the order needs {amount} (minor units)"
        if problem:
            return AuthorizationResult(False, authorization_id, mismatch=problem)
        return self._authorization(intent, amount)

    # ---- capturing, voiding, refunding -------------------------------------------------------------
    def capture(self, *, authorization_id: str, amount: int, currency: str, final: bool, idempotency_key: str,
                captured_before: int = 0, check_first: bool = False) -> str:
        """Capture `amount` more than the `captured_before` the OMS had booked on this intent.
        If the intent already holds that much captured, this capture happened (its answer was
        lost): done, not twice. Checked first when asked (a key Stripe may have forgotten), and
        whenever Stripe refuses."""
        def already_done():
            intent = self._call(lambda: self._v1.payment_intents.retrieve(authorization_id))
            return intent if _captured(intent) >= captured_before + amount else None

        intent = already_done() if check_first else None
        if intent is None:
            params: dict = {"amount_to_capture": amount}
            if not final:
                params["final_capture"] = False
            try:
                intent = self._call(lambda: self._v1.payment_intents.capture(
                    authorization_id, params=params, options={"idempotency_key": idempotency_key}))
            except PaymentRejected:
                intent = already_done()
                if intent is None:
                    raise
        return _id(_get(intent, "latest_charge")) or authorization_id

    def void(self, *, authorization_id: str, idempotency_key: str) -> None:
        try:  # "abandoned" tells the payment_intent.canceled webhook this was the OMS's own doing
            self._call(lambda: self._v1.payment_intents.cancel(
                authorization_id, params={"cancellation_reason": OWN_CANCELLATION},
                options={"idempotency_key": idempotency_key}))
        except PaymentRejected:
            if _get(self._v1.payment_intents.retrieve(authorization_id), "status") not in ("canceled", "succeeded"):
                raise
            # Cancelled already (by us, or expired), or captured for the last time: nothing is held.

    def refund(self, *, authorization_id: str, amount: int, currency: str, idempotency_key: str,
               metadata: dict) -> RefundResult:
        earlier = self._call(lambda: self._v1.refunds.list(params={"payment_intent": authorization_id,
                                                                   "limit": 100}))
        for refund in _get(earlier, "data") or []:
            if _get(_get(refund, "metadata"), "oms_key") == idempotency_key:
                return RefundResult(_id(refund), refund_status(_get(refund, "status")))
        refund = self._call(lambda: self._v1.refunds.create(
            params={"payment_intent": authorization_id, "amount": amount,
                    "metadata": {**metadata, "oms_key": idempotency_key}},
            options={"idempotency_key": idempotency_key}))
        return RefundResult(_id(refund), refund_status(_get(refund, "status")))

    def submit_dispute_evidence(self, *, dispute_id: str, evidence: dict, submit: bool, idempotency_key: str) -> None:
        self._call(lambda: self._v1.disputes.update(dispute_id, params={"evidence": evidence, "submit": submit},
                                                    options={"idempotency_key": idempotency_key}))


def refund_status(stripe_status: str | None) -> str:
    """Stripe's refund status in the port's words: pending, succeeded or failed."""
    return {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}.get(stripe_status or "", "pending")


def _decline_code(error) -> str:
    return error.error.decline_code if error.error and error.error.decline_code else (error.code or "card_declined")


def _captured(intent) -> int:
    """What an intent's charge captured (localstripe, which lacks amount_captured, books the
    uncaptured rest of a partial capture as refunded)."""
    charge = _get(intent, "latest_charge")
    if charge is None or isinstance(charge, str):
        return _get(intent, "amount_received") or 0
    if _get(charge, "amount_captured") is not None:
        return _get(charge, "amount_captured")
    return (_get(charge, "amount") or 0) - (_get(charge, "amount_refunded") or 0)
