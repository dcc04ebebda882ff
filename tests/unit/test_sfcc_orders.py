"""SFCC (SCAPI Orders API) order documents to the canonical order: both documented examples parsed
the way the webhook parses them (JSON numbers as Decimal), synthetic orders for net taxation,
split prices and several shipments, and junk that must only ever be refused as UnmappablePayload."""
import copy
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.adapters.channels.sfcc_orders import to_canonical
from oms.domain.money import to_minor
from oms.domain.validation import find_problems, totals_problem
from oms.services.canonical import CanonicalOrder, UnmappablePayload
from tests.support.fixtures import fixture_bytes
from tests.support.junk import json_values, paths
from tests.unit.builders import order_from_payload

NOW = "2024-05-01T12:00:00Z"
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(text: str | bytes):
    """As the webhook does: money never passes through float."""
    return json.loads(text, parse_float=Decimal)


def simple() -> dict:
    return parse(fixture_bytes("sfcc/order-create-simple.json"))


def full() -> dict:
    return parse(fixture_bytes("sfcc/order-create-full.json"))


def mapped(payload: dict) -> dict:
    return to_canonical(payload, received_at=NOW)


def cents(amount) -> int:
    return to_minor(amount, "USD")


def reconciles(order: dict) -> bool:
    """The validation rule, on the canonical dict: lines + shipping + tax (unless included) - discount."""
    merchandise = sum(cents(line["unit_price"]) * line["quantity"] for line in order["lines"])
    shipping = sum(cents(group["shipping_total"]) for group in order["delivery_groups"])
    tax = 0 if order["taxes_included"] else cents(order["tax_total"])
    return merchandise + shipping + tax - cents(order["discount_total"]) == cents(order["total"])


def assert_carries_the_channel_totals(payload: dict) -> dict:
    order = mapped(payload)
    CanonicalOrder.model_validate(order)
    json.dumps(order)
    assert cents(order["total"]) == cents(payload["orderTotal"])
    assert cents(order["tax_total"]) == cents(payload["taxTotal"])
    assert [cents(g["shipping_total"]) for g in order["delivery_groups"]] == [
        cents(s["shippingTotal"]) for s in payload["shipments"]]
    assert reconciles(order), order
    assert totals_problem(order_from_payload(order)) is None
    return order


def holds(order: dict, skus: set[str]) -> set[str]:
    return {hold.type for hold in find_problems(order_from_payload(order), skus)}


def unmappable(payload) -> list[dict]:
    with pytest.raises(UnmappablePayload) as error:
        to_canonical(payload, received_at=NOW)
    return error.value.details


# ---- the documented examples ------------------------------------------------------------------

def test_the_simple_example_maps_and_reconciles_in_gross_terms():
    payload = simple()
    order = assert_carries_the_channel_totals(payload)
    # 30.98 x 2 = grossPrice 61.96 (netPrice 49.57 + tax 12.39), shipping 4.95: 66.91.
    [line] = order["lines"]
    assert (line["sku"], line["quantity"], line["unit_price"], line["tax"], line["delivery_group"]) == (
        "black-shoe_29347-38", 2, "30.98", "12.39", "shipment1")
    assert line["channel_line_id"] == "shipment1:0"  # no itemId in the document
    assert line["name"] == "special edition shoe women 38"
    assert (order["taxes_included"], order["tax_total"], order["discount_total"], order["total"]) == (
        True, "12.39", "0.00", "66.91")
    assert order["external_id"] == order["channel_order_number"] == "0000019373"
    assert order["placed_at"] == NOW  # no creationDate: the time the OMS received it
    assert order["delivery_groups"] == [{
        "group_id": "shipment1", "shipping_method": "EXPRESS", "shipping_total": "4.95",
        "shipping_address": {"name": "Jane Doe", "line1": "43 Main Rd.", "line2": "", "city": "Burlington",
                             "region": "", "postal_code": "", "country": "", "phone": None}}]
    # A PayPal transaction and no paymentStatus: SFCC holds an authorisation.
    assert order["payment"] == {"method": "channel", "status": "authorized", "gateway": "PAYPAL",
                                "reference": "abc13384ajsgdk1"}
    assert order["channel_context"] == {"order_no": "0000019373", "channel_type": "instagramcommerce"}


def test_the_simple_example_has_no_email_or_country_and_validation_holds_it_rather_than_the_mapper_inventing_them():
    order = mapped(simple())
    assert order["customer"] == {"email": "", "first_name": "Jane", "last_name": "Doe", "phone": None,
                                 "customer_id": None}
    found = holds(order, {"black-shoe_29347-38"})
    assert {"invalid_customer", "invalid_address"} <= found and "totals_mismatch" not in found


def test_the_full_example_maps_and_reconciles_in_gross_terms():
    payload = full()
    order = assert_carries_the_channel_totals(payload)
    # grossPrice 103.95 - item adjustment 6.00 - order adjustment 6.00 + shipping 21.29 = orderTotal 113.24.
    # In net terms (99 - 5 - 5 + 21.29 + tax 7.90 = 118.19) it would not add up, though basePrice == netPrice.
    [line] = order["lines"]
    assert (line["sku"], line["quantity"], line["unit_price"], line["discount"], line["tax"]) == (
        "701643632930", 1, "103.95", "6.00", "3.95")
    assert (order["taxes_included"], order["tax_total"], order["discount_total"], order["total"]) == (
        True, "7.90", "12.00", "113.24")
    [group] = order["delivery_groups"]
    assert (group["group_id"], group["shipping_method"], group["shipping_total"]) == ("00000001", "EXPRESS", "21.29")
    assert group["shipping_address"] == {"name": "John Doe", "line1": "45 Main Rd.", "line2": "road 2, suite, none",
                                         "city": "Burlington", "region": "MA", "postal_code": "01803-2336",
                                         "country": "US", "phone": "6175555555"}
    assert order["billing_address"]["line2"] == "suite"
    assert order["customer"]["phone"] == "6175555555"
    assert order["payment"] == {"method": "channel", "status": "paid", "gateway": "CREDITCARD",
                                "reference": "abc13384ajsgdk1"}
    assert "totals_mismatch" not in holds(order, {"701643632930"})


def test_adjustment_amount_is_not_money():
    payload = full()
    # amount 5 is the promotion's "5 off"; the money is grossPrice -6.
    assert payload["orderPriceAdjustments"][0]["amount"] == 5
    payload["orderPriceAdjustments"][0]["amount"] = 50
    assert mapped(payload)["discount_total"] == "12.00"


@pytest.mark.parametrize("load", [simple, full])
def test_the_mapped_examples_build_orders(load):
    order = mapped(load())
    built = order_from_payload(order)
    assert built.external_id == order["external_id"] and built.taxes_included is True
    assert [g.group_id for g in built.delivery_groups] == [g["group_id"] for g in order["delivery_groups"]]
    assert [line.delivery_group for line in built.lines] == [line["delivery_group"] for line in order["lines"]]
    assert built.total == cents(order["total"])


@pytest.mark.parametrize("name", ["sfcc/order-create-simple.json", "sfcc/order-create-full.json"])
def test_an_example_parsed_with_floats_is_refused_not_rounded(name):
    details = unmappable(json.loads(fixture_bytes(name)))
    assert any("Decimal" in detail["problem"] for detail in details)


def test_creation_date_is_used_when_present():
    payload = simple()
    payload["creationDate"] = "2024-04-30T08:15:00.000Z"
    assert mapped(payload)["placed_at"] == "2024-04-30T08:15:00.000Z"


# ---- synthetic orders ------------------------------------------------------------------------

ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St", "city": "New York",
           "stateCode": "NY", "postalCode": "10001", "countryCode": "US", "phone": "+12015550123"}


def order_text(items: str, shipments: str, totals: str, extra: str = "") -> str:
    return f"""{{"orderNo": "00001234", "currency": "USD", "creationDate": "2024-05-01T10:00:00Z",
                "customerInfo": {{"email": "ada@example.com", "customerNo": "C-9"}},
                "billingAddress": {json.dumps(ADDRESS)}, "productItems": [{items}], "shipments": [{shipments}],
                "paymentInstruments": [{{"paymentMethodId": "CREDIT_CARD",
                                         "paymentTransaction": {{"transactionId": "t-1"}}}}],
                {totals} {extra}}}"""


def shipment(shipment_id: str, total: str, method: str = '"STANDARD"') -> str:
    return (f'{{"shipmentId": "{shipment_id}", "shippingAddress": {json.dumps(ADDRESS)}, '
            f'"shippingMethod": {method}, "shippingTotal": {total}}}')


def test_amounts_that_floats_would_get_wrong_add_up_exactly():
    text = order_text(
        '{"productId": "A", "quantity": 1, "grossPrice": 10.10, "shipmentId": "me"},'
        '{"productId": "B", "quantity": 1, "grossPrice": 20.20, "shipmentId": "me"}',
        shipment("me", "0"), '"orderTotal": 30.30, "taxTotal": 0')
    assert 10.10 + 20.20 != 30.30  # what a float parse would start from
    order = assert_carries_the_channel_totals(parse(text))
    assert [line["unit_price"] for line in order["lines"]] == ["10.10", "20.20"] and order["total"] == "30.30"
    assert order["customer"]["email"] == "ada@example.com" and order["customer"]["customer_id"] == "C-9"
    assert holds(order, {"A", "B"}) == set()


def test_net_taxation_maps_net_prices_and_adds_the_tax():
    # Net 40.00 for two, 20% tax; 4.00 off (net); shipping 5.00 net with 1.00 tax.
    # taxTotal 8.00 - 0.80 + 1.00 = 8.20; orderTotal 40.00 - 4.00 + 5.00 + 8.20 = 49.20.
    text = order_text(
        '{"productId": "A", "itemId": "i-1", "quantity": 2, "basePrice": 20.00, "netPrice": 40.00, "tax": 8.00,'
        ' "grossPrice": 48.00, "shipmentId": "me",'
        ' "priceAdjustments": [{"amount": 10, "netPrice": -4.00, "grossPrice": -4.80, "tax": -0.80}]}',
        shipment("me", "5.00"), '"orderTotal": 49.20, "taxTotal": 8.20', ', "taxation": "net"')
    order = assert_carries_the_channel_totals(parse(text))
    [line] = order["lines"]
    assert (line["unit_price"], line["discount"], line["tax"], line["channel_line_id"]) == (
        "20.00", "4.00", "7.20", "i-1")
    assert (order["taxes_included"], order["discount_total"], order["tax_total"]) == (False, "4.00", "8.20")


def test_an_explicit_gross_taxation_is_the_default_mapping():
    payload = full()
    payload["taxation"] = "gross"
    assert mapped(payload) == mapped(full())


def test_a_price_that_does_not_divide_into_cents_is_split_into_two_lines_that_add_up_exactly():
    # 10.00 for three: 3.33 + 3.33 + 3.34. The discount and tax spread over the parts the same way.
    text = order_text(
        '{"productId": "A", "itemId": "i-7", "quantity": 3, "grossPrice": 10.00, "tax": 1.67, "shipmentId": "me",'
        ' "priceAdjustments": [{"grossPrice": -7.00, "tax": 0}]}',
        shipment("me", "2.50"), '"orderTotal": 5.50, "taxTotal": 1.67')
    order = assert_carries_the_channel_totals(parse(text))
    assert [(line["sku"], line["quantity"], line["unit_price"], line["channel_line_id"], line["discount"],
             line["tax"]) for line in order["lines"]] == [
        ("A", 2, "3.33", "i-7#1", "6.66", "1.67"),
        ("A", 1, "3.34", "i-7#2", "0.34", "0.00")]
    assert order["discount_total"] == "7.00"


@given(st.integers(1, 10_000_00), st.integers(1, 12))
def test_any_item_price_maps_to_lines_adding_up_to_it(gross_cents, quantity):
    price = f"{Decimal(gross_cents).scaleb(-2):.2f}"
    text = order_text(f'{{"productId": "A", "quantity": {quantity}, "grossPrice": {price}, "shipmentId": "me"}}',
                      shipment("me", "0"), f'"orderTotal": {price}, "taxTotal": 0')
    order = assert_carries_the_channel_totals(parse(text))
    assert sum(line["quantity"] for line in order["lines"]) == quantity and len(order["lines"]) <= 2


def test_two_shipments_become_two_delivery_groups_with_their_lines():
    text = order_text(
        '{"productId": "A", "quantity": 1, "grossPrice": 25.00, "shipmentId": "home"},'
        '{"productId": "B", "quantity": 2, "grossPrice": 30.00, "shipmentId": "gift"},'
        '{"productId": "C", "quantity": 1, "grossPrice": 5.00, "shipmentId": "home"}',
        shipment("home", "4.95") + "," + shipment("gift", "9.90", '{"id": "EXPRESS", "name": "Express"}'),
        '"orderTotal": 74.85, "taxTotal": 0')
    order = assert_carries_the_channel_totals(parse(text))
    assert [(g["group_id"], g["shipping_method"], g["shipping_total"]) for g in order["delivery_groups"]] == [
        ("home", "STANDARD", "4.95"), ("gift", "EXPRESS", "9.90")]
    assert [(line["sku"], line["delivery_group"]) for line in order["lines"]] == [
        ("A", "home"), ("B", "gift"), ("C", "home")]
    built = order_from_payload(order)
    assert {g.group_id: g.shipping_total for g in built.delivery_groups} == {"home": 495, "gift": 990}


def test_order_level_custom_attributes_are_kept_json_safe():
    payload = full()
    payload.update(c_giftMessage="Happy birthday", c_loyaltyPoints=Decimal("12.50"), c_flags={"vip": True, "n": 3},
                   c_codes=[Decimal("0.1"), "x"], notCustom="dropped")
    payload["productItems"][0]["c_engraving"] = "AL"  # item-level: not kept (yet)
    attributes = mapped(payload)["attributes"]
    assert attributes == {"c_giftMessage": "Happy birthday", "c_loyaltyPoints": "12.50",
                          "c_flags": {"vip": True, "n": 3}, "c_codes": ["0.1", "x"]}
    json.dumps(attributes)


def test_customer_name_from_customer_info_when_the_billing_address_has_none():
    payload = simple()
    payload["billingAddress"] = {"address1": "43 Main Rd.", "city": "Burlington"}
    payload["customerInfo"] = {"customerName": "Jane Q. Doe", "customerId": "abc", "email": "jane@example.com"}
    assert mapped(payload)["customer"] == {"email": "jane@example.com", "first_name": "Jane Q. Doe", "last_name": "",
                                           "phone": None, "customer_id": "abc"}


@pytest.mark.parametrize(("changes", "status", "gateway", "reference"), [
    ({"paymentStatus": "paid"}, "paid", "PAYPAL", "abc13384ajsgdk1"),
    ({"paymentStatus": "part_paid"}, "authorized", "PAYPAL", "abc13384ajsgdk1"),
    ({"paymentInstruments": [{"paymentMethodId": "GIFT_CERTIFICATE"}]}, "pending", "GIFT_CERTIFICATE", None),
    ({"paymentInstruments": []}, "pending", None, None),
    ({"paymentInstruments": None, "paymentStatus": "paid"}, "paid", None, None),
])
def test_payment_from_payment_status_and_transactions(changes, status, gateway, reference):
    payload = simple()
    payload.update(changes)
    assert mapped(payload)["payment"] == {"method": "channel", "status": status, "gateway": gateway,
                                          "reference": reference}


# ---- refused: not an SFCC order -------------------------------------------------------------

def mangle(path: list, value=None, *, delete: bool = False) -> dict:
    payload = full()
    target = payload
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


@pytest.mark.parametrize(("payload", "field"), [
    (None, "order"), ([], "order"),
    (mangle(["orderNo"], delete=True), "orderNo"),
    (mangle(["orderNo"], {"no": 1}), "orderNo"),
    (mangle(["currency"], "ZZZ"), "currency"),
    (mangle(["productItems"], []), "productItems"),
    (mangle(["productItems"], {"0": {}}), "productItems"),
    (mangle(["shipments"], delete=True), "shipments"),
    (mangle(["shipments", 0, "shipmentId"], None), "shipments[0].shipmentId"),
    (mangle(["shipments", 0, "shippingTotal"], "lots"), "shipments[0].shippingTotal"),
    (mangle(["productItems", 0, "shipmentId"], "elsewhere"), "productItems[0].shipmentId"),
    (mangle(["productItems", 0, "shipmentId"], delete=True), "productItems[0].shipmentId"),
    (mangle(["productItems", 0, "quantity"], Decimal("1.5")), "productItems[0].quantity"),
    (mangle(["productItems", 0, "grossPrice"], delete=True), "productItems[0].price"),
    (mangle(["productItems", 0, "grossPrice"], Decimal("103.955")), "productItems[0].grossPrice"),
    (mangle(["productItems", 0, "grossPrice"], 103.95), "productItems[0].grossPrice"),
    (mangle(["productItems", 0, "grossPrice"], Decimal("NaN")), "productItems[0].grossPrice"),
    (mangle(["productItems", 0, "grossPrice"], Decimal("1E+400")), "productItems[0].grossPrice"),
    (mangle(["productItems", 0, "priceAdjustments", 0], "5 off"), "productItems[0].priceAdjustments[0]"),
    (mangle(["orderPriceAdjustments", 0, "grossPrice"], delete=True), "orderPriceAdjustments[0].price"),
    (mangle(["orderPriceAdjustments", 0, "grossPrice"], Decimal("6")), "orderPriceAdjustments[0].grossPrice"),
    (mangle(["orderTotal"], delete=True), "orderTotal"),
    (mangle(["shipments"], [{"shipmentId": "00000001"}, {"shipmentId": "00000001"}]), "shipments[1].shipmentId"),
    (mangle(["billingAddress", "postalCode"], ["01803"]), "billingAddress.postalCode"),
    (mangle(["creationDate"], "last tuesday"), "placed_at"),
])
def test_payloads_that_are_not_sfcc_orders_are_unmappable(payload, field):
    assert field in {detail["field"] for detail in unmappable(payload)}


# ---- junk: only ever UnmappablePayload ------------------------------------------------------




FIXTURE_PATHS = [p for load in (simple, full) for p in paths(load()) if p]
junk = json_values([Decimal("NaN"), Decimal("-Infinity"), Decimal("1E+999999"), Decimal("1E-999999"),
                           Decimal("0E+999999999"), Decimal("-6"), Decimal("0.001"), "", " ", "00000001",
                           "shipment1", "gross", "net", "paid", 10**40])


def only_unmappable(payload) -> None:
    try:
        order = to_canonical(payload, received_at=NOW)
    except UnmappablePayload:
        return
    CanonicalOrder.model_validate(order)  # whatever maps is a valid canonical order
    json.dumps(order)


@FAST
@given(junk)
def test_junk_is_only_ever_unmappable(payload):
    only_unmappable(payload)


@FAST
@given(st.sampled_from([simple, full]),
       st.lists(st.tuples(st.sampled_from(FIXTURE_PATHS), junk, st.booleans()), min_size=1, max_size=3))
def test_a_mangled_example_is_mapped_or_unmappable_never_a_crash(load, mutations):
    payload = copy.deepcopy(load())
    for path, value, delete in mutations:
        target = payload
        try:
            for key in path[:-1]:
                target = target[key]
            if delete and isinstance(target, dict):
                del target[path[-1]]
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # not a path of this example, or an earlier mutation removed it
    only_unmappable(payload)
