"""Cancelling what has not shipped, the money that follows, and channel-held payments."""
import pytest

from oms.domain.order import Allocation, OrderRuleViolation
from tests.unit.builders import (
    NOW,
    allocated,
    authorize,
    canonical_payload,
    checkpoint,
    event_types,
    make_order,
    order_from_payload,
    ready_to_ship,
    ship_all,
    validated,
)

LINES = [("SKU-A", 2, "10.00"), ("SKU-B", 1, "25.50")]  # merchandise 45.50, shipping 5.00, tax 2.00


def test_cancelling_an_unshipped_order_gives_every_reservation_back():
    order = allocated(make_order(LINES), "W1")
    authorize(order)
    events, released = order.cancel(None, reason="customer changed their mind", source="channel")
    assert event_types(events) == ["OrderLinesCancelled", "OrderCancelled"]
    assert [(a.sku, a.location_id, a.quantity) for a in released] == [("SKU-A", "W1", 2), ("SKU-B", "W1", 1)]
    assert events[0].data["lines"] == [
        {"line_id": "L1", "sku": "SKU-A", "quantity": 2, "channel_line_id": None},
        {"line_id": "L2", "sku": "SKU-B", "quantity": 1, "channel_line_id": None}]
    assert events[0].data["amount_due"] == 0
    assert order.status == "cancelled" and order.allocations == []
    assert [(line.cancelled, line.allocated) for line in order.lines] == [(2, 0), (1, 0)]
    assert order.void_due()


def test_cancelling_twice_changes_nothing_the_second_time():
    order = allocated(make_order(LINES))
    order.cancel(None, reason="r", source="channel")
    assert order.cancel(None, reason="r", source="channel") == ([], [])


def test_only_units_not_shipped_are_cancelled_and_shipped_ones_are_kept():
    order = ready_to_ship(make_order(LINES))
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    events, released = order.cancel(None, reason="r", source="operator")
    assert [(a.sku, a.quantity) for a in released] == [("SKU-A", 1), ("SKU-B", 1)]
    assert [(line.open_quantity, line.shipped) for line in order.lines] == [(1, 1), (0, 0)]
    assert event_types(events) == ["OrderLinesCancelled"]  # one unit shipped: the order is not cancelled
    assert order.status == "shipped"
    fo = order.fulfillment_orders[0]
    assert [(fl["quantity"], fl["shipped"]) for fl in fo.lines] == [(1, 1), (0, 0)]
    assert fo.status == "shipped"


def test_a_line_cannot_lose_more_units_than_are_unshipped():
    order = ready_to_ship(make_order(LINES))
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    with pytest.raises(OrderRuleViolation) as error:
        order.cancel({"L1": 2}, reason="r", source="operator")
    assert error.value.code == "quantity_exceeds_cancellable"
    with pytest.raises(OrderRuleViolation):
        order.cancel({"L9": 1}, reason="r", source="operator")
    assert order.lines[0].cancelled == 0


def test_unreserved_units_are_cancelled_before_reserved_ones():
    order = validated(make_order(LINES))
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 1), Allocation("L2", "SKU-B", "W1", 1)])
    assert "backorder" in order.hold_types()
    events, released = order.cancel({"L1": 1}, reason="out of stock", source="operator")
    assert released == []  # the backordered unit had no stock behind it
    assert event_types(events) == ["OrderLinesCancelled", "HoldReleased", "OrderAllocated"]
    assert order.fully_allocated and not order.hold_types()


def test_amount_due_keeps_shipping_and_drops_the_cancelled_share_of_the_rest():
    order = allocated(make_order(LINES))  # total 5250: merchandise 4550, shipping 500, tax 200
    order.cancel({"L2": 1}, reason="r", source="operator")
    # 2550 of 4550 merchandise cancelled: (5250 - 500) * 2550 // 4550 = 2662 comes off.
    assert order.amount_due == 5250 - 2662


def test_after_a_partial_cancel_the_last_shipment_captures_exactly_what_is_due():
    order = ready_to_ship(make_order(LINES))
    order.cancel({"L2": 1}, reason="r", source="operator")
    ship_all(order, "O-1-F1", "1Z1")
    assert order.capture_due() == order.amount_due
    order.record_capture(amount=order.capture_due(), capture_id="c1", idempotency_key="k1", shipment_id="s",
                         now=NOW)
    assert order.payment.captured == order.amount_due < order.payment.authorized
    assert order.capture_due() == 0


def test_cancelling_the_rest_after_a_partial_shipment_makes_the_shipped_part_capturable():
    order = ready_to_ship(make_order(LINES))
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-B", "quantity": 1}])
    first = order.capture_due()
    order.record_capture(amount=first, capture_id="c1", idempotency_key="k1", shipment_id="s", now=NOW)
    order.cancel(None, reason="r", source="operator")
    rest = order.capture_due()
    assert rest > 0 and first + rest == order.amount_due
    assert not order.void_due()  # something was captured: nothing to void


def test_a_void_is_recorded_once():
    order = allocated(make_order(LINES))
    authorize(order)
    order.cancel(None, reason="r", source="operator")
    events = order.record_void(idempotency_key="k:void", now=NOW)
    assert event_types(events) == ["PaymentVoided"] and order.payment.status == "voided"
    assert order.record_void(idempotency_key="k:void", now=NOW) == []


def test_a_cancelled_order_drops_its_holds():
    order = validated(make_order(LINES))
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 1)])
    events, _ = order.cancel(None, reason="r", source="channel")
    assert event_types(events) == ["OrderLinesCancelled", "HoldReleased", "OrderCancelled"]
    assert order.holds == [] and order.status == "cancelled"


# ---- payments the channel takes ---------------------------------------------------------------

def channel_order(status: str):
    return allocated(make_order(LINES, payment={"method": "channel", "status": status, "reference": "gid-1"}))


def test_a_paid_channel_order_is_recorded_as_paid():
    order = channel_order("paid")
    events = order.record_prepaid(NOW)
    assert events[0].data == {"amount": order.total, "currency": "USD", "reference": "gid-1", "kind": "paid"}
    assert (order.payment.status, order.payment.captured) == ("paid", order.total)


def test_an_authorisation_held_by_the_channel_lets_the_order_ship_without_our_capture():
    order = channel_order("authorized")
    events = order.record_prepaid(NOW)
    assert events[0].data["kind"] == "authorized"
    assert order.payment.status == "channel_authorized" and order.payment.captured == 0
    assert event_types(order.create_fulfillment_orders()) == ["FulfillmentOrderCreated"]
    ship_all(order, "O-1-F1", "1Z1")
    assert order.capture_due() == 0  # the channel captures its own authorisation


def test_an_unpaid_channel_order_waits_until_the_channel_reports_it_paid():
    order = channel_order("pending")
    events = order.record_prepaid(NOW)
    assert event_types(events) == ["OrderHeld"] and order.hold_types() == {"awaiting_payment"}
    events = order.record_channel_paid(NOW)
    assert event_types(events) == ["ChannelPaymentReported", "HoldReleased", "PaymentRecorded"]
    assert order.payment.status == "paid" and not order.holds
    assert order.record_channel_paid(NOW) == []


def test_an_operator_can_confirm_a_channel_payment_that_arrived_another_way():
    order = channel_order("pending")
    order.record_prepaid(NOW)
    events = order.release_hold("awaiting_payment", "bank transfer seen", NOW)
    assert event_types(events) == ["ChannelPaymentReported", "HoldReleased", "PaymentRecorded"]
    assert events[1].data["reason"] == "released by an operator: bank transfer seen"
    assert order.payment.status == "paid"


def test_a_channel_payment_reported_before_the_payment_step_is_remembered():
    order = validated(make_order(LINES, payment={"method": "channel", "status": "pending"}))
    assert event_types(order.record_channel_paid(NOW)) == ["ChannelPaymentReported"]
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 2), Allocation("L2", "SKU-B", "W1", 1)])
    assert event_types(order.record_prepaid(NOW)) == ["PaymentRecorded"]


# ---- lines the channel delivers itself ----------------------------------------------------------

def test_a_gift_card_line_is_complete_from_the_start_and_never_reaches_a_warehouse():
    payload = canonical_payload([("SKU-A", 1, "10.00"), ("GIFT-25", 1, "25.00")])
    payload["lines"][1]["requires_shipping"] = False
    order = order_from_payload(payload)
    gift = order.lines[1]
    assert (gift.allocated, gift.shipped, gift.delivered, gift.status) == (1, 1, 1, "delivered")
    assert order.status == "received"
    ready_to_ship(order)
    assert [fl["sku"] for fo in order.fulfillment_orders for fl in fo.lines] == ["SKU-A"]
    assert order.status == "processing"
    ship_all(order, "O-1-F1", "1Z1")
    assert order.status == "shipped"
    assert order.capture_due() == order.total


def test_cancelling_the_rest_of_a_partly_delivered_order_delivers_it():
    order = ready_to_ship(make_order(LINES))
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 2}])
    order.apply_tracking("1Z1", {"checkpoints": [checkpoint("delivered", "2024-05-03T15:00:00Z")]})
    assert order.status == "partially_delivered"
    events, _ = order.cancel(None, reason="r", source="operator")
    assert event_types(events) == ["OrderLinesCancelled", "OrderDelivered"]
    assert events[1].data == {"delivered_at": "2024-05-03T15:00:00Z"}
    assert order.status == "delivered"


def test_cancelling_the_goods_of_an_order_with_a_gift_card_does_not_crash():
    payload = canonical_payload([("SKU-A", 1, "10.00"), ("GIFT-25", 1, "25.00")])
    payload["lines"][1]["requires_shipping"] = False
    order = allocated(order_from_payload(payload))
    events, released = order.cancel(None, reason="r", source="channel")
    assert event_types(events) == ["OrderLinesCancelled"]  # the gift card stays delivered
    assert [(a.sku, a.quantity) for a in released] == [("SKU-A", 1)]
    assert order.status == "delivered"


def test_a_discounted_line_shipped_then_the_rest_cancelled_never_captures_more_than_is_due():
    # A 100.00 with 50.00 off, B 100.00; no shipping or tax: the order is worth 150.00.
    payload = canonical_payload([("SKU-A", 1, "100.00"), ("SKU-B", 1, "100.00")], shipping="0", tax="0",
                                discount="50.00")
    payload["lines"][0]["discount"] = "50.00"
    order = ready_to_ship(order_from_payload(payload))
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    assert order.capture_due() == 5000  # A's own worth, not half the order
    order.record_capture(amount=5000, capture_id="c1", idempotency_key="k1", shipment_id="s", now=NOW)
    order.cancel(None, reason="r", source="operator")
    assert order.amount_due == 5000 and order.capture_due() == 0


def test_a_line_discounted_below_nothing_counts_as_worth_nothing():
    payload = canonical_payload([("SKU-A", 1, "10.00"), ("SKU-B", 1, "10.00")], shipping="0", tax="0",
                                discount="10.00")
    payload["lines"][0]["discount"] = "15.00"  # more than the line: the channel's data is odd
    order = allocated(order_from_payload(payload))
    order.cancel({"L1": 1}, reason="r", source="operator")
    assert order.amount_due <= order.total


def test_an_authorisation_is_recorded_for_the_amount_planned_even_if_a_cancellation_came_between():
    order = allocated(make_order(LINES))
    assert order.plan_authorization()
    planned = dict(order.payment.pending_authorization)
    assert not order.plan_authorization()  # one decision at a time
    order.cancel(None, reason="r", source="operator")
    events = order.record_authorization(approved=True, authorization_id="auth_1", decline_code=None,
                                        idempotency_key=planned["idempotency_key"], now=NOW)
    assert events[0].data["amount"] == planned["amount"] == 5250
    assert order.void_due()  # the card is held for a cancelled order: give it back


def test_a_capture_the_processor_refuses_for_good_holds_the_order_for_an_operator():
    order = ready_to_ship(make_order(LINES))
    ship_all(order, "O-1-F1", "1Z1")
    assert order.plan_capture("O-1-F1-S1")
    key = order.payment.pending_capture["idempotency_key"]
    events = order.record_capture_failure(idempotency_key=key, reason="authorization_expired", now=NOW)
    # The authorisation can no longer be captured: what it held is given up in the ledger.
    assert event_types(events) == ["PaymentVoided", "OrderHeld"] and order.hold_types() == {"capture_failed"}
    assert order.payment.pending_capture is None and order.payment.authorized == 0
    order.payment.check_invariants()
    order.release_hold("capture_failed", "customer confirmed the card", NOW)
    assert (order.payment.status, order.payment.authorization_id) == ("pending", None)
    assert order.plan_authorization()  # authorise again what was not captured
    assert order.payment.pending_authorization == {"idempotency_key": "O-1:authorize:2", "amount": order.total,
                                                   "off_session": True}
    order.record_authorization(approved=True, authorization_id="auth_2", decline_code=None,
                               idempotency_key="O-1:authorize:2", now=NOW)
    assert order.plan_capture(None)
    assert order.payment.pending_capture["idempotency_key"] != key  # a new attempt, a new key



def test_an_unanswered_authorisation_is_asked_again_under_the_same_key_and_a_refused_one_under_a_new():
    order = allocated(make_order(LINES))
    order.plan_authorization()
    first = order.payment.pending_authorization["idempotency_key"]
    order.record_payment_failure("timeout", first, NOW)
    order.release_hold("payment_error", "processor is back", NOW)
    order.plan_authorization()
    assert order.payment.pending_authorization["idempotency_key"] == first  # it may have authorised
    order.record_payment_failure("invalid_request", first, NOW, refused=True)
    order.release_hold("payment_error", "fixed", NOW)
    order.plan_authorization()
    assert order.payment.pending_authorization["idempotency_key"] != first


def test_goods_worth_less_than_shipping_never_make_a_cancellation_raise_what_is_due():
    order = allocated(make_order([("SKU-A", 2, "5.00")], shipping="20.00", tax="0", discount="20.00"))
    assert order.total == 1000
    order.cancel({"L1": 1}, reason="r", source="operator")
    assert order.amount_due <= order.total
