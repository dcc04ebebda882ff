"""An order's payment ledger. Every movement of money is a transaction, applied once (by its
transaction_id), and every total follows from the transactions, so no total can drift from
the record of what happened:

    authorized = authorisations - voids          captured  = captures
    refunded   = refunds that succeeded           disputed  = chargebacks - reversals
    net        = captured - refunded - chargebacks + reversals

A card payment may hold several authorisations over its life (a processor without
multicapture releases the rest of an authorisation at its first capture, and the remainder is
authorised again); each capture, void and refund names the authorisation it belongs to."""
from __future__ import annotations

from dataclasses import dataclass, field

TRANSACTION_TYPES = ("authorization", "capture", "void", "refund", "chargeback", "chargeback_reversal",
                     "dispute_fee")
TRANSACTION_STATUSES = ("pending", "succeeded", "failed")
# Payment statuses in which the goods may be fulfilled.
SETTLED_PAYMENT = ("authorized", "paid", "channel_authorized")
REFUND_REASONS = ("goodwill", "damaged", "price_adjustment", "duplicate", "other")
# Stripe's dispute statuses. Inquiries (warning_*) are questions from the bank, not yet
# chargebacks; the final ones end a dispute.
DISPUTE_FINAL = ("won", "lost", "warning_closed", "prevented")
DISPUTE_INQUIRY = ("warning_needs_response", "warning_under_review", "warning_closed")


class LedgerViolation(ValueError):
    """A movement of money the ledger's invariants do not allow."""


@dataclass
class Payment:
    method: str  # card | prepaid | channel
    currency: str
    token: str | None = None  # a processor token (tok_...): the OMS authorises
    payment_method: str | None = None  # a processor payment method (pm_...): the OMS authorises
    payment_intent: str | None = None  # an authorisation the storefront made (pi_...): the OMS verifies it
    reference: str | None = None
    # pending | authorized | declined | failed | paid | channel_authorized | voided
    status: str = "pending"
    channel_status: str | None = None  # for method "channel": paid | authorized | pending at the channel
    processor: str | None = None  # who holds the money: "stripe", "channel", ...
    authorization_id: str | None = None  # the open authorisation, if any
    multicapture: bool = False  # the open authorisation may be captured more than once
    # What a later authorisation of the remainder is made with, off-session (the first one's
    # saved payment method and the processor's customer), when the processor allows it.
    saved_payment_method: str | None = None
    processor_customer: str | None = None
    off_session: bool = False  # authorised without the customer (an exchange's difference, on the saved card)
    charge_ids: list[str] = field(default_factory=list)
    transactions: list[dict] = field(default_factory=list)
    refunds: list[dict] = field(default_factory=list)
    disputes: list[dict] = field(default_factory=list)
    # A request decided and committed before the processor is called, so that a retry or a
    # concurrent step repeats the same call (same key, same amount) instead of making another.
    pending_capture: dict | None = None
    pending_authorization: dict | None = None

    # ---- totals ---------------------------------------------------------------------------------
    def _sum(self, kind: str, authorization_id: str | None = None, statuses=("succeeded",)) -> int:
        return sum(t["amount"] for t in self.transactions if t["type"] == kind and t["status"] in statuses
                   and (authorization_id is None or t.get("authorization_id") == authorization_id))

    @property
    def authorized(self) -> int:
        return self._sum("authorization") - self._sum("void")

    @property
    def captured(self) -> int:
        return self._sum("capture")

    @property
    def refunded(self) -> int:
        return self._sum("refund")

    @property
    def chargebacks(self) -> int:
        return self._sum("chargeback") - self._sum("chargeback_reversal")

    @property
    def net(self) -> int:
        return self.captured - self.refunded - self.chargebacks

    def captured_on(self, authorization_id: str | None) -> int:
        return self._sum("capture", authorization_id) if authorization_id else 0

    def open_amount(self, authorization_id: str | None = None) -> int:
        """What an authorisation still holds on the card: authorised, not captured, not released."""
        authorization_id = authorization_id or self.authorization_id
        if not authorization_id:
            return 0
        return (self._sum("authorization", authorization_id) - self._sum("capture", authorization_id)
                - self._sum("void", authorization_id))

    def refundable(self, authorization_id: str | None = None) -> int:
        """Captured money not yet refunded (or being refunded) nor taken back by a chargeback."""
        committed = self._sum("refund", authorization_id, ("succeeded", "pending"))
        return (self._sum("capture", authorization_id) - committed
                - self._sum("chargeback", authorization_id) + self._sum("chargeback_reversal", authorization_id))

    def authorizations(self) -> list[str]:
        return list(dict.fromkeys(t["authorization_id"] for t in self.transactions
                                  if t["type"] == "authorization" and t["status"] == "succeeded"))

    # ---- recording --------------------------------------------------------------------------------
    def has(self, transaction_id: str) -> bool:
        return any(t["transaction_id"] == transaction_id for t in self.transactions)

    def record(self, transaction_type: str, amount: int, *, transaction_id: str, status: str, occurred_at: str,
               processor_reference: str | None = None, authorization_id: str | None = None, **details) -> bool:
        """Apply a transaction once; False if it was applied before. Refuses what would break
        the invariants (captured <= authorized, refunded <= captured)."""
        if transaction_type not in TRANSACTION_TYPES or status not in TRANSACTION_STATUSES:
            raise LedgerViolation(f"unknown transaction {transaction_type}/{status}")
        if self.has(transaction_id):
            return False
        if amount < 0:
            raise LedgerViolation("transaction amounts are positive; the type says which way money moves")
        if status == "succeeded" and transaction_type == "capture" and (
                amount > self.open_amount(authorization_id) or self.captured + amount > self.authorized):
            raise LedgerViolation("a capture above what is authorised")
        if status == "succeeded" and transaction_type == "void" and amount > self.open_amount(authorization_id):
            raise LedgerViolation("a void above what the authorisation still holds")
        if transaction_type == "refund" and status != "failed" and amount > self.refundable(authorization_id):
            raise LedgerViolation("a refund above what was captured")
        self.transactions.append({
            "transaction_id": transaction_id, "type": transaction_type, "amount": amount, "currency": self.currency,
            "status": status, "processor_reference": processor_reference, "occurred_at": occurred_at,
            "authorization_id": authorization_id, **details})
        return True

    def transaction(self, transaction_id: str) -> dict | None:
        return next((t for t in self.transactions if t["transaction_id"] == transaction_id), None)

    def settle_transaction(self, transaction_id: str, status: str, processor_reference: str | None = None) -> bool:
        """A pending transaction's outcome (a refund the processor finished later); a succeeded
        refund may still fail later (the card was closed), which gives the money back to refund."""
        found = self.transaction(transaction_id)
        if found is None or found["status"] == status or found["status"] == "failed":
            return False
        found["status"] = status
        if processor_reference:
            found["processor_reference"] = processor_reference
        return True

    def add_charge(self, charge_id: str | None) -> None:
        if charge_id and charge_id not in self.charge_ids:
            self.charge_ids.append(charge_id)

    def check_invariants(self) -> None:
        """What holds after any sequence of events (the property tests call this)."""
        ids = [t["transaction_id"] for t in self.transactions]
        assert len(ids) == len(set(ids)), "a transaction applied twice"
        assert 0 <= self.captured <= self.authorized, "captured above authorised"
        assert self.refunded <= self.captured, "refunded above captured"
        for authorization_id in self.authorizations():
            assert self.open_amount(authorization_id) >= 0, f"{authorization_id} captured above its authorisation"
