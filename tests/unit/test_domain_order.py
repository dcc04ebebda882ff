"""The order aggregate's state machine: validation, allocation, payment, fulfilment orders,
shipments, captures, tracking, derived statuses and the persistence shape."""
import json

import pytest

from oms.domain.order import (
    STATUSES,
    Allocation,
    Hold,
    Line,
    Order,
    OrderRuleViolation,
    Shipment,
)
from tests.unit.builders import (
    NOW,
    US_ADDRESS,
    allocated,
    authorize,
    capture_everything_due,
    event_types,
    full_allocation,
    make_order,
    paid,
    ready_to_ship,
    ship_all,
    tracking,
    validated,
)

# The default order: SKU-A 2 x 10.00, SKU-B 1 x 25.50, shipping 5.00, tax 2.00 -> total 52.50.
TOTAL = 5250


# ---- building ---------------------------------------------------------------------------------

def test_build_order_from_canonical_json():
    order = make_order()
    assert order.order_id == "O-1"
    assert order.external_id == "EXT-1"
    assert order.channel_order_number == "#EXT-1"
    assert order.placed_at == "2024-05-01T10:00:00Z"
    assert order.currency == "USD"
    assert [(line.line_id, line.sku, line.unit_price, line.ordered) for line in order.lines] == [
        ("L1", "SKU-A", 1000, 2), ("L2", "SKU-B", 2550, 1)]
    assert [line.delivery_group for line in order.lines] == ["g1", "g1"]
    [group] = order.delivery_groups
    assert (group.group_id, group.shipping_total, group.shipping_method) == ("g1", 500, "standard")
    assert group.shipping_address["postal_code"] == "10001"
    assert (order.merchandise_total, order.shipping_total, order.tax_total, order.total) == (4550, 500, 200, TOTAL)
    assert order.payment.method == "card" and order.payment.token == "tok_visa"
    assert order.payment.status == "pending"
    assert order.status == "received"
    assert not order.validated and not order.holds


# ---- validation -------------------------------------------------------------------------------

def test_problems_become_holds():
    order = make_order()
    events = order.record_validation([Hold("invalid_address", "postal code"), Hold("unknown_sku", "SKU-Z")])
    assert event_types(events) == ["OrderHeld", "OrderHeld"]
    assert [e.data for e in events] == [{"hold_type": "invalid_address", "detail": "postal code"},
                                        {"hold_type": "unknown_sku", "detail": "SKU-Z"}]
    assert order.hold_types() == {"invalid_address", "unknown_sku"}
    assert not order.validated
    assert order.status == "on_hold"
    assert not order.needs_allocation()


def test_no_problems_validates():
    order = make_order()
    events = order.record_validation([])
    assert event_types(events) == ["OrderValidated"]
    assert order.validated
    assert order.needs_allocation()
    assert order.status == "received"


def test_validating_twice_emits_nothing_the_second_time():
    order = make_order()
    assert order.record_validation([])
    assert order.record_validation([]) == []
    assert order.record_validation([Hold("invalid_customer", "late")]) == []
    assert not order.holds and order.validated


def test_held_order_is_not_validated_again():
    order = make_order()
    assert order.record_validation([Hold("totals_mismatch", "x")])
    assert order.record_validation([Hold("totals_mismatch", "x")]) == []
    assert order.record_validation([]) == []
    assert len(order.holds) == 1 and not order.validated


# ---- allocation -------------------------------------------------------------------------------

def test_full_allocation_reserves_and_allocates():
    order = validated(make_order())
    plan = full_allocation(order, "W1")
    events = order.record_allocation(plan)
    assert event_types(events) == ["InventoryReserved", "OrderAllocated"]
    assert events[0].data["reservations"] == [
        {"line_id": "L1", "sku": "SKU-A", "location_id": "W1", "quantity": 2},
        {"line_id": "L2", "sku": "SKU-B", "location_id": "W1", "quantity": 1}]
    assert events[1].data["allocations"] == events[0].data["reservations"]
    assert order.fully_allocated and not order.holds
    assert [line.allocated for line in order.lines] == [2, 1]
    assert [line.status for line in order.lines] == ["allocated", "allocated"]
    assert not order.needs_allocation()
    assert order.needs_payment()


def test_partial_allocation_keeps_reservation_and_holds_for_backorder():
    order = validated(make_order())
    events = order.record_allocation([Allocation("L1", "SKU-A", "W1", 1)])
    assert event_types(events) == ["InventoryReserved", "OrderHeld"]
    assert events[0].data["reservations"] == [{"line_id": "L1", "sku": "SKU-A", "location_id": "W1", "quantity": 1}]
    assert events[1].data["hold_type"] == "backorder"
    assert events[1].data["detail"] == "waiting for stock: SKU-A x1, SKU-B x1"
    assert order.hold_types() == {"backorder"}
    assert order.status == "on_hold"
    assert [line.status for line in order.lines] == ["partially_allocated", "open"]
    assert order.needs_allocation()   # a backorder hold does not stop more allocation
    assert not order.needs_payment()


def test_nothing_reserved_only_holds():
    order = validated(make_order())
    events = order.record_allocation([])
    assert event_types(events) == ["OrderHeld"]
    assert order.hold_types() == {"backorder"}
    assert order.allocations == []


def test_second_partial_allocation_keeps_the_single_backorder_hold():
    order = validated(make_order())
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 1)])
    events = order.record_allocation([Allocation("L1", "SKU-A", "W2", 1)])
    assert event_types(events) == ["InventoryReserved"]
    assert [h.type for h in order.holds] == ["backorder"]


def test_completing_a_backorder_releases_the_hold():
    order = validated(make_order())
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 1)])
    events = order.record_allocation([Allocation("L1", "SKU-A", "W1", 1), Allocation("L2", "SKU-B", "W2", 1)])
    assert event_types(events) == ["InventoryReserved", "HoldReleased", "OrderAllocated"]
    assert events[1].data == {"hold_type": "backorder", "reason": "stock reserved for every line"}
    assert not order.holds and order.fully_allocated
    # Reservations at the same (line, location) merge into one allocation.
    assert events[2].data["allocations"] == [
        {"line_id": "L1", "sku": "SKU-A", "location_id": "W1", "quantity": 2},
        {"line_id": "L2", "sku": "SKU-B", "location_id": "W2", "quantity": 1}]
    assert order.needs_payment()


def test_over_allocation_is_refused():
    order = validated(make_order())
    with pytest.raises(OrderRuleViolation) as error:
        order.record_allocation([Allocation("L1", "SKU-A", "W1", 3)])
    assert error.value.code == "over_allocation"
    assert order.line("L1").allocated == 0


def test_allocation_needs_a_validated_order_without_blocking_holds():
    order = make_order()
    assert not order.needs_allocation()        # not validated yet
    order.record_validation([])
    order.holds.append(Hold("fraud_review", "manual"))
    assert not order.needs_allocation()        # any hold but backorder blocks


def test_backorder_detail_adds_up_lines_of_the_same_sku():
    order = validated(make_order([("SKU-A", 2, "10.00"), ("SKU-A", 3, "10.00")]))
    events = order.record_allocation([])
    assert events[-1].data["detail"] == "waiting for stock: SKU-A x5"


# ---- payment ----------------------------------------------------------------------------------

def test_card_authorization_approved():
    order = allocated(make_order())
    events = order.record_authorization(approved=True, authorization_id="auth_1", decline_code=None,
                                        idempotency_key="O-1:authorize", now=NOW)
    assert event_types(events) == ["PaymentAuthorized"]
    assert events[0].data == {"amount": TOTAL, "currency": "USD", "authorization_id": "auth_1"}
    assert order.payment.status == "authorized"
    assert (order.payment.authorized, order.payment.captured) == (TOTAL, 0)
    assert order.payment.authorization_id == "auth_1"
    [tx] = order.payment.transactions
    assert (tx["type"], tx["status"], tx["amount"], tx["idempotency_key"]) == (
        "authorization", "succeeded", TOTAL, "O-1:authorize")
    assert order.status == "processing"
    assert not order.needs_payment()
    assert authorize(order) == []      # a second authorisation does nothing


def test_card_declined_holds_the_order():
    order = allocated(make_order())
    events = order.record_authorization(approved=False, authorization_id=None, decline_code="insufficient_funds",
                                        idempotency_key="O-1:authorize", now=NOW)
    assert event_types(events) == ["PaymentDeclined", "OrderHeld"]
    assert events[0].data == {"amount": TOTAL, "currency": "USD", "decline_code": "insufficient_funds"}
    assert events[1].data["hold_type"] == "payment_declined"
    assert "insufficient_funds" in events[1].data["detail"]
    assert order.payment.status == "declined"
    assert order.payment.authorized == 0
    assert order.payment.transactions[0]["status"] == "failed"
    assert order.payment.transactions[0]["failure"] == "declined"
    assert order.status == "on_hold"
    assert order.capture_due() == 0
    assert order.create_fulfillment_orders() == []


def test_processor_failure_holds_the_order():
    order = allocated(make_order())
    events = order.record_payment_failure("timeout", "O-1:authorize", NOW)
    assert event_types(events) == ["PaymentFailed", "OrderHeld"]
    assert events[0].data == {"amount": TOTAL, "currency": "USD", "reason": "timeout"}
    assert events[1].data["hold_type"] == "payment_error"
    assert order.payment.status == "failed"
    assert order.payment.transactions[0]["status"] == "failed"
    assert order.status == "on_hold"
    assert order.record_payment_failure("timeout", "O-1:authorize", NOW) == []


def test_prepaid_order_records_payment():
    order = allocated(make_order(payment={"method": "prepaid", "reference": "PAY-123"}))
    assert order.record_authorization(approved=True, authorization_id="a", decline_code=None,
                                      idempotency_key="k", now=NOW) == []
    events = order.record_prepaid(NOW)
    assert event_types(events) == ["PaymentRecorded"]
    assert events[0].data == {"amount": TOTAL, "currency": "USD", "reference": "PAY-123", "kind": "paid"}
    assert order.payment.status == "paid"
    assert order.payment.authorized == order.payment.captured == TOTAL
    assert [t["type"] for t in order.payment.transactions] == ["authorization", "capture"]
    assert order.payment.processor == "channel"
    assert order.status == "processing"
    assert order.record_prepaid(NOW) == []
    assert order.capture_due() == 0


def test_card_order_ignores_record_prepaid():
    order = allocated(make_order())
    assert order.record_prepaid(NOW) == []
    assert order.payment.status == "pending"


def test_no_payment_before_full_allocation():
    order = validated(make_order())
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 2)])
    assert not order.needs_payment()
    assert authorize(order) == []
    assert order.record_payment_failure("x", "k", NOW) == []
    assert order.payment.status == "pending"


# ---- fulfilment orders ------------------------------------------------------------------------

def split_order() -> Order:
    """Three lines in two delivery groups, sourced from two locations."""
    order = make_order([("SKU-A", 1, "10.00", "home"), ("SKU-B", 1, "20.00", "office"),
                        ("SKU-C", 2, "5.00", "home")],
                       delivery_groups=[
                           {"group_id": "home", "shipping_address": US_ADDRESS, "shipping_total": "5.00"},
                           {"group_id": "office", "shipping_address": {**US_ADDRESS, "line1": "2 Work St"},
                            "shipping_total": "7.00"}])
    validated(order)
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 1), Allocation("L2", "SKU-B", "W1", 1),
                             Allocation("L3", "SKU-C", "W1", 1), Allocation("L3", "SKU-C", "W2", 1)])
    authorize(order)
    return order


def test_one_fulfillment_order_per_location_and_delivery_group():
    order = split_order()
    events = order.create_fulfillment_orders()
    assert event_types(events) == ["FulfillmentOrderCreated"] * 3
    summary = [(fo.fulfillment_order_id, fo.location_id, fo.delivery_group, fo.status,
                [(fl["line_id"], fl["quantity"], fl["shipped"]) for fl in fo.lines])
               for fo in order.fulfillment_orders]
    assert summary == [
        ("O-1-F1", "W1", "home", "created", [("L1", 1, 0), ("L3", 1, 0)]),
        ("O-1-F2", "W1", "office", "created", [("L2", 1, 0)]),
        ("O-1-F3", "W2", "home", "created", [("L3", 1, 0)]),
    ]
    assert [e.data["fulfillment_order_id"] for e in events] == ["O-1-F1", "O-1-F2", "O-1-F3"]
    assert events[2].data["location_id"] == "W2" and events[2].data["delivery_group"] == "home"
    assert order.status == "processing"


def test_fulfillment_orders_are_created_once():
    order = ready_to_ship(make_order())
    assert len(order.fulfillment_orders) == 1
    assert order.create_fulfillment_orders() == []
    assert len(order.fulfillment_orders) == 1


def test_no_fulfillment_orders_before_payment_or_on_hold():
    order = allocated(make_order())
    assert order.create_fulfillment_orders() == []
    authorize(order)
    order.holds.append(Hold("fraud_review", "manual"))
    assert order.create_fulfillment_orders() == []
    order.holds.clear()
    assert event_types(order.create_fulfillment_orders()) == ["FulfillmentOrderCreated"]


def test_prepaid_order_gets_fulfillment_orders():
    order = ready_to_ship(make_order(payment={"method": "prepaid", "reference": "PAY-1"}))
    assert [fo.fulfillment_order_id for fo in order.fulfillment_orders] == ["O-1-F1"]


def test_fulfillment_order_created_event_is_a_snapshot():
    order = paid(make_order())
    [created] = order.create_fulfillment_orders()
    ship_all(order, "O-1-F1", "1Z1")
    assert [fl["shipped"] for fl in created.data["lines"]] == [0, 0]


# ---- shipping ---------------------------------------------------------------------------------

def test_ship_everything():
    order = ready_to_ship(make_order())
    shipment, events = ship_all(order, "O-1-F1", "1Z1")
    assert isinstance(shipment, Shipment)
    assert (shipment.shipment_id, shipment.status, shipment.carrier, shipment.tracking_number) == (
        "O-1-F1-S1", "label_created", "ups", "1Z1")
    assert shipment.shipped_at == NOW
    assert event_types(events) == ["ShipmentCreated"]
    assert events[0].data["lines"] == [{"line_id": "L1", "sku": "SKU-A", "quantity": 2},
                                       {"line_id": "L2", "sku": "SKU-B", "quantity": 1}]
    assert events[0].data["location_id"] == "W1"
    assert [line.shipped for line in order.lines] == [2, 1]
    assert order.fulfillment_orders[0].status == "shipped"
    assert order.status == "shipped"


def test_ship_some_lines_then_the_rest():
    order = ready_to_ship(make_order())
    first, events = ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    assert events[0].data["lines"] == [{"line_id": "L1", "sku": "SKU-A", "quantity": 1}]
    assert order.fulfillment_orders[0].status == "partially_shipped"
    assert order.fulfillment_orders[0].remaining("L1") == 1
    assert order.status == "partially_shipped"
    assert [line.status for line in order.lines] == ["partially_shipped", "allocated"]
    second, events = ship_all(order, "O-1-F1", "1Z2")
    assert second.shipment_id == "O-1-F1-S2"
    assert events[0].data["lines"] == [{"line_id": "L1", "sku": "SKU-A", "quantity": 1},
                                       {"line_id": "L2", "sku": "SKU-B", "quantity": 1}]
    assert order.status == "shipped"
    assert order.fulfillment_orders[0].status == "shipped"


def test_shipping_a_sku_spread_over_two_lines():
    order = ready_to_ship(make_order([("SKU-A", 1, "10.00"), ("SKU-A", 2, "10.00")]))
    _, events = ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 2}])
    assert events[0].data["lines"] == [{"line_id": "L1", "sku": "SKU-A", "quantity": 1},
                                       {"line_id": "L2", "sku": "SKU-A", "quantity": 1}]
    assert [line.shipped for line in order.lines] == [1, 1]


def test_same_tracking_number_returns_the_existing_shipment():
    order = ready_to_ship(make_order())
    first, _ = ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    again, events = ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-B", "quantity": 1}])
    assert again is first
    assert events == []
    assert [line.shipped for line in order.lines] == [1, 0]
    assert len(order.fulfillment_orders[0].shipments) == 1


def test_replayed_shipment_is_returned_even_when_the_order_is_now_on_hold():
    order = ready_to_ship(make_order())
    first, _ = ship_all(order, "O-1-F1", "1Z1")
    order.holds.append(Hold("fraud_review", "manual"))
    again, events = ship_all(order, "O-1-F1", "1Z1")
    assert again is first and events == []


@pytest.mark.parametrize("lines", [[{"sku": "SKU-A", "quantity": 3}], [{"sku": "SKU-Z", "quantity": 1}],
                                   [{"sku": "SKU-B", "quantity": 1}, {"sku": "SKU-A", "quantity": 5}]])
def test_shipping_more_than_remains_is_refused(lines):
    order = ready_to_ship(make_order())
    with pytest.raises(OrderRuleViolation) as error:
        ship_all(order, "O-1-F1", "1Z1", lines=lines)
    assert error.value.code == "quantity_exceeds_remaining"
    assert [line.shipped for line in order.lines] == [0, 0]
    assert order.fulfillment_orders[0].shipments == []


def test_over_quantity_after_a_partial_shipment_is_refused():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    with pytest.raises(OrderRuleViolation) as error:
        ship_all(order, "O-1-F1", "1Z2", lines=[{"sku": "SKU-A", "quantity": 2}])
    assert error.value.code == "quantity_exceeds_remaining"


def test_nothing_left_to_ship():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    with pytest.raises(OrderRuleViolation) as error:
        ship_all(order, "O-1-F1", "1Z2")
    assert error.value.code == "nothing_to_ship"


def test_an_order_on_hold_cannot_ship():
    order = ready_to_ship(make_order())
    order.holds.append(Hold("fraud_review", "manual"))
    with pytest.raises(OrderRuleViolation) as error:
        ship_all(order, "O-1-F1", "1Z1")
    assert error.value.code == "order_on_hold"
    assert order.fulfillment_orders[0].shipments == []


def test_unknown_fulfillment_order():
    order = ready_to_ship(make_order())
    with pytest.raises(OrderRuleViolation) as error:
        ship_all(order, "O-1-F9", "1Z1")
    assert error.value.code == "not_found"


def test_repeating_a_sku_in_one_request_cannot_over_ship():
    order = ready_to_ship(make_order())
    with pytest.raises(OrderRuleViolation):
        ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 2}, {"sku": "SKU-A", "quantity": 2}])
    assert order.line("L1").shipped <= order.line("L1").allocated


def test_repeating_a_sku_within_what_remains_ships_it():
    # Guard for the fix above: split entries that fit must still ship.
    order = ready_to_ship(make_order())
    _, events = ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1},
                                                         {"sku": "SKU-A", "quantity": 1}])
    assert sum(item["quantity"] for item in events[0].data["lines"]) == 2
    assert order.line("L1").shipped == 2


def test_non_positive_ship_quantity_is_refused():
    order = ready_to_ship(make_order())
    with pytest.raises(OrderRuleViolation):
        ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": -1}])
    assert order.line("L1").shipped == 0


def test_an_empty_line_list_ships_nothing():
    order = ready_to_ship(make_order())
    with pytest.raises(OrderRuleViolation):
        ship_all(order, "O-1-F1", "1Z1", lines=[])
    assert order.fulfillment_orders[0].shipments == []


# ---- capture ----------------------------------------------------------------------------------

def test_nothing_is_due_before_shipping_or_authorization():
    order = allocated(make_order())
    assert order.capture_due() == 0          # not authorised
    ready = ready_to_ship(make_order())
    assert ready.capture_due() == 0          # authorised, nothing shipped


def test_partial_shipments_capture_proportionally_and_the_last_takes_the_remainder():
    order = ready_to_ship(make_order())          # merchandise 4550 of total 5250
    s1, _ = ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    assert order.capture_due() == 5250 * 1000 // 4550 == 1153
    assert capture_everything_due(order, s1.shipment_id) == 1153
    assert order.capture_due() == 0
    s2, _ = ship_all(order, "O-1-F1", "1Z2", lines=[{"sku": "SKU-B", "quantity": 1}])
    assert order.capture_due() == 5250 * 3550 // 4550 - 1153 == 2943
    capture_everything_due(order, s2.shipment_id)
    s3, _ = ship_all(order, "O-1-F1", "1Z3")
    assert order.capture_due() == 5250 - 1153 - 2943 == 1154
    capture_everything_due(order, s3.shipment_id)
    assert order.payment.captured == order.payment.authorized == TOTAL
    assert order.capture_due() == 0
    captures = [t for t in order.payment.transactions if t["type"] == "capture"]
    assert [t["amount"] for t in captures] == [1153, 2943, 1154]
    assert [t["shipment_id"] for t in captures] == ["O-1-F1-S1", "O-1-F1-S2", "O-1-F1-S3"]


def test_a_single_full_shipment_captures_the_authorization():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    assert order.capture_due() == TOTAL
    events = order.record_capture(amount=TOTAL, capture_id="cap_1", idempotency_key="O-1:capture:S1",
                                  shipment_id="O-1-F1-S1", now=NOW)
    assert event_types(events) == ["PaymentCaptured"]
    assert events[0].data == {"amount": TOTAL, "currency": "USD", "shipment_id": "O-1-F1-S1", "capture_id": "cap_1"}


def test_record_capture_is_idempotent_by_key():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    first = order.record_capture(amount=1000, capture_id="cap_1", idempotency_key="k1", shipment_id="S1", now=NOW)
    again = order.record_capture(amount=1000, capture_id="cap_1", idempotency_key="k1", shipment_id="S1", now=NOW)
    assert event_types(first) == ["PaymentCaptured"] and again == []
    assert order.payment.captured == 1000
    assert len([t for t in order.payment.transactions if t["type"] == "capture"]) == 1


@pytest.mark.parametrize("amount", [TOTAL + 1, 0, -1])
def test_record_capture_refuses_over_capture_and_non_positive_amounts(amount):
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    with pytest.raises(OrderRuleViolation) as error:
        order.record_capture(amount=amount, capture_id="c", idempotency_key="k", shipment_id="S1", now=NOW)
    assert error.value.code == "over_capture"
    assert order.payment.captured == 0


def test_record_capture_refuses_to_exceed_the_rest_of_the_authorization():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    order.record_capture(amount=TOTAL - 10, capture_id="c1", idempotency_key="k1", shipment_id="S1", now=NOW)
    with pytest.raises(OrderRuleViolation):
        order.record_capture(amount=11, capture_id="c2", idempotency_key="k2", shipment_id="S1", now=NOW)
    order.record_capture(amount=10, capture_id="c2", idempotency_key="k2", shipment_id="S1", now=NOW)
    assert order.payment.captured == TOTAL


# ---- tracking ---------------------------------------------------------------------------------

def shipped_order(**kwargs) -> tuple[Order, Shipment]:
    order = ready_to_ship(make_order(**kwargs))
    shipment, _ = ship_all(order, "O-1-F1", "1Z1")
    return order, shipment


def test_unknown_tracking_number_changes_nothing():
    order, _ = shipped_order()
    assert order.apply_tracking("NOPE", tracking("in_transit", "2024-05-02T08:00:00Z")) == []


def test_tracking_checkpoint_is_recorded_and_moves_status():
    order, shipment = shipped_order()
    update = tracking("in_transit", "2024-05-02T08:00:00Z", "Departed", "Memphis, TN",
                      estimated_delivery="2024-05-04")
    events = order.apply_tracking("1Z1", update)
    assert event_types(events) == ["ShipmentTrackingUpdated"]
    checkpoint = {"status": "in_transit", "occurred_at": "2024-05-02T08:00:00Z", "description": "Departed",
                  "location": "Memphis, TN", "carrier_status": None}
    assert events[0].data == {"shipment_id": "O-1-F1-S1", "tracking_number": "1Z1", "status": "in_transit",
                              "checkpoints": [checkpoint], "estimated_delivery": "2024-05-04"}
    assert shipment.status == "in_transit"
    assert shipment.estimated_delivery == "2024-05-04"
    assert shipment.events == [checkpoint]


def test_duplicate_checkpoint_is_ignored():
    order, shipment = shipped_order()
    update = tracking("in_transit", "2024-05-02T08:00:00Z")
    assert order.apply_tracking("1Z1", update)
    assert order.apply_tracking("1Z1", dict(update)) == []
    assert len(shipment.events) == 1


def test_checkpoints_are_kept_in_time_order():
    order, shipment = shipped_order()
    order.apply_tracking("1Z1", tracking("out_for_delivery", "2024-05-03T07:00:00Z"))
    order.apply_tracking("1Z1", tracking("in_transit", "2024-05-02T08:00:00Z"))
    order.apply_tracking("1Z1", tracking("in_transit", "2024-05-02T20:00:00Z", "Arrived"))
    assert [e["occurred_at"] for e in shipment.events] == [
        "2024-05-02T08:00:00Z", "2024-05-02T20:00:00Z", "2024-05-03T07:00:00Z"]


def test_a_late_checkpoint_never_moves_status_backwards():
    order, shipment = shipped_order()
    order.apply_tracking("1Z1", tracking("out_for_delivery", "2024-05-03T07:00:00Z"))
    events = order.apply_tracking("1Z1", tracking("in_transit", "2024-05-02T08:00:00Z"))
    assert event_types(events) == ["ShipmentTrackingUpdated"]
    assert shipment.status == "out_for_delivery"


def test_late_in_transit_after_delivered_is_recorded_but_status_stays_delivered():
    order, shipment = shipped_order()
    order.apply_tracking("1Z1", tracking("delivered", "2024-05-03T15:00:00Z"))
    events = order.apply_tracking("1Z1", tracking("in_transit", "2024-05-02T08:00:00Z"))
    assert event_types(events) == ["ShipmentTrackingUpdated"]
    assert len(shipment.events) == 2
    assert shipment.status == "delivered"
    assert [line.delivered for line in order.lines] == [2, 1]
    assert order.status == "delivered"


def test_a_second_delivered_checkpoint_does_not_deliver_twice():
    order, shipment = shipped_order()
    order.apply_tracking("1Z1", tracking("delivered", "2024-05-03T15:00:00Z"))
    events = order.apply_tracking("1Z1", tracking("delivered", "2024-05-03T15:05:00Z", "Left at door"))
    assert event_types(events) == ["ShipmentTrackingUpdated"]
    assert [line.delivered for line in order.lines] == [2, 1]
    assert shipment.delivered_at == "2024-05-03T15:00:00Z"


@pytest.mark.parametrize("status", ["exception", "returned_to_sender"])
def test_exceptions_are_raised_as_events(status):
    order, shipment = shipped_order()
    events = order.apply_tracking("1Z1", tracking(status, "2024-05-02T08:00:00Z", "Address not found"))
    assert event_types(events) == ["ShipmentTrackingUpdated", "ShipmentException"]
    assert events[1].data == {"shipment_id": "O-1-F1-S1", "status": status, "description": "Address not found",
                              "delivery_reversed": False}
    assert shipment.status == status


def test_a_newer_in_transit_after_an_exception_resumes_transit():
    order, shipment = shipped_order()
    order.apply_tracking("1Z1", tracking("exception", "2024-05-02T08:00:00Z"))
    events = order.apply_tracking("1Z1", tracking("in_transit", "2024-05-02T12:00:00Z"))
    assert event_types(events) == ["ShipmentTrackingUpdated"]
    assert shipment.status == "in_transit"


def test_a_stale_in_transit_does_not_clear_a_newer_exception():
    order, shipment = shipped_order()
    order.apply_tracking("1Z1", tracking("exception", "2024-05-02T12:00:00Z"))
    order.apply_tracking("1Z1", tracking("in_transit", "2024-05-02T08:00:00Z"))
    assert shipment.status == "exception"


def test_delivering_every_shipment_delivers_the_order():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 2}])
    ship_all(order, "O-1-F1", "1Z2")
    events = order.apply_tracking("1Z1", tracking("delivered", "2024-05-03T15:00:00Z"))
    assert event_types(events) == ["ShipmentTrackingUpdated", "ShipmentDelivered"]
    assert events[1].data == {"channel": "web", "shipment_id": "O-1-F1-S1", "fulfillment_order_id": "O-1-F1",
                              "delivered_at": "2024-05-03T15:00:00Z"}
    assert order.status == "partially_delivered"
    assert order.fulfillment_orders[0].status == "shipped"
    events = order.apply_tracking("1Z2", tracking("delivered", "2024-05-04T10:00:00Z"))
    assert event_types(events) == ["ShipmentTrackingUpdated", "ShipmentDelivered", "OrderDelivered"]
    assert events[2].data == {"delivered_at": "2024-05-04T10:00:00Z"}
    assert order.status == "delivered"
    assert order.fulfillment_orders[0].status == "delivered"
    assert [line.status for line in order.lines] == ["delivered", "delivered"]


def test_delivery_of_a_partial_shipment_leaves_the_fulfillment_order_partially_shipped():
    order = ready_to_ship(make_order())
    shipment, _ = ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-B", "quantity": 1}])
    events = order.apply_tracking("1Z1", tracking("delivered", "2024-05-03T15:00:00Z"))
    assert "OrderDelivered" not in event_types(events)
    assert shipment.status == "delivered"
    assert order.fulfillment_orders[0].status == "partially_shipped"
    assert order.status == "partially_delivered"
    assert [line.status for line in order.lines] == ["allocated", "delivered"]


def test_orders_across_two_fulfillment_orders_deliver_when_all_arrive():
    order = split_order()
    order.create_fulfillment_orders()
    for n, fo in enumerate(order.fulfillment_orders, start=1):
        ship_all(order, fo.fulfillment_order_id, f"T{n}")
    assert order.status == "shipped"
    for n in (1, 2):
        assert "OrderDelivered" not in event_types(
            order.apply_tracking(f"T{n}", tracking("delivered", f"2024-05-0{n + 2}T10:00:00Z")))
    assert order.status == "partially_delivered"
    assert "OrderDelivered" in event_types(order.apply_tracking("T3", tracking("delivered", "2024-05-06T10:00:00Z")))
    assert order.status == "delivered"
    assert all(fo.status == "delivered" for fo in order.fulfillment_orders)


# ---- derived statuses -------------------------------------------------------------------------

@pytest.mark.parametrize("buckets, status", [
    ({"ordered": 3}, "open"),
    ({"ordered": 3, "cancelled": 3}, "cancelled"),
    ({"ordered": 3, "allocated": 1}, "partially_allocated"),
    ({"ordered": 3, "allocated": 3}, "allocated"),
    ({"ordered": 3, "cancelled": 1, "allocated": 2}, "allocated"),
    ({"ordered": 3, "allocated": 3, "shipped": 1}, "partially_shipped"),
    ({"ordered": 3, "allocated": 3, "shipped": 3}, "shipped"),
    ({"ordered": 3, "cancelled": 1, "allocated": 2, "shipped": 2}, "shipped"),
    ({"ordered": 3, "allocated": 3, "shipped": 3, "delivered": 1}, "partially_delivered"),
    ({"ordered": 3, "allocated": 3, "shipped": 2, "delivered": 2}, "partially_delivered"),
    ({"ordered": 3, "allocated": 3, "shipped": 3, "delivered": 3}, "delivered"),
    ({"ordered": 3, "cancelled": 2, "allocated": 1, "shipped": 1, "delivered": 1}, "delivered"),
])
def test_line_status_is_derived_from_buckets(buckets, status):
    line = Line(line_id="L1", sku="SKU-A", name="A", unit_price=100, delivery_group="g1", **buckets)
    assert line.status == status


def test_order_status_walks_through_the_pipeline():
    order = make_order()
    seen = [order.status]
    order.record_validation([])
    seen.append(order.status)
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 1)])
    seen.append(order.status)                    # backordered
    order.record_allocation([Allocation("L1", "SKU-A", "W1", 1), Allocation("L2", "SKU-B", "W1", 1)])
    seen.append(order.status)
    authorize(order)
    seen.append(order.status)
    order.create_fulfillment_orders()
    seen.append(order.status)
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 2}])
    seen.append(order.status)
    ship_all(order, "O-1-F1", "1Z2")
    seen.append(order.status)
    order.apply_tracking("1Z1", tracking("delivered", "2024-05-03T10:00:00Z"))
    seen.append(order.status)
    order.apply_tracking("1Z2", tracking("delivered", "2024-05-03T11:00:00Z"))
    seen.append(order.status)
    assert seen == ["received", "received", "on_hold", "received", "processing", "processing",
                    "partially_shipped", "shipped", "partially_delivered", "delivered"]
    assert set(seen) <= set(STATUSES)


def test_a_hold_outranks_shipping_statuses_but_not_delivered():
    order, _ = shipped_order()
    order.holds.append(Hold("fraud_review", "manual"))
    assert order.status == "on_hold"
    order.apply_tracking("1Z1", tracking("delivered", "2024-05-03T10:00:00Z"))
    assert order.status == "delivered"


def test_an_order_with_every_line_cancelled_is_cancelled():
    order = make_order()
    for line in order.lines:
        line.cancelled = line.ordered
    assert order.status == "cancelled"


def test_prepaid_order_is_processing_once_paid():
    order = paid(make_order(payment={"method": "prepaid", "reference": "PAY-9"}))
    assert order.status == "processing"


# ---- persistence shape ------------------------------------------------------------------------

def busy_order() -> Order:
    order = split_order()
    order.create_fulfillment_orders()
    s1, _ = ship_all(order, "O-1-F1", "T1", lines=[{"sku": "SKU-A", "quantity": 1}])
    capture_everything_due(order, s1.shipment_id)
    order.apply_tracking("T1", tracking("in_transit", "2024-05-02T08:00:00Z", estimated_delivery="2024-05-04"))
    order.apply_tracking("T1", tracking("delivered", "2024-05-03T08:00:00Z"))
    ship_all(order, "O-1-F2", "T2")
    order.holds.append(Hold("fraud_review", "manual"))
    order.version, order.history_length = 7, 19
    return order


def test_to_dict_from_dict_round_trip():
    order = busy_order()
    data = order.to_dict()
    assert "version" not in data and "history_length" not in data
    json.dumps(data)                              # plain JSON types only
    restored = Order.from_dict(json.loads(json.dumps(data)))
    assert restored.to_dict() == data
    assert (restored.version, restored.history_length) == (0, 0)
    assert restored.status == order.status == "on_hold"
    assert [line.status for line in restored.lines] == [line.status for line in order.lines]
    assert restored.fulfillment_orders[0].shipments[0].status == "delivered"
    assert isinstance(restored.fulfillment_orders[0].shipments[0], Shipment)
    assert restored.payment.captured == order.payment.captured
    assert restored.capture_due() == order.capture_due()
    # The restored order carries on where the original left off.
    restored.holds.clear()
    _, events = ship_all(restored, "O-1-F3", "T3")
    assert event_types(events) == ["ShipmentCreated"]


def test_round_trip_of_a_fresh_order():
    order = make_order()
    assert Order.from_dict(order.to_dict()).to_dict() == order.to_dict()
