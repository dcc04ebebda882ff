"""Which order a dead letter is about, from the event it carries."""
from __future__ import annotations

import pytest

from oms.services.dead_letters import QUEUE_NAME, order_concerned

ORDER = "o019ad2c3f1a4b8c9d0e1f2a3b4"
LATER_ORDER = "o1a23466a1eb41374c357401e332"  # since November 2004 the milliseconds take 11 hex digits


@pytest.mark.parametrize(("detail", "order_id"), [
    ({"event_type": "OrderReceived", "aggregate_id": ORDER, "data": {}}, ORDER),
    ({"event_type": "OrderValidated", "aggregate_id": LATER_ORDER, "data": {}}, LATER_ORDER),
    ({"event_type": "PaymentAuthorized", "aggregate_id": ORDER, "order_id": "o-given", "data": {}}, "o-given"),
    ({"event_type": "ReturnReceived", "aggregate_id": "r019ad2c3f1a4b8c9d0e1f2a3b4", "data": {"order_id": ORDER}},
     ORDER),
    ({"event_type": "CaseOpened", "aggregate_id": "c019ad2c3f1a4b8c9d0e1f2a3b4", "data": {}}, None),
    ({"event_type": "InventoryAdjusted", "aggregate_id": "SKU-1@WH1", "data": {"sku": "SKU-1"}}, None),
    ({"event_type": "PurchaseOrderReceived", "aggregate_id": "019ad2c3f1a4b8c9d0e1f2a3b4", "data": {}}, None),
    ({"aggregate_id": ["not", "text"], "order_id": 7, "data": "not an object"}, None),
    ({}, None),
])
def test_the_order_a_dead_letter_is_about(detail, order_id):
    assert order_concerned(detail) == order_id


def test_queue_names_an_operator_may_ask_for():
    assert all(QUEUE_NAME.fullmatch(name) for name in ("validation", "channel-updates", "analytics-jobs", "outbox"))
    assert not any(QUEUE_NAME.fullmatch(name) for name in ("", "Validation", "../x", "a b", "-x", "x" * 64))
