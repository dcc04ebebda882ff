"""Refunds: an operator (or a return, a case) gives money back, by an amount or by the units it
is for. Part of Order (mixed in, see order.py).

A refund is decided first: its amount is checked against what was captured and not yet
refunded or charged back, and booked as pending refund transactions, one per authorisation it
is taken from (the latest first), under keys no other refund uses. Then the processor is asked
(the card) or the channel is told (an order the channel was paid for), and each answer settles
its transaction. Processors refund asynchronously: a refund that succeeded may still fail later."""
from __future__ import annotations

from fractions import Fraction

from .events import DomainEvent
from .fulfillment import _moment
from .holds import Hold, OrderRuleViolation
from .payment import DISPUTE_FINAL, DISPUTE_INQUIRY, REFUND_REASONS


class OrderRefunds:
    """Mixed into Order: uses its lines, totals and payment ledger."""

    def refund(self, refund_id: str) -> dict:
        for refund in self.payment.refunds:
            if refund["refund_id"] == refund_id:
                return refund
        raise OrderRuleViolation("not_found", f"no refund {refund_id}")

    def refund_by_request_key(self, request_key: str) -> dict | None:
        return next((r for r in self.payment.refunds if request_key and r.get("request_key") == request_key), None)

    def open_disputes(self) -> list[dict]:
        return [d for d in self.payment.disputes if d["status"] not in DISPUTE_FINAL + DISPUTE_INQUIRY]

    def _refunds_standing(self) -> list[dict]:
        """Refunds that moved (or may still move) money: all but those whose every part failed."""
        return [r for r in self.payment.refunds
                if any(self.payment.transaction(key)["status"] != "failed" for key in r["parts"])]

    def refundable_units(self, line_id: str) -> int:
        """Units of a line that shipped (or the channel delivered) and no refund was for yet."""
        line = self.line(line_id)
        taken = sum(item["quantity"] for refund in self._refunds_standing()
                    for item in refund.get("lines", []) if item["line_id"] == line_id)
        return line.shipped - taken

    def _refund_worth(self, lines: dict[str, int], shipping: int) -> int:
        for line_id, quantity in lines.items():
            if line_id not in {line.line_id for line in self.lines}:
                raise OrderRuleViolation("unknown_line", f"the order has no line {line_id}")
            if quantity > self.refundable_units(line_id):
                raise OrderRuleViolation("quantity_exceeds_refundable",
                                         f"line {line_id}: {self.refundable_units(line_id)} unit(s) can be refunded")
        shipping_refunded = sum(r.get("shipping", 0) for r in self._refunds_standing())
        if shipping > self.shipping_total - shipping_refunded:
            raise OrderRuleViolation("refund_exceeds_captured", "more shipping than the order was charged")
        values = self.unit_values()
        return int(sum((values[line_id] * quantity for line_id, quantity in lines.items()), Fraction(0))) + shipping

    def request_refund(self, *, amount: int | None, lines: dict[str, int] | None, shipping: int, reason: str,
                       case_id: str | None, request_key: str | None, request_hash: str | None,
                       now: str, return_id: str | None = None) -> tuple[dict, list[DomainEvent]]:
        """Decide a refund: returns it and its events (none when the request key was seen). An
        amount with lines (a return's receipt, priced by the return's rules) books those units."""
        earlier = self.refund_by_request_key(request_key) if request_key else None
        if earlier is not None:
            if earlier.get("request_hash") != request_hash:
                raise OrderRuleViolation("idempotency_key_reused", "this Idempotency-Key was used for another refund")
            return earlier, []
        if reason not in REFUND_REASONS:
            raise OrderRuleViolation("invalid_reason", f"reason must be one of {', '.join(REFUND_REASONS)}")
        if self.open_disputes():
            raise OrderRuleViolation("payment_disputed", "the payment is disputed: the bank decides, not a refund")
        if lines is not None or shipping:
            worth = self._refund_worth(lines or {}, shipping)
            amount = worth if amount is None else amount
        if amount is None or amount <= 0:
            raise OrderRuleViolation("invalid_amount", "a refund must be of a positive amount")
        if amount > self.payment.refundable():
            raise OrderRuleViolation("refund_exceeds_captured",
                                     f"at most {self.payment.refundable()} (minor units) can still be refunded")
        number = len(self.payment.refunds) + 1
        refund_id = f"{self.order_id}-R{number}"
        refund = {"refund_id": refund_id, "amount": amount, "currency": self.currency, "status": "pending",
                  "reason": reason, "case_id": case_id, "request_key": request_key, "request_hash": request_hash,
                  "requested_at": now, "lines": [{"line_id": k, "quantity": v} for k, v in (lines or {}).items()],
                  "shipping": shipping, "processor": self.payment.processor, "parts": [], "return_id": return_id}
        left = amount
        for n, authorization_id in enumerate(reversed(self.payment.authorizations()), start=1):
            take = min(left, self.payment.refundable(authorization_id))
            if take <= 0:
                continue
            key = f"{refund_id}:{n}"
            self.payment.record("refund", take, transaction_id=key, status="pending", occurred_at=now,
                                authorization_id=authorization_id, refund_id=refund_id, idempotency_key=key)
            refund["parts"].append(key)
            left -= take
            if not left:
                break
        self.payment.refunds.append(refund)
        return refund, [DomainEvent("RefundRequested", {
            "refund_id": refund_id, "amount": amount, "currency": self.currency, "reason": reason,
            "processor": refund["processor"], "case_id": case_id, "channel": self.channel})]

    def claim_refund(self, refund_id: str, claimant: str, now: str, lease_seconds: int) -> bool:
        """Take the sending of a refund for `lease_seconds` (a channel that keeps no idempotency
        key must not be asked twice at once); False while another claimant's lease runs."""
        refund = self.refund(refund_id)
        held = refund.get("claimed_at")
        if (held and refund.get("claimed_by") != claimant
                and (_moment(now) - _moment(held)).total_seconds() < lease_seconds):
            return False
        refund["claimed_at"], refund["claimed_by"] = now, claimant
        return True

    def refund_parts_to_send(self, refund_id: str) -> list[dict]:
        """The refund's transactions the processor has not answered yet."""
        return [t for key in self.refund(refund_id)["parts"]
                if (t := self.payment.transaction(key))["status"] == "pending" and not t["processor_reference"]]

    def record_refund_answer(self, *, transaction_id: str, status: str, processor_reference: str | None,
                             now: str, failure: str | None = None) -> list[DomainEvent]:
        """The processor's (or the channel's) answer for one part of a refund, now or later (a
        webhook); the refund settles when every part has."""
        found = self.payment.transaction(transaction_id)
        if found is None or found["type"] != "refund":
            return []
        before = (found["status"], found["processor_reference"])
        if found["status"] == "pending" or (found["status"] == "succeeded" and status == "failed"):
            found["status"] = status
        found["processor_reference"] = found["processor_reference"] or processor_reference
        if failure:
            found["failure"] = failure
        if (found["status"], found["processor_reference"]) == before:
            return []
        return self._settle_refund(self.refund(found["refund_id"]), now)

    def _settle_refund(self, refund: dict, now: str) -> list[DomainEvent]:
        statuses = {self.payment.transaction(key)["status"] for key in refund["parts"]}
        status = "failed" if "failed" in statuses else "pending" if "pending" in statuses else "succeeded"
        if status == refund["status"]:
            return []
        refund["status"], refund["settled_at"] = status, now
        data = {"refund_id": refund["refund_id"], "amount": refund["amount"], "currency": refund["currency"]}
        if status == "succeeded":
            return [DomainEvent("RefundSucceeded", data)]
        if status == "failed":
            failures = [self.payment.transaction(k).get("failure") for k in refund["parts"]]
            reason = next((f for f in failures if f), "the processor reported the refund failed")
            return [DomainEvent("RefundFailed", {**data, "reason": reason}),
                    *self._place_holds([Hold("refund_failed", f"refund {refund['refund_id']} failed: {reason}")])]
        return []

    def refund_transaction_for(self, processor_reference: str, metadata_key: str | None) -> str | None:
        """The refund transaction a processor's refund id (or the key we gave it) belongs to."""
        for t in self.payment.transactions:
            if t["type"] == "refund" and (t["processor_reference"] == processor_reference
                                          or (metadata_key and t["transaction_id"] == metadata_key)):
                return t["transaction_id"]
        return None
