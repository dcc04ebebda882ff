"""Which events the sales channel hears about, and in what shape."""
from oms.services.channel_updates import tell_channel
from oms.services.context import Context
from tests.unit.builders import checkpoint, make_order, ready_to_ship, ship_all


class Store:
    def __init__(self, order):
        self.order = order

    def load(self, order_id):
        return self.order


class Notifier:
    def __init__(self):
        self.calls = []

    def shipment_shipped(self, order, shipment, key):
        self.calls.append(("shipped", order.shipping_status, [i.quantity for i in shipment.items], key))

    def shipment_delivered(self, order, shipment, key):
        self.calls.append(("delivered", order.status, key))

    def order_cancelled(self, order, items, *, whole_order, reason, idempotency_key):
        self.calls.append(("cancelled", whole_order, [(i.sku, i.quantity) for i in items], reason))


def context(order, notifier):
    return Context(store=Store(order), inventory=None, payments=None, clock=None, new_order_id=None,
                   new_order_number=None, channels=lambda channel: notifier if channel == "web" else None)


def detail(event_type, data, sequence=9):
    return {"event_type": event_type, "event_id": f"O-1:{sequence}", "aggregate_id": "O-1", "data": data}


def test_a_shipment_is_told_with_its_quantities_and_a_key_stable_across_redeliveries():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1", lines=[{"sku": "SKU-A", "quantity": 1}])
    notifier = Notifier()
    for _ in range(2):
        assert tell_channel(context(order, notifier), detail("ShipmentCreated", {"shipment_id": "O-1-F1-S1"})) \
            == "told"
    assert notifier.calls == [("shipped", "part_shipped", [1], "oms:O-1:9")] * 2


def test_a_delivery_a_late_return_to_sender_reversed_is_not_told():
    order = ready_to_ship(make_order())
    ship_all(order, "O-1-F1", "1Z1")
    order.apply_tracking("1Z1", {"checkpoints": [checkpoint("delivered", "2024-05-05T10:00:00Z")]})
    order.apply_tracking("1Z1", {"checkpoints": [checkpoint("returned_to_sender", "2024-05-04T10:00:00Z")]})
    notifier = Notifier()
    outcome = tell_channel(context(order, notifier), detail("ShipmentDelivered", {"shipment_id": "O-1-F1-S1"}))
    assert outcome == "not_for_channel" and notifier.calls == []


def test_cancellations_the_channel_made_are_not_echoed_and_others_are_told_whole_or_not():
    order = ready_to_ship(make_order())
    notifier = Notifier()
    lines = [{"line_id": "L1", "sku": "SKU-A", "quantity": 2, "channel_line_id": "11"}]
    assert tell_channel(context(order, notifier), detail("OrderLinesCancelled", {
        "lines": lines, "reason": "r", "source": "channel"})) == "not_for_channel"
    order.cancel(None, reason="out of stock", source="operator")
    assert tell_channel(context(order, notifier), detail("OrderLinesCancelled", {
        "lines": lines, "reason": "out of stock", "source": "operator"})) == "told"
    assert notifier.calls == [("cancelled", True, [("SKU-A", 2)], "out of stock")]


def test_channels_without_an_api_are_not_called():
    order = ready_to_ship(make_order())
    order.channel = "generic"
    ship_all(order, "O-1-F1", "1Z1")
    assert tell_channel(context(order, Notifier()), detail("ShipmentCreated", {"shipment_id": "O-1-F1-S1"})) \
        == "no_channel_api"
