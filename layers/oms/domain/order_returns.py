"""What an order knows of its returns: which delivered units open returns claim (so no unit
is returned twice), which came back, and what they are refunded. Part of Order (mixed in, see
order.py); the return itself is its own aggregate (returns.py).

Money: a unit is refunded at what it was worth (its line's value after its discounts, with its
tax: the worth captures use), less the restocking fee for the customer's reasons; a missing unit
is not refunded. Units of a line are refunded so that n of them always come to floor(worth * n)
however many receipts they arrive in, so nothing drifts by a cent over many units. When every
unit of a delivery group has come back for the merchant's reasons, its shipping is refunded too."""
from __future__ import annotations

from fractions import Fraction

from .events import DomainEvent
from .fulfillment import _moment
from .holds import OrderRuleViolation
from .returns import MERCHANT_FAULT, REASONS, Return, ReturnLine

# A return's statuses in the order they come; the last three end it.
RETURN_PROGRESS = ("requested", "approved", "in_transit", "received", "closed", "declined", "cancelled")


class OrderReturns:
    """Mixed into Order: uses its lines, shipments, totals and payment."""

    # ---- what can come back -----------------------------------------------------------------------
    def claimed_by_returns(self, line_id: str) -> int:
        return sum(claim["lines"].get(line_id, 0) for claim in self.returns.values())

    def returnable(self, line_id: str) -> int:
        """Delivered units not returned yet, nor refunded otherwise, nor claimed by an open return."""
        line = self.line(line_id)
        return min(line.delivered - line.returned, self.refundable_units(line_id)) - self.claimed_by_returns(line_id)

    def last_delivery(self, line_id: str) -> str | None:
        moments = [s.delivered_at for _, s in self.shipments()
                   if s.delivered_at and any(item["line_id"] == line_id for item in s.lines)]
        return max(moments, key=_moment) if moments else None

    @property
    def return_status(self) -> str:
        returned = sum(line.returned for line in self.lines)
        if not returned:
            return "none"
        return "returned" if all(line.returned == line.open_quantity for line in self.open_lines()) \
            else "partially_returned"

    # ---- opening a return --------------------------------------------------------------------------
    def open_return(self, requested: list[dict], *, return_id: str, rma_number: str, source: str, now: str,
                    window_days: int, ship_replacement: str, restocking_fee_percent: str,
                    returnless_below: int, auto_approve: bool) -> tuple[Return, list[DomainEvent]]:
        """Check the request against what was delivered, the window and the reasons; claim the
        units on the order; return the new return and its events (requested, approved)."""
        if not any(line.delivered for line in self.lines):
            raise OrderRuleViolation("nothing_returnable", "nothing of this order has been delivered")
        wanted: dict[str, int] = {}
        lines = []
        for item in requested:
            line_id = item.get("line_id") or self._line_for_sku(item.get("sku"))
            if line_id not in {line.line_id for line in self.lines}:
                raise OrderRuleViolation("unknown_line", f"the order has no line {line_id}")
            if item["reason"] not in REASONS:
                raise OrderRuleViolation("invalid_reason", f"reason must be one of {', '.join(REASONS)}")
            wanted[line_id] = wanted.get(line_id, 0) + item["quantity"]
            if wanted[line_id] > self.returnable(line_id):
                raise OrderRuleViolation("quantity_exceeds_returnable",
                                         f"line {line_id}: {self.returnable(line_id)} unit(s) can be returned")
            delivered = self.last_delivery(line_id)
            if delivered and (_moment(now) - _moment(delivered)).days >= window_days:
                raise OrderRuleViolation("return_window_closed",
                                         f"line {line_id} was delivered more than {window_days} days ago")
            exchange = item.get("exchange_for")
            if exchange:
                quantity = exchange.get("quantity") or item["quantity"]
                exchange = {"sku": exchange["sku"], "quantity": quantity,
                            "unit_price": self._replacement_price(line_id, exchange.get("unit_price")),
                            "even": exchange.get("unit_price") is None and quantity == item["quantity"]}
            lines.append(ReturnLine(line_id, self.line(line_id).sku, item["quantity"], item["reason"],
                                    item.get("note"), exchange))
        ret = Return(return_id, rma_number, self.order_id, self.order_number, self.currency, "requested", source,
                     now, lines, ship_replacement=ship_replacement, restocking_fee_percent=restocking_fee_percent,
                     channel=self.channel)
        everything = [{"line_id": line.line_id, "reason": line.reason, "sellable": line.quantity,
                       "exchanged": line.exchange_for is not None} for line in lines]
        for line, worth in zip(lines, self._units_worth(everything), strict=True):
            if line.exchange_for:
                line.exchange_for["credit"] = worth
        ret.refund_estimate = self.return_refund(everything, restocking_fee_percent) + ret.exchange_refund
        ret.returnless = (bool(returnless_below) and ret.refund_estimate < returnless_below
                          and not any(line.exchange_for for line in lines))  # an exchange needs the unit back
        self.returns[return_id] = {"rma_number": rma_number, "status": "requested", "lines": dict(wanted),
                                   "requested": dict(wanted), "receipts": []}
        events = [DomainEvent("ReturnRequested", {
            "return_id": return_id, "rma_number": rma_number, "order_id": self.order_id, "source": source,
            "lines": [{"line_id": line.line_id, "sku": line.sku, "quantity": line.quantity, "reason": line.reason}
                      for line in lines],
            "refund_estimate": ret.refund_estimate, "currency": self.currency})]
        # A customer's exchange at a price or quantity of their own is checked by an operator:
        # the OMS keeps no price list to hold it against.
        priced = any(line.exchange_for and not line.exchange_for["even"] for line in lines)
        if source == "operator" or (auto_approve and not priced):
            events += ret.approve(now)  # the order learns of the rest (received, closed) from the events
            self.returns[return_id]["status"] = "approved"
        return ret, events

    def _replacement_price(self, line_id: str, given: str | None) -> int:
        """A replacement unit costs what the channel's price says (given), else what a returned
        unit was worth (an even exchange: the OMS keeps no price list)."""
        from .money import MoneyError, to_minor

        if given is None:
            return int(self.unit_values()[line_id] + Fraction(1, 2))
        try:
            return to_minor(given, self.currency)
        except MoneyError as error:
            raise OrderRuleViolation("invalid_exchange", f"exchange_for.unit_price: {error}") from None

    def _line_for_sku(self, sku: str | None) -> str | None:
        candidates = [line for line in self.lines if line.sku == sku]
        if not candidates:
            raise OrderRuleViolation("unknown_sku", f"the order has no line for SKU {sku}")
        # The line with the most left to return, so a SKU on two lines is returned from either.
        return max(candidates, key=lambda line: self.returnable(line.line_id)).line_id

    # ---- money ------------------------------------------------------------------------------------
    def return_refund(self, received: list[dict], fee_percent: str) -> int:
        """What units arriving now are refunded: [{"line_id", "reason", "sellable", "damaged",
        "missing"}] (missing units are not refunded), with the shipping they make refundable."""
        fee = Fraction(fee_percent) / 100
        amount = 0
        for item, worth in zip(received, self._units_worth(received), strict=True):
            if item.get("exchanged"):  # what the units were worth pays for their replacement,
                amount += item.get("exchange_refund", 0)  # less what a cheaper one leaves over
                continue
            amount += worth - (int(worth * fee) if item["reason"] not in MERCHANT_FAULT else 0)
        groups = self._groups_fully_returned_for_merchant_reasons(received)
        return amount + sum(g.shipping_total for g in self.delivery_groups if g.group_id in groups)

    def _units_worth(self, received: list[dict]) -> list[int]:
        """What each item's units that came back (not missing) are worth, counted on from the
        units of its line returned before."""
        values = self.unit_values()
        before = {line.line_id: line.returned for line in self.lines}
        worths = []
        for item in received:
            units = item.get("sellable", 0) + item.get("damaged", 0) + item.get("kept", 0)
            value, done = values[item["line_id"]], before[item["line_id"]]
            worths.append(int(value * (done + units)) - int(value * done))
            before[item["line_id"]] = done + units
        return worths

    def _groups_fully_returned_for_merchant_reasons(self, received: list[dict]) -> set[str]:
        """Delivery groups whose every unit is back, none for the customer's reasons, once these
        units are counted (and whose shipping was not refunded before)."""
        returned = {line.line_id: line.returned for line in self.lines}
        customer = {line.line_id: line.returned_for_customer_reasons for line in self.lines}
        for item in received:
            units = item.get("sellable", 0) + item.get("damaged", 0) + item.get("kept", 0)
            returned[item["line_id"]] += units
            if item["reason"] not in MERCHANT_FAULT or item.get("exchanged"):
                customer[item["line_id"]] += units  # no shipping back for these (a replacement ships)
        touched = {self.line(item["line_id"]).delivery_group for item in received}
        groups = set()
        for group_id in touched - set(self.shipping_returned):
            lines = [line for line in self.open_lines() if line.delivery_group == group_id]
            if lines and all(returned[line.line_id] == line.open_quantity and not customer[line.line_id]
                             for line in lines):
                groups.add(group_id)
        return groups

    def receipt_applied(self, return_id: str, receipt: int) -> bool:
        return receipt in self.returns.get(return_id, {}).get("receipts", [])

    def record_returned(self, return_id: str, received: list[dict], fee_percent: str,
                        receipt: int | None = None) -> tuple[int, dict, int]:
        """Units of a return arrived: count them returned and release their claim (once per
        receipt). Returns what to refund, the units it is for ({line_id: n}) and the shipping
        it includes."""
        if receipt is not None:
            if self.receipt_applied(return_id, receipt):
                return 0, {}, 0
            self.returns.setdefault(return_id, {"lines": {}}).setdefault("receipts", []).append(receipt)
        amount = self.return_refund(received, fee_percent)
        groups = self._groups_fully_returned_for_merchant_reasons(received)
        claim = self.returns.get(return_id, {"lines": {}})
        units: dict[str, int] = {}
        for item in received:
            came = item.get("sellable", 0) + item.get("damaged", 0) + item.get("kept", 0)
            line = self.line(item["line_id"])
            line.returned += came
            if item["reason"] not in MERCHANT_FAULT or item.get("exchanged"):
                line.returned_for_customer_reasons += came
            if came:
                units[line.line_id] = units.get(line.line_id, 0) + came
            arrived = came + item.get("missing", 0)
            claim["lines"][line.line_id] = max(0, claim["lines"].get(line.line_id, 0) - arrived)
        self.shipping_returned.extend(sorted(groups))
        return amount, units, sum(g.shipping_total for g in self.delivery_groups if g.group_id in groups)

    def record_return_status(self, return_id: str, status: str, unreceived: dict[str, int] | None = None) -> bool:
        """The return moved on (its events may arrive in any order: a status never moves back).
        A declined or cancelled one claims nothing any more; a closed one gives back the units
        that never came (`unreceived`): those that came are released as their receipt is applied."""
        claim = self.returns.get(return_id)
        if claim is None or RETURN_PROGRESS.index(status) <= RETURN_PROGRESS.index(claim["status"]):
            return False
        claim["status"] = status
        if status in ("declined", "cancelled"):
            claim["lines"] = {}
        elif status == "closed":
            for line_id, units in (unreceived or {}).items():
                claim["lines"][line_id] = max(0, claim["lines"].get(line_id, 0) - units)
        return True
