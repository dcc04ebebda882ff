"""Returns in the domain: what may come back, and what each receipt refunds, to the cent."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.domain.order import OrderRuleViolation
from tests.unit.builders import NOW, make_order, ready_to_ship, units

DELIVERED = "2024-05-03T10:00:00Z"


def delivered(order):
    """Ship and deliver every fulfilment order, capturing what is due."""
    for n, fo in enumerate(order.fulfillment_orders, start=1):
        order.ship(fo.fulfillment_order_id, carrier="ups", tracking_number=f"1Z{n}", service="ground",
                   lines=None, now=NOW)
        order.apply_tracking(f"1Z{n}", {"checkpoints": [{"status": "delivered", "occurred_at": DELIVERED,
                                                         "description": "", "location": ""}]})
    amount = order.capture_due()
    order.record_capture(amount=amount, capture_id="ch_1", idempotency_key="k:capture:1", shipment_id=None, now=NOW)
    return order


def open_return(order, lines, *, now="2024-05-10T10:00:00Z", source="customer", fee="0", returnless=0,
                auto_approve=True, return_id="r1"):
    return order.open_return(lines, return_id=return_id, rma_number=f"RMA-{return_id}", source=source, now=now,
                             window_days=30, ship_replacement="after_receipt", restocking_fee_percent=fee,
                             returnless_below=returnless, auto_approve=auto_approve)


def test_a_customer_return_within_policy_is_approved_and_claims_its_units():
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00"), ("SKU-B", 1, "25.50")])))
    ret, events = open_return(order, [{"line_id": "L1", "quantity": 1, "reason": "size_too_small"}])
    assert [e.event_type for e in events] == ["ReturnRequested", "ReturnApproved"] and ret.status == "approved"
    assert order.returnable("L1") == 1 and order.returns["r1"]["lines"] == {"L1": 1}
    with pytest.raises(OrderRuleViolation) as error:
        open_return(order, [{"line_id": "L1", "quantity": 2, "reason": "changed_mind"}], return_id="r2")
    assert error.value.code == "quantity_exceeds_returnable"


@pytest.mark.parametrize(("lines", "now", "code"), [
    ([{"line_id": "L9", "quantity": 1, "reason": "damaged"}], "2024-05-10T10:00:00Z", "unknown_line"),
    ([{"sku": "NOPE", "quantity": 1, "reason": "damaged"}], "2024-05-10T10:00:00Z", "unknown_sku"),
    ([{"line_id": "L1", "quantity": 1, "reason": "bored"}], "2024-05-10T10:00:00Z", "invalid_reason"),
    ([{"line_id": "L1", "quantity": 3, "reason": "damaged"}], "2024-05-10T10:00:00Z", "quantity_exceeds_returnable"),
    ([{"line_id": "L1", "quantity": 1, "reason": "damaged"}], "2024-06-02T10:00:01Z", "return_window_closed"),
])
def test_a_return_the_order_does_not_allow_is_refused_and_claims_nothing(lines, now, code):
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00")])))
    with pytest.raises(OrderRuleViolation) as error:
        open_return(order, lines, now=now)
    assert error.value.code == code and order.returns == {}


def test_nothing_delivered_nothing_returnable():
    order = ready_to_ship(make_order())
    with pytest.raises(OrderRuleViolation) as error:
        open_return(order, [{"line_id": "L1", "quantity": 1, "reason": "damaged"}])
    assert error.value.code == "nothing_returnable"


def test_a_line_may_be_named_by_its_sku():
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00"), ("SKU-B", 1, "25.50")])))
    ret, _ = open_return(order, [{"sku": "SKU-B", "quantity": 1, "reason": "wrong_item"}])
    assert ret.lines[0].line_id == "L2"


def test_a_unit_is_refunded_at_its_worth_with_discount_and_tax_less_the_fee_for_the_customers_reasons():
    # 2 x 10.00 + 1 x 30.00, 5.00 order discount, 4.00 tax, 5.00 shipping: total 54.00
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00"), ("SKU-B", 1, "30.00")],
                                               tax="4.00", discount="5.00")))
    values = order.unit_values()
    assert values["L1"] == Fraction(1000 * 4900, 5000)  # goods 49.00 shared by their own value 50.00
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": 2, "reason": "changed_mind"}], fee="10")
    assert ret.refund_estimate == 1960 - 196  # 9.80 a unit, 10 % restocking fee
    merchant = order.return_refund([{"line_id": "L2", "reason": "defective", "sellable": 1}], "10")
    assert merchant == 2940  # no fee for the merchant's fault; shipping only when the whole group is back


def test_missing_units_are_not_refunded_and_shipping_follows_a_whole_group_back_for_the_merchants_reasons():
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00")], tax="2.00")))  # total 27.00
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": 2, "reason": "damaged"}])
    events = ret.receive("WH1", units("L1", sellable=1, missing=1), NOW)
    amount, refunded_units, shipping = order.record_returned("r1", events[0].data["lines"], "0")
    assert (amount, refunded_units, shipping) == (1100, {"L1": 1}, 0)
    order.returns["r1"]["lines"] = {"L1": 1}  # a second return brings the missing unit
    amount, refunded_units, shipping = order.record_returned(
        "r1", [{"line_id": "L1", "reason": "damaged", "damaged": 1}], "0")
    assert (amount, shipping) == (1100 + 500, 500)  # the whole group is back: its shipping too
    assert order.return_status == "returned"


def test_many_units_in_many_receipts_come_to_the_cent():
    # 7 units whose worth is 100/7 each: receipt by receipt, never more than floor(worth * n)
    order = delivered(ready_to_ship(make_order([("SKU-A", 7, "1.00")], shipping="0", tax="0", discount="0",
                                               total="7.00")))
    order.total = 10000  # a worth of 100/7 a unit
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": 7, "reason": "damaged"}])
    paid = 0
    for _ in range(7):
        events = ret.receive("WH1", units("L1", sellable=1), NOW)
        paid += order.record_returned("r1", events[-1].data["lines"], "0")[0]
    assert paid == 10000


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipts=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 1)), max_size=8),
       fee=st.sampled_from(["0", "10", "12.5"]), reason=st.sampled_from(["damaged", "changed_mind"]))
def test_no_sequence_of_partial_receipts_refunds_more_than_captured_or_restocks_more_than_returned(
        receipts, fee, reason):
    order = delivered(ready_to_ship(make_order([("SKU-A", 3, "9.99"), ("SKU-B", 2, "0.35")], tax="1.17",
                                               discount="0.50")))
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": 3, "reason": reason},
                                 {"line_id": "L2", "quantity": 2, "reason": reason}], fee=fee)
    refunded = restocked = 0
    for sellable, damaged, missing in receipts:
        try:
            events = ret.receive("WH1", units("L1", sellable=sellable, damaged=damaged, missing=missing), NOW)
        except OrderRuleViolation:
            continue
        refunded += order.record_returned("r1", events[-1].data["lines"], fee)[0]
        restocked += sellable
    assert refunded <= order.payment.captured
    assert restocked <= ret.lines[0].quantity and order.line("L1").returned <= 3
    if not fee.strip("0") and reason == "damaged" and ret.lines[0].received == 3 and not ret.lines[0].missing:
        assert refunded == int(order.unit_values()["L1"] * 3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipts=st.lists(st.tuples(st.sampled_from(["L1", "L2"]), st.sampled_from(["sellable", "damaged", "missing"]),
                                   st.integers(1, 3)), max_size=8),
       prices=st.tuples(st.sampled_from([None, "0.01", "3.33", "9.99", "25.00"]),
                        st.sampled_from([None, "0.10", "0.35", "7.00"])),
       quantities=st.tuples(st.sampled_from([None, 1, 2, 5]), st.sampled_from([None, 1, 3])))
def test_no_exchange_refunds_more_than_its_units_were_worth_nor_more_than_captured(receipts, prices, quantities):
    order = delivered(ready_to_ship(make_order([("SKU-A", 3, "9.99"), ("SKU-B", 2, "0.35")], tax="1.17",
                                               discount="0.50")))
    lines = [{"line_id": line_id, "quantity": n, "reason": "size_too_small",
              "exchange_for": {"sku": "SKU-C", **({"unit_price": price} if price else {}),
                               **({"quantity": quantity} if quantity else {})}}
             for line_id, n, price, quantity in zip(("L1", "L2"), (3, 2), prices, quantities, strict=True)]
    ret, _ = open_return(order, lines, source="operator")
    refunded = 0
    for line_id, condition, quantity in receipts:
        try:
            events = ret.receive("WH1", units(line_id, **{condition: quantity}), NOW)
        except OrderRuleViolation:
            continue
        refunded += order.record_returned("r1", events[-1].data["lines"], "0")[0]
    assert refunded <= min(ret.exchange_refund, order.payment.captured)
    if ret.replacements_due() == "ship":  # everything came back: the whole difference, to the cent
        assert refunded == ret.exchange_refund
    even = [line for line in ret.lines if line.exchange_for["even"]]
    assert all(line.exchange_money() == (0, 0) for line in even)


def test_a_return_worth_less_than_the_threshold_is_refunded_at_approval_and_nothing_comes_back():
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "3.00")], shipping="5.00", tax="0")))
    ret, events = open_return(order, [{"line_id": "L1", "quantity": 1, "reason": "changed_mind"}], returnless=500)
    assert ret.returnless and [e.event_type for e in events] == [
        "ReturnRequested", "ReturnApproved", "ReturnReceived", "ReturnClosed"]
    received = events[2].data
    assert received["returnless"] and received["lines"][0]["kept"] == 1 and received["lines"][0]["sellable"] == 0
    assert order.record_returned("r1", received["lines"], "0")[0] == 300
    big, events = open_return(order, [{"line_id": "L1", "quantity": 1, "reason": "changed_mind"}], returnless=200,
                              return_id="r2")
    assert not big.returnless and [e.event_type for e in events][-1] == "ReturnApproved"


def test_a_receipt_is_applied_once_even_when_it_refunds_nothing():
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00")])))
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": 1, "reason": "size_too_small",
                                  "exchange_for": {"sku": "SKU-B"}}])
    lines = ret.receive("WH1", units("L1", sellable=1), NOW)[0].data["lines"]
    assert order.record_returned("r1", lines, "0", receipt=1)[0] == 0  # an even exchange refunds nothing
    order.record_returned("r1", lines, "0", receipt=1)  # the same event again
    assert order.line("L1").returned == 1


def test_an_exchange_is_never_returnless():
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00")])))
    ret, events = open_return(order, [{"line_id": "L1", "quantity": 1, "reason": "size_too_small",
                                       "exchange_for": {"sku": "SKU-B"}}], returnless=100000)
    assert not ret.returnless and events[-1].event_type == "ReturnApproved"
    assert ret.lines[0].exchange_for["quantity"] == 1  # as many as come back, unless asked otherwise


def untaxed(lines, **more):
    return delivered(ready_to_ship(make_order(lines, tax="0", **more)))


def exchange(order, quantity, unit_price=None, exchange_quantity=None, return_id="r1", source="operator"):
    wanted = {"sku": "SKU-B", **({"unit_price": unit_price} if unit_price else {}),
              **({"quantity": exchange_quantity} if exchange_quantity else {})}
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": quantity, "reason": "size_too_small",
                                  "exchange_for": wanted}], return_id=return_id, fee="10", source=source)
    return ret


def money(ret):
    return ret.exchange_credit, ret.exchange_charge, ret.exchange_refund, ret.refund_estimate


def test_an_even_exchange_moves_no_money_and_charges_no_restocking_fee():
    order = untaxed([("SKU-A", 3, "10.00")])
    assert money(exchange(order, 3)) == (3000, 0, 0, 0)


def test_an_even_exchange_moves_no_money_whatever_the_rounding():
    order = untaxed([("SKU-A", 3, "10.00")], discount="0.03")  # each unit worth 9.99 (and a third)
    ret = exchange(order, 3)
    assert ret.lines[0].exchange_for["unit_price"] == 999 and money(ret) == (2997, 0, 0, 0)


def test_a_dearer_exchange_costs_the_difference_and_refunds_nothing():
    order = untaxed([("SKU-A", 2, "10.00")])
    ret = exchange(order, 2, unit_price="12.50")
    assert money(ret) == (2000, 500, 0, 0)
    receipt = ret.receive("WH1", units("L1", sellable=2), NOW)[0].data
    assert receipt["lines"][0]["exchange_refund"] == 0
    assert order.record_returned("r1", receipt["lines"], "10", receipt=1)[0] == 0


def test_a_cheaper_exchange_refunds_the_difference_by_unit_as_units_arrive_and_none_for_missing_ones():
    order = untaxed([("SKU-A", 3, "10.00")])
    ret = exchange(order, 3, unit_price="6.67")  # 3 x 10.00 back, 3 x 6.67 out: 9.99 owed
    assert money(ret) == (3000, 0, 999, 999)
    shares = [ret.receive("WH1", units("L1", **{condition: 1}), NOW)[0].data["lines"][0]["exchange_refund"]
              for condition in ("sellable", "missing", "damaged")]
    assert shares == [333, 0, 333]  # the missing unit's third is never refunded


def test_each_exchange_line_settles_its_own_difference():
    order = untaxed([("SKU-A", 1, "100.00"), ("SKU-C", 1, "50.00")])
    ret, _ = open_return(order, [
        {"line_id": "L1", "quantity": 1, "reason": "size_too_small", "exchange_for": {"sku": "SKU-B"}},
        {"line_id": "L2", "quantity": 1, "reason": "size_too_small",
         "exchange_for": {"sku": "SKU-D", "unit_price": "10.00"}}], source="operator")
    assert money(ret) == (15000, 0, 4000, 4000)
    receipt = ret.receive("WH1", units("L1", sellable=1) + units("L2", missing=1), NOW)[0].data
    assert [item["exchange_refund"] for item in receipt["lines"]] == [0, 0]  # L2's difference did not come
    assert ret.replacements_due() == "operator"


def test_replacements_ship_once_every_exchanged_unit_is_back_and_are_cancelled_if_none_came():
    order = untaxed([("SKU-A", 2, "10.00"), ("SKU-C", 1, "5.00")])
    ret, _ = open_return(order, [
        {"line_id": "L1", "quantity": 2, "reason": "size_too_small", "exchange_for": {"sku": "SKU-B"}},
        {"line_id": "L2", "quantity": 1, "reason": "damaged"}], source="operator")
    ret.receive("WH1", units("L1", sellable=1), NOW)
    assert ret.replacements_due() == "wait"
    ret.receive("WH1", units("L1", sellable=1), NOW)
    assert ret.replacements_due() == "ship"  # the refunded line need not come first
    other, _ = open_return(untaxed([("SKU-C", 1, "5.00")]), [{"line_id": "L1", "quantity": 1, "reason": "other",
                                                              "exchange_for": {"sku": "SKU-B"}}], source="operator")
    other.receive("WH1", units("L1", missing=1), NOW)
    assert other.replacements_due() == "cancel"


def test_a_customers_exchange_at_their_own_price_or_quantity_waits_for_an_operator():
    order = untaxed([("SKU-A", 2, "10.00")])
    assert exchange(order, 1, source="customer").status == "approved"
    assert exchange(order, 1, unit_price="0.01", source="customer", return_id="r2").status == "requested"
    order = untaxed([("SKU-A", 2, "10.00")])
    assert exchange(order, 1, exchange_quantity=5, source="customer").status == "requested"


def test_an_exchange_may_replace_more_or_fewer_units_than_come_back():
    order = untaxed([("SKU-A", 2, "10.00")])
    assert money(exchange(order, 2, exchange_quantity=1)) == (2000, 0, 1000, 1000)
    assert money(exchange(untaxed([("SKU-A", 2, "10.00")]), 1, exchange_quantity=3)) == (1000, 2000, 0, 0)


def test_a_replacement_price_the_currency_cannot_hold_is_refused():
    order = untaxed([("SKU-A", 2, "10.00")])
    with pytest.raises(OrderRuleViolation) as error:
        exchange(order, 1, unit_price="10.001")
    assert error.value.code == "invalid_exchange" and order.returns == {}


def test_the_credit_is_what_the_units_were_worth_after_discounts_and_tax():
    order = untaxed([("SKU-A", 3, "10.00")], discount="3.00")
    assert money(exchange(order, 3, unit_price="10.00")) == (2700, 300, 0, 0)


def test_closing_gives_back_only_the_units_that_never_came():
    order = delivered(ready_to_ship(make_order([("SKU-A", 3, "10.00")])))
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": 3, "reason": "damaged"}])
    ret.receive("WH1", units("L1", sellable=1), NOW)  # its receipt not applied to the order yet
    closed = ret.close()[0].data
    assert closed["unreceived"] == [{"line_id": "L1", "quantity": 2}]
    order.record_return_status("r1", "closed", {"L1": 2})
    # The two that never came may come back another time; the received one stays claimed until
    # its receipt is applied (then it is returned).
    assert order.returnable("L1") == 2 and order.claimed_by_returns("L1") == 1


def test_one_delivery_at_a_time_tells_the_channel_about_a_return():
    order = delivered(ready_to_ship(make_order([("SKU-A", 2, "10.00")])))
    ret, _ = open_return(order, [{"line_id": "L1", "quantity": 1, "reason": "damaged"}])
    assert ret.claim_channel("first", NOW, 180)
    assert not ret.claim_channel("second", "2024-05-01T12:02:00Z", 180)
    assert ret.claim_channel("second", "2024-05-01T12:03:01Z", 180)  # the first one's lease ran out
