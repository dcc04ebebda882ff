"""Shopify orders/create (API 2024-10) to the canonical order: the documented example as saved,
synthetic variants whose totals must reconcile, deliberate edge cases, and junk that must only
ever be refused as UnmappablePayload."""
import copy
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.adapters.channels.shopify_orders import to_canonical
from oms.domain.money import to_minor
from oms.domain.validation import find_problems, totals_problem
from oms.services.canonical import CanonicalOrder, UnmappablePayload
from tests.support.fixtures import fixture
from tests.support.junk import json_values, paths
from tests.unit.builders import order_from_payload

FIXTURE = "shopify/orders-create-2024-10.json"
SHOP = "jsmith.myshopify.com"
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def example() -> dict:
    return fixture(FIXTURE)


def mapped(payload: dict | None = None, shop_domain: str | None = SHOP) -> dict:
    return to_canonical(example() if payload is None else payload, shop_domain=shop_domain)


def cents(amount: str) -> int:
    return to_minor(amount, "USD")


def reconciles(order: dict) -> bool:
    """The validation rule, on the canonical dict: lines + shipping + tax (unless included) - discount."""
    merchandise = sum(cents(line["unit_price"]) * line["quantity"] for line in order["lines"])
    tax = 0 if order["taxes_included"] else cents(order["tax_total"])
    return merchandise + cents(order["shipping_total"]) + tax - cents(order["discount_total"]) == cents(order["total"])


def unmappable(payload) -> list[dict]:
    with pytest.raises(UnmappablePayload) as error:
        to_canonical(payload, shop_domain=SHOP)
    return error.value.details


# ---- the documented example -------------------------------------------------------------------

def test_the_documented_example_maps_to_a_valid_canonical_order():
    order = mapped()
    CanonicalOrder.model_validate(order)
    json.dumps(order)  # stored as JSON as is
    assert order["external_id"] == "820982911946154508"  # exact, from admin_graphql_api_id, not the rounded id
    assert order["channel_order_number"] == "#9999"
    assert order["placed_at"] == "2021-12-31T19:00:00-05:00"
    assert order["currency"] == "USD"
    assert order["customer"] == {"email": "jon@example.com", "first_name": "John", "last_name": "Smith",
                                 "phone": None, "customer_id": "115310627314723954"}
    assert order["shipping_address"] == {"name": "Steve Shipper", "line1": "123 Shipping Street", "line2": "",
                                         "city": "Shippington", "region": "KY", "postal_code": "40003",
                                         "country": "US", "phone": "555-555-SHIP"}
    assert order["billing_address"] == order["shipping_address"]
    assert order["shipping_method"] == "Generic Shipping"
    lines = [(line["sku"], line["quantity"], line["unit_price"], line["channel_line_id"]) for line in order["lines"]]
    assert lines == [
        ("SKU2006-001", 1, "89.99", "487817672276298554"),
        ("SKU2006-020", 1, "159.99", "976318377106520349"),
        ("SKU2006-035", 1, "119.99", "315789986012684393"),
    ]
    assert all(line["requires_shipping"] and line["discount"] == "0.00" and line["tax"] == "0.00"
               for line in order["lines"])
    assert order["attributes"] == {"tags": "tag1, tag2"}


def test_the_documented_example_is_a_voided_cancelled_order_kept_mappable_with_its_state_in_context():
    order = mapped()
    # financial_status "voided": nothing was collected, so the OMS waits (pending) and a person decides.
    assert order["payment"] == {"method": "channel", "status": "pending", "gateway": "visa",
                                "reference": "820982911946154508"}
    assert order["channel_context"] == {
        "shop_domain": SHOP, "order_id": "820982911946154508",
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "financial_status": "voided", "cancelled_at": "2021-12-31T19:00:00-05:00", "cancel_reason": "customer"}


def test_the_documented_example_numbers_and_why_its_totals_still_reconcile():
    payload = example()
    # What the example says: three lines 89.99 + 159.99 + 119.99 = 369.97 (total_line_items_price),
    # shipping 10.00, no tax, total_discounts 20.00 yet no discount_applications or allocations
    # anywhere, total_price 359.97. It contradicts itself elsewhere: subtotal_price 359.97 should be
    # 369.97 - 20.00 = 349.97, and current_total_price / total_outstanding say 369.97.
    assert payload["total_line_items_price"] == "369.97"
    assert payload["total_discounts"] == "20.00" and payload["discount_applications"] == []
    assert payload["subtotal_price"] == "359.97" and payload["current_total_price"] == "369.97"
    assert payload["total_price"] == "359.97" and payload["total_tax"] == "0.00"
    order = mapped(payload)
    # Mapped faithfully: the unallocated 20.00 is an order-level discount, the total is total_price.
    assert (order["shipping_total"], order["tax_total"], order["discount_total"], order["total"]) == (
        "10.00", "0.00", "20.00", "359.97")
    # 369.97 + 10.00 + 0.00 - 20.00 = 359.97: the figures that matter agree, so validation will not hold
    # it for totals (only subtotal_price is off, and the canonical order does not carry it).
    assert reconciles(order)
    built = order_from_payload(order)
    assert totals_problem(built) is None
    assert "totals_mismatch" not in {hold.type for hold in find_problems(built, {"SKU2006-001"})}


def test_the_mapped_order_builds_an_order():
    built = order_from_payload(mapped())
    assert built.external_id == "820982911946154508" and built.channel_order_number == "#9999"
    assert built.placed_at == "2022-01-01T00:00:00Z"
    assert [line.sku for line in built.lines] == ["SKU2006-001", "SKU2006-020", "SKU2006-035"]
    assert (built.total, built.discount_total, built.shipping_total) == (35997, 2000, 1000)
    assert built.payment.method == "channel" and built.payment.reference == "820982911946154508"


# ---- synthetic orders: the totals must reconcile ----------------------------------------------

def money(minor: int) -> str:
    return f"{Decimal(minor).scaleb(-2):.2f}"


def allocations(*amounts: int) -> list[dict]:
    return [{"amount": money(a), "discount_application_index": 0} for a in amounts]


def synthetic(lines: list[tuple[int, int, list[int], list[int]]], shipping: list[tuple[int, list[int], int]],
              *, unallocated: int = 0, taxes_included: bool = False, shipping_in_total_discounts: bool = True) -> dict:
    """A Shopify order computed the way Shopify computes it. lines: (price, quantity, discount
    allocations, tax lines); shipping: (price, discount allocations, tax), all in cents."""
    payload = example()
    template = payload["line_items"][0]
    payload["line_items"] = []
    for n, (price, quantity, discounts, taxes) in enumerate(lines):
        item = copy.deepcopy(template)
        item.update(id=1000 + n, admin_graphql_api_id=f"gid://shopify/LineItem/{1000 + n}", sku=f"SKU-{n}",
                    price=money(price), quantity=quantity, discount_allocations=allocations(*discounts),
                    total_discount=money(sum(discounts)), tax_lines=[{"price": money(t), "rate": 0.1} for t in taxes])
        payload["line_items"].append(item)
    payload["shipping_lines"] = [{"title": f"Method {n}", "code": None, "price": money(price),
                                  "discount_allocations": allocations(*discounts),
                                  "tax_lines": [{"price": money(tax)}] if tax else []}
                                 for n, (price, discounts, tax) in enumerate(shipping)]
    items = sum(price * quantity for price, quantity, _, _ in lines)
    line_discounts = sum(sum(discounts) for _, _, discounts, _ in lines)
    shipping_price = sum(price for price, _, _ in shipping)
    shipping_discounts = sum(sum(discounts) for _, discounts, _ in shipping)
    tax = sum(sum(taxes) for _, _, _, taxes in lines) + sum(t for _, _, t in shipping)
    total_discounts = line_discounts + unallocated + (shipping_discounts if shipping_in_total_discounts else 0)
    total = items - line_discounts - unallocated + shipping_price - shipping_discounts + (0 if taxes_included else tax)
    payload.update(total_line_items_price=money(items), subtotal_price=money(items - line_discounts - unallocated),
                   total_discounts=money(total_discounts), total_tax=money(tax), taxes_included=taxes_included,
                   total_price=money(total), tax_lines=[])
    payload["total_shipping_price_set"]["shop_money"]["amount"] = money(shipping_price)
    return payload


def assert_carries_the_channel_totals(payload: dict) -> dict:
    order = mapped(payload)
    CanonicalOrder.model_validate(order)
    shipping = sum(cents(s["price"]) - sum(cents(a["amount"]) for a in s["discount_allocations"])
                   for s in payload["shipping_lines"])
    assert order["total"] == payload["total_price"]
    assert order["tax_total"] == payload["total_tax"]
    assert cents(order["shipping_total"]) == shipping
    assert order["taxes_included"] is payload["taxes_included"]
    assert reconciles(order), order
    assert totals_problem(order_from_payload(order)) is None
    return order


def test_discounts_taxes_and_several_shipping_lines_reconcile():
    payload = synthetic([(2500, 2, [500], [450]), (999, 3, [], [300]), (10000, 1, [1000, 250], [875])],
                        [(800, [800], 0), (1500, [], 150)])
    order = assert_carries_the_channel_totals(payload)
    assert [line["discount"] for line in order["lines"]] == ["5.00", "0.00", "12.50"]
    assert [line["tax"] for line in order["lines"]] == ["4.50", "3.00", "8.75"]
    assert order["shipping_total"] == "15.00" and order["shipping_method"] == "Method 0"
    assert order["discount_total"] == "17.50"  # lines only: the free shipping is in shipping_total


def test_prices_including_tax_reconcile_without_adding_the_tax():
    payload = synthetic([(1200, 2, [200], [367]), (600, 1, [], [100])], [(500, [], 83)], taxes_included=True)
    order = assert_carries_the_channel_totals(payload)
    assert order["taxes_included"] is True and order["tax_total"] == "5.50"


@pytest.mark.parametrize("shipping_in_total_discounts", [True, False])
def test_shipping_discounts_are_not_counted_twice_whichever_way_total_discounts_counts_them(
        shipping_in_total_discounts):
    payload = synthetic([(5000, 1, [1000], [])], [(700, [700], 0)],
                        shipping_in_total_discounts=shipping_in_total_discounts)
    order = assert_carries_the_channel_totals(payload)
    assert (order["shipping_total"], order["discount_total"]) == ("0.00", "10.00")


def test_an_order_discount_shopify_did_not_allocate_is_kept_at_order_level():
    order = assert_carries_the_channel_totals(synthetic([(3000, 1, [], []), (2000, 1, [], [])], [(500, [], 0)],
                                                        unallocated=700))
    assert order["discount_total"] == "7.00" and {line["discount"] for line in order["lines"]} == {"0.00"}


line_spec = st.tuples(st.integers(1, 50_000), st.integers(1, 5), st.lists(st.integers(0, 2_000), max_size=2),
                      st.lists(st.integers(0, 3_000), max_size=2))
shipping_spec = st.tuples(st.integers(0, 3_000), st.lists(st.integers(0, 500), max_size=1), st.integers(0, 400))


@FAST
@given(lines=st.lists(line_spec, min_size=1, max_size=4), shipping=st.lists(shipping_spec, max_size=3),
       unallocated=st.integers(0, 1_000), taxes_included=st.booleans(), shipping_in_total_discounts=st.booleans())
def test_any_synthetic_order_carries_the_channel_totals_and_reconciles(lines, shipping, unallocated, taxes_included,
                                                                       shipping_in_total_discounts):
    # Discounts never exceed what they discount, as in Shopify.
    lines = [(p, q, [min(d, p * q // 4) for d in ds], ts) for p, q, ds, ts in lines]
    shipping = [(p, [min(d, p) for d in ds], t) for p, ds, t in shipping]
    unallocated = min(unallocated, lines[0][0] // 4)
    if not shipping_in_total_discounts and unallocated:
        # Then total_discounts alone cannot tell an unallocated discount from a shipping one; Shopify
        # allocates every discount in practice, so only the allocated case is claimed.
        unallocated = 0
    assert_carries_the_channel_totals(synthetic(lines, shipping, unallocated=unallocated,
                                                taxes_included=taxes_included,
                                                shipping_in_total_discounts=shipping_in_total_discounts))


def test_without_shipping_lines_the_order_shipping_price_is_used():
    payload = example()
    payload["shipping_lines"] = []
    order = mapped(payload)
    assert order["shipping_total"] == "10.00" and order["shipping_method"] is None


# ---- line discounts: current field, deprecated field, never both -------------------------------

def test_line_discount_comes_from_discount_allocations_not_also_total_discount():
    payload = example()
    payload["line_items"][0].update(total_discount="5.00", discount_allocations=allocations(500))
    assert mapped(payload)["lines"][0]["discount"] == "5.00"


def test_the_deprecated_total_discount_is_read_only_when_there_are_no_allocations():
    payload = example()
    del payload["line_items"][0]["discount_allocations"]
    payload["line_items"][0]["total_discount"] = "5.00"
    assert mapped(payload)["lines"][0]["discount"] == "5.00"


# ---- deliberate line cases -------------------------------------------------------------------

@pytest.mark.parametrize("sku", [None, "", "  "])
def test_a_line_without_sku_maps_to_an_empty_sku_and_validation_holds_it(sku):
    payload = example()
    payload["line_items"][1]["sku"] = sku
    order = mapped(payload)
    assert order["lines"][1]["sku"] == ""
    holds = find_problems(order_from_payload(order), {"SKU2006-001", "SKU2006-035"})
    assert [hold.type for hold in holds] == ["unknown_sku"]


def test_a_gift_card_line_is_not_shipped_and_gets_a_sku_named_after_its_line():
    payload = example()
    payload["line_items"][0].update(gift_card=True, sku=None, requires_shipping=True)
    payload["line_items"][2]["gift_card"] = True  # has a SKU: kept
    lines = mapped(payload)["lines"]
    assert (lines[0]["sku"], lines[0]["requires_shipping"]) == ("gift-card-487817672276298554", False)
    assert (lines[2]["sku"], lines[2]["requires_shipping"]) == ("SKU2006-035", False)
    assert lines[1]["requires_shipping"] is True


def test_a_digital_line_keeps_requires_shipping_false():
    payload = example()
    payload["line_items"][1]["requires_shipping"] = False
    assert [line["requires_shipping"] for line in mapped(payload)["lines"]] == [True, False, True]


def test_duplicate_skus_on_separate_lines_stay_separate_lines():
    payload = example()
    payload["line_items"][1]["sku"] = "SKU2006-001"
    lines = mapped(payload)["lines"]
    assert [(line["sku"], line["channel_line_id"]) for line in lines[:2]] == [
        ("SKU2006-001", "487817672276298554"), ("SKU2006-001", "976318377106520349")]


# ---- ids -------------------------------------------------------------------------------------

def test_without_a_graphql_id_the_numeric_id_is_used():
    payload = example()
    del payload["admin_graphql_api_id"]
    payload["line_items"][0]["admin_graphql_api_id"] = "gid://shopify/Order/1"  # wrong kind: not trusted
    order = mapped(payload)
    assert order["external_id"] == "820982911946154500"
    assert order["lines"][0]["channel_line_id"] == "487817672276298560"


def test_a_line_without_any_id_has_no_channel_line_id():
    payload = example()
    del payload["line_items"][0]["id"], payload["line_items"][0]["admin_graphql_api_id"]
    assert mapped(payload)["lines"][0]["channel_line_id"] is None


# ---- customer, addresses, payment, context, attributes ----------------------------------------

def test_customer_falls_back_to_contact_email_customer_email_and_billing_names():
    payload = example()
    payload["email"] = None
    payload["customer"].update(first_name=None, last_name=None, phone="+16135550123")
    customer = mapped(payload)["customer"]
    assert (customer["email"], customer["first_name"], customer["last_name"], customer["phone"]) == (
        "jon@example.com", "Steve", "Shipper", "+16135550123")
    payload["contact_email"] = ""
    assert mapped(payload)["customer"]["email"] == "john@example.com"


def test_a_guest_order_without_customer_or_email_maps_and_validation_holds_it():
    payload = example()
    payload.update(customer=None, email=None, contact_email=None)
    order = mapped(payload)
    assert order["customer"] == {"email": "", "first_name": "Steve", "last_name": "Shipper", "phone": None,
                                 "customer_id": None}
    assert "invalid_customer" in {hold.type for hold in find_problems(order_from_payload(order), set())}


def test_address_coordinates_and_province_fallback():
    payload = example()
    payload["shipping_address"].update(latitude=45.41634, longitude=Decimal("-75.6868"), province_code=None,
                                       address2="Unit 4", name=None)
    address = mapped(payload)["shipping_address"]
    assert (address["latitude"], address["longitude"]) == (45.41634, -75.6868)
    assert (address["region"], address["line2"], address["name"]) == ("Kentucky", "Unit 4", "Steve Shipper")


def test_no_shipping_address_maps_to_none_for_validation_to_hold():
    payload = example()
    payload["shipping_address"] = None
    order = mapped(payload)
    assert order["shipping_address"] is None
    assert "invalid_address" in {hold.type for hold in find_problems(order_from_payload(order), set())}


@pytest.mark.parametrize(("financial_status", "status"), [
    ("paid", "paid"), ("partially_paid", "paid"), ("authorized", "authorized"), ("pending", "pending"),
    ("voided", "pending"), ("refunded", "pending"), ("partially_refunded", "pending"), ("expired", "pending"),
    (None, "pending"), (["paid"], "pending")])
def test_payment_status_follows_financial_status(financial_status, status):
    payload = example()
    payload["financial_status"] = financial_status
    assert mapped(payload)["payment"]["status"] == status


def test_context_without_shop_domain_and_without_cancellation():
    payload = example()
    payload.update(cancelled_at=None, cancel_reason=None, financial_status="paid")
    assert mapped(payload, shop_domain=None)["channel_context"] == {
        "order_id": "820982911946154508", "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "financial_status": "paid"}


def test_note_attributes_tags_and_note_become_attributes():
    payload = example()
    payload.update(note="leave at the door", note_attributes=[{"name": "gift_wrap", "value": "yes"},
                                                              {"name": "points", "value": Decimal("1.50")},
                                                              "junk", {"value": "no name"}])
    assert mapped(payload)["attributes"] == {"gift_wrap": "yes", "points": "1.50", "tags": "tag1, tag2",
                                             "note": "leave at the door"}


# ---- refused: not a Shopify order -----------------------------------------------------------

def mangle(path: list, value=None, *, delete: bool = False) -> dict:
    payload = example()
    target = payload
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


@pytest.mark.parametrize(("payload", "field"), [
    (None, "order"), ([], "order"), ("order", "order"),
    (mangle(["id"], delete=True) | {"admin_graphql_api_id": None}, "id"),
    (mangle(["line_items"], {"0": {}}), "line_items"),
    (mangle(["line_items"], []), "lines"),
    (mangle(["line_items", 0, "quantity"], delete=True), "line_items[0].quantity"),
    (mangle(["line_items", 0, "quantity"], 0), "line_items[0].quantity"),
    (mangle(["line_items", 0, "quantity"], "1"), "line_items[0].quantity"),
    (mangle(["line_items", 1, "price"], delete=True), "line_items[1].price"),
    (mangle(["line_items", 1, "price"], "12.3.4"), "line_items[1].price"),
    (mangle(["line_items", 1, "price"], "1.234"), "line_items[1].price"),
    (mangle(["line_items", 1, "price"], 159.99), "line_items[1].price"),
    (mangle(["line_items", 1, "price"], "1e999999"), "line_items[1].price"),
    (mangle(["line_items", 1, "price"], "NaN"), "line_items[1].price"),
    (mangle(["line_items", 1, "price"], "-1.00"), "lines.1.unit_price"),
    (mangle(["line_items", 2], "a line"), "line_items[2]"),
    (mangle(["line_items", 2, "tax_lines"], [{"price": None}]), "line_items[2].tax_lines[0].price"),
    (mangle(["currency"], "ZZZ"), "currency"),
    (mangle(["currency"], None), "currency"),
    (mangle(["total_price"], delete=True), "total_price"),
    (mangle(["total_discounts"], "twenty"), "total_discounts"),
    (mangle(["shipping_lines", 0, "price"], "free"), "shipping_lines[0].price"),
    (mangle(["processed_at"], None) | {"created_at": None}, "placed_at"),
    (mangle(["processed_at"], "yesterday"), "placed_at"),
    (mangle(["customer"], "jon"), "customer"),
    (mangle(["billing_address", "zip"], {"code": 1}), "billing_address.zip"),
    (mangle(["taxes_included"], "no"), "taxes_included"),
])
def test_payloads_that_are_not_shopify_orders_are_unmappable(payload, field):
    assert field in {detail["field"] for detail in unmappable(payload)}


# ---- junk: only ever UnmappablePayload ------------------------------------------------------




FIXTURE_PATHS = [p for p in paths(example()) if p]
junk = json_values(["", " ", "1e999999", "NaN", "-Infinity", "0.001", "-5.00", "12.3.4", "gid://shopify/Order/",
                           "9" * 40, "\x00", "USD", "paid"])


def only_unmappable(payload) -> None:
    try:
        order = to_canonical(payload, shop_domain=SHOP)
    except UnmappablePayload:
        return
    CanonicalOrder.model_validate(order)  # whatever maps is a valid canonical order
    json.dumps(order)


@FAST
@given(junk)
def test_junk_is_only_ever_unmappable(payload):
    only_unmappable(payload)


@FAST
@given(st.lists(st.tuples(st.sampled_from(FIXTURE_PATHS), junk, st.booleans()), min_size=1, max_size=3))
def test_a_mangled_example_is_mapped_or_unmappable_never_a_crash(mutations):
    payload = example()
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
            continue  # an earlier mutation removed the path
    only_unmappable(payload)
