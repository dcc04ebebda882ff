"""Stock on its way in: purchase orders from suppliers, and transfers between locations. Each
is a document written in one transaction with the stock it moves (inbound while on its way,
on hand once it lands)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .events import DomainEvent
from .holds import OrderRuleViolation


@dataclass
class PurchaseOrder:
    purchase_order_id: str
    supplier: str
    location_id: str
    expected_at: str
    created_at: str
    lines: list[dict]  # [{"sku", "quantity", "received"}]
    status: str = "open"  # open | closed
    receipts: list[str] = field(default_factory=list)
    history_length: int = 0
    request_hash: str | None = None  # of the request that opened it, when it came with an Idempotency-Key

    @classmethod
    def open(cls, purchase_order_id: str, supplier: str, location_id: str, expected_at: str, created_at: str,
             lines: list[dict]) -> tuple[PurchaseOrder, list[DomainEvent]]:
        merged: dict[str, int] = {}
        for line in lines:
            merged[line["sku"]] = merged.get(line["sku"], 0) + line["quantity"]
        po = cls(purchase_order_id, supplier, location_id, expected_at, created_at,
                 [{"sku": sku, "quantity": quantity, "received": 0} for sku, quantity in merged.items()])
        return po, [DomainEvent("PurchaseOrderCreated", {
            "purchase_order_id": purchase_order_id, "location_id": location_id, "expected_at": expected_at,
            "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in po.lines]})]

    def inbound(self) -> dict[str, int]:
        """Units still expected, by SKU."""
        return {line["sku"]: max(0, line["quantity"] - line["received"]) for line in self.lines}

    def receive(self, receipt_id: str, received: list[dict]) -> tuple[dict[str, tuple[int, int]], list[DomainEvent]]:
        """Units arrived: {sku: (units on hand now, units no longer inbound)} and the events. A
        supplier may send more than ordered (all of it goes on hand) or a SKU not ordered; the
        order closes when every line has arrived."""
        if receipt_id in self.receipts:
            return {}, []
        if self.status != "open":
            raise OrderRuleViolation("purchase_order_closed", f"purchase order {self.purchase_order_id} is closed")
        moves: dict[str, tuple[int, int]] = {}
        for item in received:
            line = next((x for x in self.lines if x["sku"] == item["sku"]), None)
            if line is None:
                line = {"sku": item["sku"], "quantity": 0, "received": 0}
                self.lines.append(line)
            landed = min(item["quantity"], max(0, line["quantity"] - line["received"]))
            on_hand, was_inbound = moves.get(item["sku"], (0, 0))
            moves[item["sku"]] = (on_hand + item["quantity"], was_inbound + landed)
            line["received"] += item["quantity"]
        self.receipts.append(receipt_id)
        events = [DomainEvent("PurchaseOrderReceived", {
            "purchase_order_id": self.purchase_order_id, "receipt_id": receipt_id, "location_id": self.location_id,
            "lines": [{"sku": sku, "quantity": on_hand} for sku, (on_hand, _) in moves.items()]})]
        if all(line["received"] >= line["quantity"] for line in self.lines):
            self.status = "closed"
            events.append(DomainEvent("PurchaseOrderClosed", {"purchase_order_id": self.purchase_order_id,
                                                              "reason": "received", "short": []}))
        return moves, events

    def close(self, reason: str) -> tuple[dict[str, int], list[DomainEvent]]:
        """The supplier will send no more: what is still expected stops counting as inbound.
        Returns those units by SKU, and the events (none when it was closed already)."""
        if self.status == "closed":
            return {}, []
        short = {sku: units for sku, units in self.inbound().items() if units}
        self.status = "closed"
        return short, [DomainEvent("PurchaseOrderClosed", {
            "purchase_order_id": self.purchase_order_id, "reason": reason,
            "short": [{"sku": sku, "quantity": units} for sku, units in short.items()]})]

    def view(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in ("request_hash", "history_length")}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PurchaseOrder:
        return cls(**data)


@dataclass
class Transfer:
    transfer_id: str
    sku: str
    from_location_id: str
    to_location_id: str
    quantity: int
    created_at: str
    status: str = "in_transit"  # in_transit | received
    received_at: str | None = None
    history_length: int = 0
    request_hash: str | None = None  # of the request that sent it, when it came with an Idempotency-Key

    @classmethod
    def send(cls, transfer_id: str, sku: str, from_location_id: str, to_location_id: str, quantity: int,
             available: int, now: str) -> tuple[Transfer, list[DomainEvent]]:
        """Units leave the source at once, out of what it has available (never its reservations)."""
        if from_location_id == to_location_id:
            raise OrderRuleViolation("same_location", "a transfer goes from one location to another")
        if quantity > available:
            raise OrderRuleViolation("insufficient_stock", f"{from_location_id} has {available} unit(s) of {sku} "
                                                           f"available")
        transfer = cls(transfer_id, sku, from_location_id, to_location_id, quantity, now)
        return transfer, [DomainEvent("TransferCreated", transfer._data())]

    def receive(self, now: str) -> list[DomainEvent]:
        if self.status == "received":
            return []
        self.status, self.received_at = "received", now
        return [DomainEvent("TransferReceived", self._data())]

    def _data(self) -> dict:
        return {"transfer_id": self.transfer_id, "sku": self.sku, "from_location_id": self.from_location_id,
                "to_location_id": self.to_location_id, "quantity": self.quantity}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def view(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in ("request_hash", "history_length")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transfer:
        return cls(**data)
