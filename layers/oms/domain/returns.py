"""The return aggregate (an RMA): units of a delivered order coming back, why, in what
condition they arrive, and the exchange the customer wants instead. Its own partition,
version and history; the order keeps which of its units are claimed by open returns, and is
told by events what came back (and refunds it)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .events import DomainEvent
from .holds import OrderRuleViolation

MERCHANT_FAULT = ("damaged", "defective", "wrong_item", "not_as_described", "arrived_late")
CUSTOMER_FAULT = ("size_too_small", "size_too_large", "changed_mind", "other")
REASONS = MERCHANT_FAULT + CUSTOMER_FAULT
CONDITIONS = ("sellable", "damaged", "missing")
OPEN = ("requested", "approved", "in_transit")  # before anything was received
# requested -> approved | declined; approved -> in_transit -> received -> closed; cancelled before receipt
TRANSITIONS = {"approve": ("requested",), "decline": ("requested",), "cancel": ("requested", "approved", "in_transit"),
               "in_transit": ("approved",), "receive": ("approved", "in_transit", "received"),
               "close": ("received", "approved", "in_transit")}


@dataclass
class ReturnLine:
    line_id: str
    sku: str
    quantity: int
    reason: str
    note: str | None = None
    # {"sku", "quantity", "unit_price", "credit", "even"} in minor units: credit is what the
    # returned units are worth; an even exchange (no price asked) moves no money whatever the rounding.
    exchange_for: dict | None = None
    sellable: int = 0
    damaged: int = 0
    missing: int = 0
    kept: int = 0  # a returnless refund: the customer keeps the unit, it is refunded, nothing comes back

    @property
    def received(self) -> int:
        return self.sellable + self.damaged + self.missing + self.kept

    @property
    def merchant_fault(self) -> bool:
        return self.reason in MERCHANT_FAULT

    @property
    def back(self) -> int:
        """Units that came back (not missing, not kept)."""
        return self.sellable + self.damaged

    def exchange_money(self) -> tuple[int, int]:
        """(charge, refund) of an exchange line: its replacements cost more than the returned
        units were worth (the customer pays the rest) or less (the rest is refunded)."""
        wanted = self.exchange_for
        if not wanted or wanted.get("even", "credit" not in wanted):
            return 0, 0
        price = wanted["unit_price"] * wanted["quantity"]
        return max(0, price - wanted["credit"]), max(0, wanted["credit"] - price)

    def exchange_refund_through(self, back: int) -> int:
        """The part of this line's exchange refund earned once `back` of its units came back:
        shared by unit, so receipts add up to it exactly; a missing unit earns none."""
        return self.exchange_money()[1] * back // self.quantity


@dataclass
class Return:
    return_id: str
    rma_number: str
    order_id: str
    order_number: str
    currency: str
    status: str
    source: str  # customer | operator
    created_at: str
    lines: list[ReturnLine]
    ship_replacement: str = "after_receipt"  # after_receipt | immediately
    restocking_fee_percent: str = "0"  # the policy when the return was made
    returnless: bool = False  # worth less than the returnless threshold: nothing needs to come back
    refund_estimate: int = 0
    exchange_order_id: str | None = None
    tracking: dict | None = None  # {"carrier", "tracking_number", "status", "events"}
    # A return label bought for the customer: {"carrier_shipment_id", "rates", "location_id",
    # then "tracking_number", "carrier", "service", "amount", "currency", "label_url", "label_format"}
    label: dict | None = None
    decline_reason: str | None = None
    receipts: list[dict] = field(default_factory=list)
    channel: str = "generic"  # the order's sales channel, told about the return where its API allows
    channel_told: bool = False
    channel_claim: dict | None = None  # {"by", "at"}: who is telling the channel (one at a time)
    version: int = 0
    history_length: int = 0

    # ---- status -----------------------------------------------------------------------------------
    def _move(self, action: str, to: str) -> None:
        if self.status not in TRANSITIONS[action]:
            raise OrderRuleViolation("invalid_return_status", f"a {self.status} return cannot become {to}")
        self.status = to

    def _data(self, **more) -> dict:
        return {"return_id": self.return_id, "rma_number": self.rma_number, "order_id": self.order_id, **more}

    def approve(self, now: str = "") -> list[DomainEvent]:
        """Approved; a returnless one (worth less than the policy's threshold) is refunded at once
        and closed: nothing needs to come back."""
        if self.status == "approved":
            return []
        self._move("approve", "approved")
        events = [DomainEvent("ReturnApproved", self._data(returnless=self.returnless, channel=self.channel))]
        if not self.returnless:
            return events
        for line in self.lines:
            line.kept = line.quantity
        self.status = "received"
        lines = [{"line_id": line.line_id, "sku": line.sku, "reason": line.reason, "sellable": 0, "damaged": 0,
                  "missing": 0, "kept": line.kept, "exchanged": False, "return_line": n, "exchange_refund": 0}
                 for n, line in enumerate(self.lines)]
        self.receipts.append({"receipt": 1, "location_id": None, "received_at": now, "lines": lines})
        events.append(DomainEvent("ReturnReceived", self._data(
            receipt=1, location_id=None, lines=lines, restocking_fee_percent=self.restocking_fee_percent,
            complete=True, returnless=True)))
        return events + self.close()

    def decline(self, reason: str) -> list[DomainEvent]:
        if self.status == "declined":
            return []
        self._move("decline", "declined")
        self.decline_reason = reason
        return [DomainEvent("ReturnDeclined", self._data(reason=reason))]

    def cancel(self, reason: str) -> list[DomainEvent]:
        if self.status == "cancelled":
            return []
        self._move("cancel", "cancelled")
        return [DomainEvent("ReturnCancelled", self._data(reason=reason))]

    def register_tracking(self, carrier: str, tracking_number: str) -> list[DomainEvent]:
        if self.tracking and self.tracking["tracking_number"] == tracking_number:
            return []
        if self.status not in ("approved", "in_transit"):
            raise OrderRuleViolation("invalid_return_status", f"a {self.status} return takes no tracking number")
        self.tracking = {"carrier": carrier, "tracking_number": tracking_number, "status": "label_created",
                         "events": []}
        return []

    def record_label_quote(self, shipment_id: str, location_id: str, rates: list[dict]) -> None:
        if self.status != "approved":
            raise OrderRuleViolation("invalid_return_status", f"a {self.status} return gets no label")
        if self.label is None:  # the first quote stays: a label is bought against one carrier shipment
            self.label = {"carrier_shipment_id": shipment_id, "location_id": location_id, "rates": rates}

    def record_label(self, label: dict) -> list[DomainEvent]:
        """The label bought; its tracking number is the return's (carrier webhooks move it in transit)."""
        if self.label and self.label.get("tracking_number"):
            return []
        self.label = {**(self.label or {}), **label}
        return self.register_tracking(label["carrier"], label["tracking_number"])

    def apply_tracking(self, checkpoints: list[dict]) -> list[DomainEvent]:
        """A carrier's checkpoints for the parcel coming back: the first one moves it in transit."""
        if not self.tracking:
            return []
        new = [c for c in checkpoints if c not in self.tracking["events"]]
        if not new:
            return []
        self.tracking["events"] = sorted(self.tracking["events"] + new, key=lambda c: c["occurred_at"])
        self.tracking["status"] = self.tracking["events"][-1]["status"]
        if self.status == "approved":
            self.status = "in_transit"
            return [DomainEvent("ReturnInTransit", self._data(tracking_number=self.tracking["tracking_number"]))]
        return []

    def receive(self, location_id: str, received: list[dict], now: str) -> list[DomainEvent]:
        """Units arrive: [{"line_id" (the order's line), "condition", "quantity"}]. Several receipts
        may complete a return. Units of an order line the return names twice (one refunded, one
        exchanged, say) fill its return lines in the order they were requested."""
        if self.status not in TRANSITIONS["receive"]:
            raise OrderRuleViolation("invalid_return_status", f"a {self.status} return cannot be received")
        left = {id(line): line.quantity - line.received for line in self.lines}
        placed: list[tuple[ReturnLine, str, int]] = []
        for entry in received:
            if entry["condition"] not in CONDITIONS or entry["quantity"] <= 0:
                raise OrderRuleViolation("invalid_condition", f"conditions are {', '.join(CONDITIONS)}")
            candidates = [line for line in self.lines if line.line_id == entry["line_id"]]
            if not candidates:
                raise OrderRuleViolation("unknown_line", f"the return has no line {entry['line_id']}")
            need = entry["quantity"]
            for line in candidates:
                take = min(need, left[id(line)])
                if take:
                    placed.append((line, entry["condition"], take))
                    left[id(line)] -= take
                    need -= take
            if need:
                raise OrderRuleViolation("quantity_exceeds_expected",
                                         f"line {entry['line_id']}: fewer units are still expected")
        if not placed:
            raise OrderRuleViolation("nothing_received", "a receipt needs at least one unit")
        counts: dict[int, dict] = {}
        back_before = {id(line): line.back for line in self.lines}
        for line, condition, quantity in placed:
            setattr(line, condition, getattr(line, condition) + quantity)
            item = counts.setdefault(id(line), {
                "line_id": line.line_id, "sku": line.sku, "reason": line.reason, **{c: 0 for c in CONDITIONS},
                "kept": 0, "exchanged": line.exchange_for is not None, "return_line": self.lines.index(line),
                "exchange_refund": 0})
            item[condition] += quantity
        for line in self.lines:
            if id(line) in counts:
                counts[id(line)]["exchange_refund"] = (line.exchange_refund_through(line.back)
                                                       - line.exchange_refund_through(back_before[id(line)]))
        lines = list(counts.values())
        self.status = "received"
        receipt = {"receipt": len(self.receipts) + 1, "location_id": location_id, "received_at": now, "lines": lines}
        self.receipts.append(receipt)
        return [DomainEvent("ReturnReceived", self._data(
            receipt=receipt["receipt"], location_id=location_id, lines=lines,
            restocking_fee_percent=self.restocking_fee_percent, complete=self.complete, returnless=False))]

    @property
    def complete(self) -> bool:
        return all(line.received == line.quantity for line in self.lines)

    def claim_channel(self, claimant: str, now: str, lease_seconds: int) -> bool:
        """Take telling the channel for `lease_seconds` (its API keeps no idempotency key, so two
        deliveries at once would open two returns there); False while another's lease runs."""
        from .fulfillment import _moment

        held = self.channel_claim
        if (held and held["by"] != claimant
                and (_moment(now) - _moment(held["at"])).total_seconds() < lease_seconds):
            return False
        self.channel_claim = {"by": claimant, "at": now}
        return True

    def exchanges(self) -> list[ReturnLine]:
        return [line for line in self.lines if line.exchange_for]

    @property
    def exchange_credit(self) -> int:
        """What the exchanged units are worth: it pays for their replacements."""
        return sum(line.exchange_for.get("credit", 0) for line in self.exchanges())

    @property
    def exchange_charge(self) -> int:
        """What the customer pays on the exchange order: replacements dearer than their units."""
        return sum(line.exchange_money()[0] for line in self.exchanges())

    @property
    def exchange_refund(self) -> int:
        """What is refunded as the exchanged units arrive: replacements cheaper than their units."""
        return sum(line.exchange_money()[1] for line in self.exchanges())

    def replacements_due(self) -> str:
        """Whether the replacements may ship: "ship" once every exchanged unit came back; once
        nothing more will come (received in full, or closed), "cancel" if none of them came and
        "operator" if only some did; "wait" otherwise."""
        exchanged = self.exchanges()
        if all(line.back == line.quantity for line in exchanged):
            return "ship"
        if not (self.complete or self.status == "closed"):
            return "wait"
        return "cancel" if not any(line.back for line in exchanged) else "operator"

    def record_exchange_order(self, order_id: str) -> list[DomainEvent]:
        if self.exchange_order_id:
            return []
        self.exchange_order_id = order_id
        return [DomainEvent("ExchangeOrderCreated", self._data(
            exchange_order_id=order_id, ship_replacement=self.ship_replacement,
            lines=[{"sku": line.exchange_for["sku"], "quantity": line.exchange_for["quantity"]}
                   for line in self.exchanges()],
            exchange_credit=self.exchange_credit, charge=self.exchange_charge, refund=self.exchange_refund,
            currency=self.currency))]

    def close(self) -> list[DomainEvent]:
        if self.status == "closed":
            return []
        self._move("close", "closed")
        unreceived: dict[str, int] = {}
        for line in self.lines:
            if line.quantity > line.received:
                unreceived[line.line_id] = unreceived.get(line.line_id, 0) + line.quantity - line.received
        return [DomainEvent("ReturnClosed", self._data(
            unreceived=[{"line_id": k, "quantity": v} for k, v in unreceived.items()]))]

    def claims(self) -> dict[str, int]:
        """Units of the order this return still holds: all while open, the unreceived rest after
        a partial receipt, none once it is decided otherwise."""
        if self.status in ("declined", "cancelled", "closed"):
            return {}
        return {line.line_id: line.quantity - line.received for line in self.lines if line.quantity > line.received}

    # ---- persistence shape -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["version"], data["history_length"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Return:
        data = dict(data)
        data["lines"] = [ReturnLine(**line) for line in data["lines"]]
        return cls(**data)
