"""Property tests: invariants that must survive any sequence of operations.

(a) sourcing never oversells; (b) partial shipments capture exactly the authorisation;
(c) every line keeps 0 <= delivered <= shipped <= allocated <= ordered - cancelled."""
from collections import defaultdict

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from oms.domain.inventory import StockLevel
from oms.domain.money import to_decimal_string
from oms.domain.order import STATUSES, TRACKING_STATUSES, Allocation, Hold, Line, Order, OrderRuleViolation
from oms.domain.sourcing import Site, plan_sourcing
from tests.unit.builders import assert_buckets_consistent, authorize, make_order, tracking


def source(lines, levels, priorities: dict[str, int]):
    """Sourcing by priority alone (no coordinates anywhere): the allocations."""
    sites = {level.location_id: Site(level.location_id, priorities.get(level.location_id, 1_000_000))
             for level in levels}
    return plan_sourcing(lines, levels, sites, {})[0]

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SKUS = ["A", "B", "C"]
LOCATIONS = ["W1", "W2", "W3"]
LINE_STATUSES = {"open", "cancelled", "partially_allocated", "allocated", "partially_shipped", "shipped",
                 "partially_delivered", "delivered"}


# ---- (a) inventory never oversells ------------------------------------------------------------

stock_rows = st.lists(
    st.tuples(st.sampled_from(SKUS), st.sampled_from(LOCATIONS), st.integers(0, 15), st.integers(0, 18),
              st.integers(0, 4)),
    unique_by=lambda row: (row[0], row[1]), max_size=len(SKUS) * len(LOCATIONS))

order_lines = st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 6)), min_size=1, max_size=4)

operations = st.lists(st.one_of(
    st.tuples(st.just("order"), order_lines),
    st.tuples(st.just("restock"), st.sampled_from(SKUS), st.sampled_from(LOCATIONS), st.integers(1, 6)),
    st.tuples(st.just("retry")),
), max_size=15)


def check_and_reserve(lines: list[Line], plan: list[Allocation], stock: dict[tuple[str, str], StockLevel],
                      priorities: dict[str, int]) -> None:
    wanted = [line for line in lines if line.unallocated > 0]
    by_id = {line.line_id: line for line in lines}
    available = {key: level.available for key, level in stock.items()}

    planned_per_line: dict[str, int] = defaultdict(int)
    planned_per_level: dict[tuple[str, str], int] = defaultdict(int)
    for allocation in plan:
        assert allocation.quantity > 0
        assert by_id[allocation.line_id].sku == allocation.sku
        planned_per_line[allocation.line_id] += allocation.quantity
        planned_per_level[(allocation.sku, allocation.location_id)] += allocation.quantity
    for line_id, quantity in planned_per_line.items():
        assert quantity <= by_id[line_id].unallocated, "planned more than the line needs"
    for key, quantity in planned_per_level.items():
        assert quantity <= available.get(key, 0), f"planned {quantity} of {key}, only {available.get(key, 0)} free"

    need: dict[str, int] = defaultdict(int)
    for line in wanted:
        need[line.sku] += line.unallocated

    def rank(location_id: str) -> tuple[int, str]:
        return priorities.get(location_id, 1_000_000), location_id

    whole = sorted((loc for loc in {k[1] for k in stock}
                    if all(available.get((sku, loc), 0) >= qty for sku, qty in need.items())), key=rank)
    event("one location" if wanted and whole else "split or backorder" if wanted else "nothing wanted")
    if wanted and whole:
        # One location can ship everything: the highest-ranked such location gets it all.
        assert {a.location_id for a in plan} == {whole[0]}
        assert all(planned_per_line[line.line_id] == line.unallocated for line in wanted)
    else:
        # Otherwise every SKU gets as much as the locations together have free.
        for sku, qty in need.items():
            free_total = sum(v for (s, _), v in available.items() if s == sku)
            assert sum(q for (s, _), q in planned_per_level.items() if s == sku) == min(qty, free_total)

    for allocation in plan:   # the conditional reservation the store would make
        stock[(allocation.sku, allocation.location_id)].reserved += allocation.quantity
        by_id[allocation.line_id].allocated += allocation.quantity


@FAST
@given(rows=stock_rows, priorities=st.dictionaries(st.sampled_from(LOCATIONS), st.integers(0, 5)), ops=operations)
def test_sourcing_never_oversells(rows, priorities, ops):
    stock = {(sku, loc): StockLevel(sku, loc, on_hand, reserved, safety) for sku, loc, on_hand, reserved, safety
             in rows}
    baseline = {key: level.reserved for key, level in stock.items()}   # may start over-reserved
    orders: list[list[Line]] = []

    for op in ops:
        if op[0] == "order":
            n = len(orders)
            lines = [Line(f"O{n}-L{i}", sku, sku, 100, "g1", qty) for i, (sku, qty) in enumerate(op[1])]
            orders.append(lines)
            batches = [lines]
        elif op[0] == "restock":
            _, sku, loc, qty = op
            level = stock.setdefault((sku, loc), StockLevel(sku, loc, 0, 0, 0))
            baseline.setdefault((sku, loc), 0)
            level.on_hand += qty
            batches = []
        else:
            batches = [lines for lines in orders if any(line.unallocated for line in lines)]
        for lines in batches:
            check_and_reserve(lines, source(lines, list(stock.values()), priorities), stock, priorities)
            for key, level in stock.items():
                assert level.reserved <= max(baseline[key], level.on_hand - level.safety_stock)
            for line in lines:
                assert 0 <= line.allocated <= line.open_quantity


# ---- (b) captures add up to the authorisation exactly -----------------------------------------

@st.composite
def priced_orders(draw) -> Order:
    currency = draw(st.sampled_from(["USD", "JPY", "KWD"]))
    count = draw(st.integers(1, 4))
    lines = [(f"SKU-{n}", draw(st.integers(1, 5)), to_decimal_string(draw(st.integers(1, 50_000)), currency))
             for n in range(count)]
    merchandise = sum(q * int(p.replace(".", "")) for _, q, p in lines)
    money = {name: to_decimal_string(draw(st.integers(0, high)), currency)
             for name, high in (("shipping", 3_000), ("tax", 5_000), ("discount", merchandise // 2))}
    return make_order(lines, currency=currency, **money)


@FAST
@given(order=priced_orders(), data=st.data())
def test_partial_shipments_capture_exactly_the_authorization(order, data):
    order.record_validation([])
    plan = []
    for line in order.lines:
        at_w1 = data.draw(st.integers(0, line.ordered), label=f"{line.line_id} at W1")
        plan += [Allocation(line.line_id, line.sku, loc, qty) for loc, qty in (("W1", at_w1),
                                                                               ("W2", line.ordered - at_w1)) if qty]
    order.record_allocation(plan)
    assert authorize(order)
    order.create_fulfillment_orders()
    authorized = order.payment.authorized
    assert authorized == order.total

    shipments = 0
    while True:
        open_fos = [fo for fo in order.fulfillment_orders if any(fo.remaining(fl["line_id"]) for fl in fo.lines)]
        if not open_fos:
            break
        fo = data.draw(st.sampled_from(open_fos), label="fulfillment order")
        remaining = [(fl["sku"], fo.remaining(fl["line_id"])) for fl in fo.lines if fo.remaining(fl["line_id"])]
        if data.draw(st.booleans(), label="ship everything left"):
            request = None
        else:
            request = [{"sku": sku, "quantity": data.draw(st.integers(0, left), label=sku)} for sku, left in remaining]
            request = [r for r in request if r["quantity"]] or [{"sku": remaining[0][0], "quantity": 1}]
        shipments += 1
        shipment, events = order.ship(fo.fulfillment_order_id, carrier="ups", tracking_number=f"T{shipments}",
                                      service="ground", lines=request, now="2024-05-02T00:00:00Z")
        assert events

        before = order.payment.captured
        due = order.capture_due()
        assert 0 <= due <= authorized - before
        if due:
            key = f"{order.order_id}:capture:{shipment.shipment_id}"
            order.record_capture(amount=due, capture_id=f"c{shipments}", idempotency_key=key,
                                 shipment_id=shipment.shipment_id, now="t")
            # A retried capture with the same key changes nothing.
            assert order.record_capture(amount=due, capture_id=f"c{shipments}", idempotency_key=key,
                                        shipment_id=shipment.shipment_id, now="t") == []
        assert order.payment.captured <= authorized
        assert order.capture_due() == 0
        captures = [t["amount"] for t in order.payment.transactions if t["type"] == "capture"]
        assert sum(captures) == order.payment.captured

    assert order.status == "shipped"
    assert order.payment.captured == authorized == order.total
    event(f"shipments: {min(shipments, 5)}{'+' if shipments >= 5 else ''}")


# ---- (c) quantity buckets stay ordered under any sequence of operations -----------------------

ACTIONS = ["validate", "allocate", "allocate", "over_allocate", "pay", "decline", "fulfil", "ship", "ship",
           "ship", "track", "track", "track", "hold", "release", "cancel"]


def next_step(order: Order) -> str:
    """The action that moves the order along, so random runs reach shipping and delivery."""
    if "fraud_review" in order.hold_types():
        return "release"
    if not order.validated:
        return "validate"
    if order.needs_allocation():
        return "allocate"
    if order.needs_payment():
        return "pay"
    if not order.fulfillment_orders:
        return "fulfil"
    if any(fl["shipped"] < fl["quantity"] for fo in order.fulfillment_orders for fl in fo.lines):
        return "ship"
    return "track"


def check_order(order: Order) -> None:
    assert_buckets_consistent(order)
    assert order.status in STATUSES
    assert {line.status for line in order.lines} <= LINE_STATUSES
    allocated: dict[str, int] = defaultdict(int)
    for allocation in order.allocations:
        allocated[allocation.line_id] += allocation.quantity
    fo_shipped: dict[str, int] = defaultdict(int)
    delivered: dict[str, int] = defaultdict(int)
    for fo in order.fulfillment_orders:
        for fl in fo.lines:
            assert 0 <= fl["shipped"] <= fl["quantity"]
            fo_shipped[fl["line_id"]] += fl["shipped"]
        for shipment in fo.shipments:
            if shipment.status == "delivered":
                for item in shipment.lines:
                    delivered[item["line_id"]] += item["quantity"]
    fo_quantity: dict[str, int] = defaultdict(int)
    for fo in order.fulfillment_orders:
        for fl in fo.lines:
            fo_quantity[fl["line_id"]] += fl["quantity"]
    for line in order.lines:
        assert line.allocated == allocated[line.line_id]
        assert line.shipped == fo_shipped[line.line_id]
        assert line.delivered == delivered[line.line_id]
        if order.fulfillment_orders:  # cancellations take units off allocations and fulfilment orders alike
            assert fo_quantity[line.line_id] == line.allocated
    if order.payment.status == "authorized":
        assert 0 <= order.payment.captured <= order.payment.authorized
        # Never more than the order is worth, whatever was cancelled after a capture.
        assert order.payment.captured <= order.amount_due


@FAST
@given(lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 4)), min_size=1, max_size=4),
       data=st.data())
def test_quantity_buckets_stay_ordered(lines, data):
    order = make_order([(sku, qty, "10.00") for sku, qty in lines])
    steps = data.draw(st.integers(1, 40), label="steps")
    for step in range(steps):
        # Half the time the step that moves the order along, otherwise anything at all.
        action = data.draw(st.sampled_from([next_step(order), *ACTIONS]) if data.draw(st.booleans(), label="chaos")
                           else st.just(next_step(order)), label="action")
        try:
            if action == "validate":
                order.record_validation([])
            elif action in ("allocate", "over_allocate") and order.needs_allocation():
                plan = []
                for line in order.lines:
                    extra = 1 if action == "over_allocate" else 0
                    qty = data.draw(st.integers(0, line.unallocated + extra), label=f"{line.line_id} qty")
                    if qty:
                        plan.append(Allocation(line.line_id, line.sku, data.draw(st.sampled_from(LOCATIONS)), qty))
                order.record_allocation(plan)
            elif action == "pay":
                authorize(order)
            elif action == "decline":
                order.record_authorization(approved=False, authorization_id=None, decline_code="do_not_honor",
                                           idempotency_key="k", now="t")
            elif action == "fulfil":
                order.create_fulfillment_orders()
            elif action == "ship" and order.fulfillment_orders:
                fo = data.draw(st.sampled_from(order.fulfillment_orders), label="fo")
                tracking_number = data.draw(st.sampled_from(["T1", "T2", "T3", "T4", "T5", "T6"]), label="tracking")
                if data.draw(st.booleans(), label="ship all"):
                    request = None
                else:
                    left: dict[str, int] = defaultdict(int)
                    for fl in fo.lines:
                        left[fl["sku"]] += fl["quantity"] - fl["shipped"]
                    skus = data.draw(st.lists(st.sampled_from(sorted(left)), unique=True, min_size=1), label="skus")
                    request = [{"sku": sku, "quantity": data.draw(st.integers(1, left[sku] + 1), label=sku)}
                               for sku in skus]
                order.ship(fo.fulfillment_order_id, carrier="ups", tracking_number=tracking_number, service="g",
                           lines=request, now="t")
                due = order.capture_due()
                if due:
                    order.record_capture(amount=due, capture_id=f"c{step}", idempotency_key=f"k{step}",
                                         shipment_id="s", now="t")
            elif action == "track" and order.shipments():
                _, shipment = data.draw(st.sampled_from(order.shipments()), label="shipment")
                status = data.draw(st.sampled_from(TRACKING_STATUSES), label="status")
                hour = data.draw(st.integers(0, 23), label="hour")
                order.apply_tracking(shipment.tracking_number, tracking(status, f"2024-05-03T{hour:02d}:00:00Z"))
            elif action == "cancel":
                line = data.draw(st.sampled_from(order.lines), label="cancel line")
                quantity = data.draw(st.integers(0, order.cancellable(line) + 1), label="cancel quantity")
                order.cancel({line.line_id: quantity}, reason="test", source="operator")
            elif action == "hold" and "fraud_review" not in order.hold_types():
                order.holds.append(Hold("fraud_review", "manual review"))
            elif action == "release":
                order.holds = [h for h in order.holds if h.type != "fraud_review"]
        except OrderRuleViolation:
            pass  # a refused step must leave the order as it was: the invariants are checked below
        check_order(order)
    event(f"final order status: {order.status}")
