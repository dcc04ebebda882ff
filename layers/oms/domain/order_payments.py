"""The order's payment steps: record the channel's payment, or authorise the card, capture
what each shipment is worth, give back what will never be captured. Part of Order (mixed in,
see order.py); the money itself is kept by the ledger (payment.py).

Every request to a processor is decided (amount and idempotency key) and committed before
the processor is called, and recorded after: a retry, a crash between the two, or a second
step at the same moment repeats the very same request, so the customer is charged once."""
from __future__ import annotations

from .events import DomainEvent
from .fulfillment import _moment
from .holds import Hold, OrderRuleViolation
from .payment import LedgerViolation

# A processor that cannot capture an authorisation more than once releases the rest at the
# first capture; what is still to ship is then authorised again (off-session, on the saved
# payment method). A refusal of that holds the order like a refused capture.
REAUTHORIZATION_DECLINED = "capture_failed"


class OrderPayments:
    """Mixed into Order: uses its lines, holds, totals and payment ledger."""

    def authorization_key(self) -> str:
        """Idempotency key of the next authorisation: a new one after an answer (approved,
        declined, refused); the same one after a request that got no answer, since the
        processor may have acted on it: asking again must not authorise twice."""
        answered = sum(1 for t in self.payment.transactions
                       if t["type"] == "authorization" and t.get("failure") != "no_answer")
        return f"{self.order_id}:authorize:{answered + 1}"

    def needs_payment(self) -> bool:
        return (self.fully_allocated and self.validated and self.payment.status == "pending"
                and not self.hold_types() and bool(self.open_lines()))

    def is_reauthorization(self) -> bool:
        """An earlier authorisation was captured from or given up: this one is for the rest."""
        return bool(self.payment.authorizations())

    # ---- the channel's payment ---------------------------------------------------------------------
    def record_prepaid(self, now: str) -> list[DomainEvent]:
        """The channel took the payment (or holds the authorisation and captures it itself):
        record it. A channel order not paid yet waits on an awaiting_payment hold."""
        if not self.needs_payment() or self.payment.method not in ("prepaid", "channel"):
            return []
        at_channel = self.payment.channel_status
        if at_channel == "pending":
            return self._place_holds([Hold("awaiting_payment", self._awaiting_payment_detail(), since=now)])
        held = at_channel == "authorized"
        reference = self.payment.reference or self.external_id
        self.payment.processor = "channel"
        self.payment.status = "channel_authorized" if held else "paid"
        self.payment.authorization_id = reference
        self.payment.record("authorization", self.total, transaction_id=f"{self.order_id}:channel:authorization",
                            status="succeeded", occurred_at=now, processor_reference=reference,
                            authorization_id=reference)
        if not held:
            self._record_channel_capture(now)
        return [DomainEvent("PaymentRecorded", {"amount": self.total, "currency": self.currency,
                                                "reference": reference, "kind": "authorized" if held else "paid"})]

    def _awaiting_payment_detail(self) -> str:
        if not self.exchange_for_return_id:
            return "the channel has not taken the payment yet"
        from .money import to_decimal_string

        return (f"the replacement costs {to_decimal_string(self.total, self.currency)} {self.currency} more than "
                f"the returned units and the original payment cannot be charged again: collect it, then release "
                f"this hold")

    def _record_channel_capture(self, now: str) -> None:
        reference = self.payment.authorization_id
        self.payment.record("capture", self.total, transaction_id=f"{self.order_id}:channel:capture",
                            status="succeeded", occurred_at=now, processor_reference=reference,
                            authorization_id=reference)

    def record_channel_paid(self, now: str, reason: str = "the channel reported the order paid") -> list[DomainEvent]:
        """The channel reports the order paid (Shopify orders/paid): clear the wait, record it."""
        if self.payment.method != "channel" or self.payment.channel_status == "paid" or not self.open_lines():
            return []
        self.payment.channel_status = "paid"
        events = [DomainEvent("ChannelPaymentReported", {"status": "paid"}),
                  *self._release_hold("awaiting_payment", reason),
                  # its stock was given back while it waited: it is sourced again (the allocation queue)
                  *self._release_hold("reservation_expired", "the payment arrived")]
        if self.payment.status == "channel_authorized":
            self.payment.status = "paid"
            self._record_channel_capture(now)
            events.append(DomainEvent("PaymentRecorded", {
                "amount": self.total, "currency": self.currency,
                "reference": self.payment.reference or self.external_id, "kind": "paid"}))
        return events + self.record_prepaid(now)

    # ---- authorising the card ----------------------------------------------------------------------
    def plan_authorization(self) -> bool:
        """Decide the authorisation (amount and key) before the processor is called, so a retry
        after a lost commit asks for the same amount under the same key."""
        if not self.needs_payment() or self.payment.method != "card" or self.payment.pending_authorization:
            return False
        key = self.authorization_key()
        unanswered = next((t for t in reversed(self.payment.transactions) if t.get("idempotency_key") == key
                           and t.get("failure") == "no_answer"), None)
        if unanswered:  # the same request again, as it was (the processor may have acted on it)
            self.payment.pending_authorization = {"idempotency_key": key, "amount": unanswered["amount"],
                                                  "off_session": unanswered.get("off_session", False)}
            return True
        # What is still to be paid: everything, or what was not captured before.
        amount = self.amount_due - self.payment.captured
        if amount <= 0:
            return False
        self.payment.pending_authorization = {"idempotency_key": key, "amount": amount,
                                              "off_session": self.is_reauthorization() or self.payment.off_session}
        return True

    def _take_planned_authorization(self, idempotency_key: str) -> int | None:
        """The amount asked for under this key: the planned one (the processor may have acted on
        it even if the order was cancelled since), or what is due if nothing was planned."""
        planned, self.payment.pending_authorization = self.payment.pending_authorization, None
        if planned and planned["idempotency_key"] == idempotency_key:
            return planned["amount"]
        if not self.needs_payment() or self.payment.method != "card":
            return None
        return self.amount_due - self.payment.captured

    def record_authorization(self, *, approved: bool, authorization_id: str | None, decline_code: str | None,
                             idempotency_key: str, now: str, processor: str | None = None,
                             amount_held: int | None = None, charge_id: str | None = None,
                             multicapture: bool = False, saved_payment_method: str | None = None,
                             customer: str | None = None, mismatch: str | None = None) -> list[DomainEvent]:
        amount = self._take_planned_authorization(idempotency_key)
        if amount is None:
            return []
        payment = self.payment
        payment.processor = processor or payment.processor
        if mismatch:  # a storefront's authorisation the order cannot be paid with
            payment.status = "failed"
            payment.record("authorization", amount, transaction_id=idempotency_key, status="failed",
                           occurred_at=now, processor_reference=authorization_id, failure="mismatch",
                           decline_code="payment_mismatch", idempotency_key=idempotency_key)
            return [DomainEvent("PaymentFailed", {"amount": amount, "currency": self.currency, "reason": mismatch}),
                    *self._place_holds([Hold("payment_mismatch", mismatch)])]
        if not approved:
            payment.status = "declined"
            payment.record("authorization", amount, transaction_id=idempotency_key, status="failed",
                           occurred_at=now, processor_reference=authorization_id, failure="declined",
                           decline_code=decline_code, idempotency_key=idempotency_key)
            if self.is_reauthorization():
                hold = Hold(REAUTHORIZATION_DECLINED, f"the rest could not be authorised again: {decline_code}")
            elif self.payment.off_session:
                hold = self._difference_refused(decline_code)
            else:
                hold = Hold("payment_declined", f"card declined: {decline_code}")
            return [DomainEvent("PaymentDeclined", {"amount": amount, "currency": self.currency,
                                                  "decline_code": decline_code}),
                    *(self._place_holds([hold]) if self.open_lines() else [])]
        # Recorded even if the order was cancelled meanwhile: the card is held, so it must be
        # known (and then voided).
        held = max(amount, amount_held or 0)
        payment.record("authorization", held, transaction_id=idempotency_key, status="succeeded", occurred_at=now,
                       processor_reference=authorization_id, authorization_id=authorization_id,
                       idempotency_key=idempotency_key)
        payment.status, payment.authorization_id, payment.multicapture = "authorized", authorization_id, multicapture
        payment.saved_payment_method = saved_payment_method or payment.saved_payment_method
        payment.processor_customer = customer or payment.processor_customer
        payment.add_charge(charge_id)
        return [DomainEvent("PaymentAuthorized", {"amount": held, "currency": self.currency,
                                                  "authorization_id": authorization_id})]

    def record_payment_failure(self, reason: str, idempotency_key: str, now: str,
                               refused: bool = False) -> list[DomainEvent]:
        """No usable answer: the processor stayed unreachable (the outcome is unknown, so the
        retry reuses the key) or refused the request outright (the retry gets a new key)."""
        off_session = bool((self.payment.pending_authorization or {}).get("off_session"))
        amount = self._take_planned_authorization(idempotency_key)
        if amount is None:
            return []
        self.payment.status = "failed"
        attempt = len(self.payment.transactions) + 1
        self.payment.record("authorization", amount, transaction_id=f"{idempotency_key}:attempt:{attempt}",
                            status="failed",
                            occurred_at=now, failure="refused" if refused else "no_answer", decline_code=reason,
                            idempotency_key=idempotency_key, off_session=off_session)
        detail = f"processor refused: {reason}" if refused else f"processor unavailable: {reason}"
        hold = Hold("payment_error", detail)
        if refused and self.payment.off_session and not self.is_reauthorization():
            hold = self._difference_refused(reason)
        return [DomainEvent("PaymentFailed", {"amount": amount, "currency": self.currency, "reason": reason}),
                *(self._place_holds([hold]) if self.open_lines() else [])]

    def _difference_refused(self, reason: str) -> Hold:
        """An exchange's difference the original card refused: the customer is not there to try
        another card, so an operator collects it."""
        from .money import to_decimal_string

        return Hold("awaiting_payment", f"the original card refused the {to_decimal_string(self.total, self.currency)} "
                                        f"{self.currency} the replacement costs more ({reason}): collect it, "
                                        f"then release this hold")

    # ---- capturing what shipped ---------------------------------------------------------------------
    def capture_due(self) -> int:
        """What the shipped units entitle us to capture now. Shipping and tax follow the
        merchandise proportionally; once nothing is left to ship the order's whole amount due
        is captured, so a fully shipped order has captured exactly what it is worth."""
        if self.payment.status != "authorized" or not self.payment.authorization_id:
            return 0
        target = self._capture_target()
        return max(0, min(target - self.payment.captured, self.payment.open_amount()))

    def _capture_target(self) -> int:
        """What the order may have captured in all, given what has shipped."""
        open_lines = self.open_lines()
        due = min(self.amount_due, self.payment.authorized)
        if self._all_shipped():
            return due if any(line.shipped for line in open_lines) else 0
        values = self.unit_values()
        worth = sum(values[line.line_id] * line.open_quantity for line in open_lines)
        shipped = sum(values[line.line_id] * line.shipped for line in open_lines)
        return int(due * shipped / worth) if worth else 0

    def _all_shipped(self) -> bool:
        return all(line.shipped == line.open_quantity for line in self.open_lines())

    def plan_capture(self, shipment_id: str | None, now: str = "") -> bool:
        """Decide the next capture (what is due now, under a key no other capture uses);
        False when one is already planned or nothing is due. The capture is the authorisation's
        last when the processor allows only one, or nothing more will ship."""
        amount = self.capture_due()
        if self.payment.pending_capture or amount <= 0:
            return False
        number = sum(1 for t in self.payment.transactions if t["type"] == "capture") + 1  # failed ones too
        final = (not self.payment.multicapture or amount == self.payment.open_amount()
                 or (self._all_shipped() and self._capture_target() - self.payment.captured <= amount))
        self.payment.pending_capture = {"idempotency_key": f"{self.order_id}:capture:{number}", "amount": amount,
                                        "shipment_id": shipment_id, "authorization_id": self.payment.authorization_id,
                                        "final": final, "planned_at": now,
                                        "captured_before": self.payment.captured_on(self.payment.authorization_id)}
        return True

    def record_capture_failure(self, *, idempotency_key: str, reason: str, now: str) -> list[DomainEvent]:
        """The processor refused the planned capture for good (an expired authorisation, say):
        the authorisation is given up, shipping stops and an operator is shown."""
        planned = self.payment.pending_capture
        if not planned or planned["idempotency_key"] != idempotency_key:
            return []
        self.payment.pending_capture = None
        self.payment.record("capture", planned["amount"], transaction_id=idempotency_key, status="failed",
                            occurred_at=now, authorization_id=planned["authorization_id"],
                            shipment_id=planned["shipment_id"], decline_code=reason, idempotency_key=idempotency_key)
        events = self._release_authorization(f"the processor refused a capture: {reason}", now)
        return events + self._place_holds([Hold("capture_failed", f"the processor refused a capture: {reason}")])

    def record_capture(self, *, amount: int, capture_id: str, idempotency_key: str, shipment_id: str | None,
                       now: str) -> list[DomainEvent]:
        if self.payment.has(idempotency_key):
            return []
        pending = self.payment.pending_capture
        planned = pending if pending and pending["idempotency_key"] == idempotency_key else None
        if planned:
            self.payment.pending_capture = None
        authorization_id = planned["authorization_id"] if planned else self.payment.authorization_id
        if amount <= 0:
            raise OrderRuleViolation("over_capture", "a capture must be of a positive amount")
        try:
            self.payment.record("capture", amount, transaction_id=idempotency_key, status="succeeded",
                                occurred_at=now, processor_reference=capture_id, authorization_id=authorization_id,
                                shipment_id=shipment_id, idempotency_key=idempotency_key)
        except LedgerViolation as violation:
            raise OrderRuleViolation("over_capture", str(violation)) from None
        self.payment.add_charge(capture_id)
        events = [DomainEvent("PaymentCaptured", {"amount": amount, "currency": self.currency,
                                                  "shipment_id": shipment_id, "capture_id": capture_id})]
        if planned and planned["final"] and authorization_id == self.payment.authorization_id:
            events += self._release_authorization("released by the processor at the final capture", now)
        return events

    def _release_authorization(self, reason: str, now: str) -> list[DomainEvent]:
        """The open authorisation holds nothing more for this order (captured for the last time,
        refused, expired or cancelled at the processor): what it still held is given back, and
        what is still to ship must be authorised again."""
        authorization_id, left = self.payment.authorization_id, self.payment.open_amount()
        if not authorization_id:
            return []
        self.payment.authorization_id, self.payment.multicapture = None, False
        events = []
        if left:
            self.payment.record("void", left, transaction_id=f"{authorization_id}:released", status="succeeded",
                                occurred_at=now, processor_reference=authorization_id,
                                authorization_id=authorization_id, reason=reason)
            events.append(DomainEvent("PaymentVoided", {"amount": left, "currency": self.currency,
                                                        "authorization_id": authorization_id}))
        if self.amount_due > self.payment.captured and self.open_lines():
            self.payment.status = "pending"  # the rest is authorised again when nothing holds the order
        return events

    def authorization_expired(self, now: str, validity_days: int) -> bool:
        """The open authorisation is older than a processor honours (Stripe: 7 days for cards):
        give it back and authorise again before capturing against it."""
        from datetime import timedelta

        authorization_id = self.payment.authorization_id
        if (self.payment.status != "authorized" or not authorization_id or self.payment.processor == "channel"
                or self.payment.pending_capture):  # a planned capture is finished first, on this authorisation
            return False
        made = next((t["occurred_at"] for t in self.payment.transactions if t["type"] == "authorization"
                     and t["status"] == "succeeded" and t.get("authorization_id") == authorization_id), None)
        return bool(made) and _moment(now) - _moment(made) > timedelta(days=validity_days)

    def record_authorization_expired(self, now: str) -> list[DomainEvent]:
        return self._release_authorization("older than the processor honours; authorised again", now)

    def record_authorization_lost(self, authorization_id: str, reason: str, now: str) -> list[DomainEvent]:
        """The processor cancelled (or let expire) an authorisation the OMS still counted on:
        nothing more can be captured from it until an operator has it authorised again."""
        if authorization_id != self.payment.authorization_id or not self.payment.open_amount():
            return []  # one we gave back ourselves, or one already captured for the last time
        events = self._release_authorization(f"cancelled at the processor: {reason}", now)
        if self.payment.status == "pending":  # something is still to be captured: an operator decides
            events += self._place_holds([Hold("authorization_lost", f"the authorisation was {reason}")])
        return events

    def record_declined_by_processor(self, idempotency_key: str | None, decline_code: str,
                                     now: str) -> list[DomainEvent]:
        """The processor reports a failed payment: it settles an authorisation whose answer was
        lost (the planned one, under this key); an answered one changes nothing."""
        planned = self.payment.pending_authorization
        if not planned or planned["idempotency_key"] != idempotency_key:
            return []
        return self.record_authorization(approved=False, authorization_id=None, decline_code=decline_code,
                                         idempotency_key=idempotency_key, now=now)

    # ---- giving back what will not be captured ---------------------------------------------------------
    def void_due(self) -> bool:
        """An authorisation nothing more will be captured against is given back."""
        return (self.payment.status == "authorized" and self.payment.open_amount() > 0
                and not self.payment.pending_capture and self._all_shipped() and self.capture_due() == 0)

    def record_void(self, *, idempotency_key: str, now: str) -> list[DomainEvent]:
        if not self.void_due():
            return []
        authorization_id, amount = self.payment.authorization_id, self.payment.open_amount()
        self.payment.record("void", amount, transaction_id=idempotency_key, status="succeeded", occurred_at=now,
                            processor_reference=authorization_id, authorization_id=authorization_id,
                            idempotency_key=idempotency_key)
        self.payment.authorization_id = None
        if not self.payment.captured:
            self.payment.status = "voided"
        return [DomainEvent("PaymentVoided", {"amount": amount, "currency": self.currency,
                                              "authorization_id": authorization_id})]
