"""Disputes (chargebacks): the customer's bank takes the payment back and the merchant may
contest it. Part of Order (mixed in, see order.py).

The processor reports each dispute again and again as it moves (created, updated, funds
withdrawn, closed), possibly twice and out of order. Each report carries the whole dispute: its
status counts only if it is newer than the one kept (a final status is never undone), and its
balance transactions (the chargeback, the fee, a reinstatement) each enter the ledger once."""
from __future__ import annotations

from .events import DomainEvent
from .holds import Hold
from .payment import DISPUTE_FINAL, DISPUTE_INQUIRY

DISPUTE_FIELDS = ("dispute_id", "status", "reason", "amount", "currency", "evidence_due_by", "opened_at",
                  "closed_at")


class OrderDisputes:
    """Mixed into Order: uses its lines, holds and payment ledger."""

    def dispute(self, dispute_id: str) -> dict | None:
        return next((d for d in self.payment.disputes if d["dispute_id"] == dispute_id), None)

    def apply_dispute(self, report: dict, *, reported_at: int, now: str) -> list[DomainEvent]:
        """A processor's report of a dispute (see the Stripe adapter's dispute_report)."""
        kept = self.dispute(report["dispute_id"])
        events: list[DomainEvent] = []
        if kept is None:
            kept = {**{k: report.get(k) for k in DISPUTE_FIELDS}, "closed_at": None, "reported_at": reported_at,
                    "charge_id": report.get("charge_id"), "payment_intent_id": report.get("payment_intent_id")}
            self.payment.disputes.append(kept)
            events.append(DomainEvent("DisputeOpened", self._dispute_data(kept)))
        elif self._newer(kept, report, reported_at):
            before = kept["status"]
            kept.update({k: report[k] for k in ("status", "reason", "amount", "evidence_due_by") if report.get(k)})
            kept["reported_at"] = reported_at
            if kept["status"] != before:
                events.append(DomainEvent("DisputeUpdated", {**self._dispute_data(kept), "previous_status": before}))
        if kept["status"] in DISPUTE_FINAL and not kept["closed_at"]:
            kept["closed_at"] = report.get("closed_at") or now
            events.append(DomainEvent("DisputeClosed", self._dispute_data(kept)))
        changed = bool(events)
        events += self._apply_balance_transactions(kept, report.get("balance_transactions", []), now)
        return events + (self._hold_for_disputes() if changed else [])

    @staticmethod
    def _newer(kept: dict, report: dict, reported_at: int) -> bool:
        if kept["status"] in DISPUTE_FINAL:
            return False  # won or lost is the end; a late "under_review" changes nothing
        return report["status"] in DISPUTE_FINAL or reported_at >= kept["reported_at"]

    def record_evidence(self, dispute_id: str, *, submitted: bool, now: str) -> list[DomainEvent]:
        from .holds import OrderRuleViolation

        dispute = self.dispute(dispute_id)
        if dispute is None:
            raise OrderRuleViolation("not_found", f"no dispute {dispute_id}")
        if dispute["status"] in DISPUTE_FINAL:
            raise OrderRuleViolation("dispute_closed", f"dispute {dispute_id} is {dispute['status']}")
        dispute["evidence_sent_at"] = now
        if not submitted:
            return []
        dispute["evidence_submitted_at"] = now
        return [DomainEvent("DisputeUpdated", {**self._dispute_data(dispute), "previous_status": dispute["status"]})]

    def _dispute_data(self, dispute: dict) -> dict:
        return {k: dispute[k] for k in DISPUTE_FIELDS}

    def _apply_balance_transactions(self, dispute: dict, transactions: list[dict], now: str) -> list[DomainEvent]:
        """Money the dispute moved: a withdrawal is a chargeback (plus the processor's fee), a
        reinstatement its reversal. Each balance transaction once, whichever report carried it."""
        events = []
        authorization_id = dispute.get("payment_intent_id") or dispute.get("charge_id")
        for balance in transactions:
            kind = "chargeback" if balance["amount"] < 0 else "chargeback_reversal"
            if balance["amount"] and self.payment.record(
                    kind, abs(balance["amount"]), transaction_id=balance["id"], status="succeeded",
                    occurred_at=balance.get("created") or now, processor_reference=balance["id"],
                    authorization_id=authorization_id, dispute_id=dispute["dispute_id"]):
                data = {"dispute_id": dispute["dispute_id"], "amount": abs(balance["amount"]),
                        "currency": self.currency, "fee": max(0, balance.get("fee", 0)),
                        "balance_transaction": balance["id"]}
                events.append(DomainEvent("ChargebackDebited", data) if kind == "chargeback"
                              else DomainEvent("ChargebackReversed", data))
            if balance.get("fee", 0) > 0:
                self.payment.record("dispute_fee", balance["fee"], transaction_id=f"{balance['id']}:fee",
                                    status="succeeded", occurred_at=balance.get("created") or now,
                                    processor_reference=balance["id"], authorization_id=authorization_id,
                                    dispute_id=dispute["dispute_id"])
        return events

    def _hold_for_disputes(self) -> list[DomainEvent]:
        """Nothing more ships to a customer whose bank says the payment was not theirs (a dispute
        open, or lost), until the dispute is won or an operator releases the hold."""
        contested = [d for d in self.payment.disputes
                     if d["status"] not in DISPUTE_INQUIRY + DISPUTE_FINAL or d["status"] == "lost"]
        unshipped = any(line.open_quantity - line.shipped for line in self.lines)
        if contested and unshipped:
            ids = ", ".join(d["dispute_id"] for d in contested)
            return self._place_holds([Hold("payment_disputed", f"the payment is disputed ({ids})")])
        won = [d for d in self.payment.disputes if d["status"] in ("won", "warning_closed")]
        if not contested and won:
            return self._release_hold("payment_disputed", "the dispute was won")
        return []
