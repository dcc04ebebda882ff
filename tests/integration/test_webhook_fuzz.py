"""Whatever a correctly signed sender posts, every vendor webhook answers below 500, and a 4xx
writes nothing."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import table_items
from tests.support.fixtures import fixture
from tests.support.vendor_orders import shopify_paid_order

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=12)
                    | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12)
SAMPLES = {
    "shopify": shopify_paid_order(),
    "sfcc": fixture("sfcc/order-create-full.json"),
    "easypost": fixture("easypost/tracker-updated-fedex.json"),
    "aftership": fixture("aftership/tracking-update-v4.json"),
}


def _damaged(data, sample: dict) -> dict:
    """The vendor's sample with one field, somewhere down its tree, replaced by junk."""
    body = json.loads(json.dumps(sample))
    node = body
    for _ in range(data.draw(st.integers(0, 3), label="depth")):
        children = [k for k, v in node.items() if isinstance(v, dict)] if isinstance(node, dict) else []
        if not children:
            break
        node = node[data.draw(st.sampled_from(sorted(children)), label="into")]
    if isinstance(node, dict) and node:
        node[data.draw(st.sampled_from(sorted(node)), label="field")] = data.draw(JSON, label="junk")
    return body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_vendor_webhooks_never_answer_5xx(stocked, data):
    vendor = data.draw(st.sampled_from(sorted(SAMPLES)), label="vendor")
    body = _damaged(data, SAMPLES[vendor]) if data.draw(st.booleans(), label="damaged") else data.draw(JSON)
    before = table_items()
    if vendor == "shopify":
        topic = data.draw(st.sampled_from(["orders/create", "orders/cancelled", "orders/paid"]), label="topic")
        response = stocked.shopify(body, topic=topic)
    else:
        response = getattr(stocked, vendor)(json.dumps(body).encode())
    assert response.status_code < 500, response.body
    if response.status_code >= 400:
        assert table_items() == before
