"""Business validation: problems become typed holds."""
import pytest

from oms.domain.validation import address_problems, customer_problems, find_problems, totals_problem
from tests.unit.builders import GB_ADDRESS, JP_ADDRESS, US_ADDRESS, canonical_payload, make_order, order_from_payload

KNOWN = {"SKU-A", "SKU-B", "SKU-C"}


def hold_map(order, known=KNOWN) -> dict[str, str]:
    return {hold.type: hold.detail for hold in find_problems(order, known)}


def test_a_valid_order_has_no_problems():
    assert find_problems(make_order(), KNOWN) == []


def test_a_valid_order_with_a_discount_has_no_problems():
    assert find_problems(make_order(discount="4.55"), KNOWN) == []


def test_a_valid_gb_order():
    order = make_order(currency="GBP", address=GB_ADDRESS,
                       customer={"email": "alan@example.co.uk", "phone": "020 7946 0958"})
    assert order.total == 5250
    assert find_problems(order, KNOWN) == []


def test_a_valid_jp_order_in_yen():
    order = make_order([("SKU-A", 2, "1500"), ("SKU-B", 1, "980")], currency="JPY", shipping="500", tax="398",
                       address=JP_ADDRESS, customer={"email": "taro@example.jp", "phone": "03-1234-5678"})
    assert [line.unit_price for line in order.lines] == [1500, 980]
    assert order.total == 1500 * 2 + 980 + 500 + 398
    assert find_problems(order, KNOWN) == []


@pytest.mark.parametrize("postal_code", ["1000", "ABCDE", "100011", ""])
def test_invalid_us_postal_code_is_an_address_problem(postal_code):
    address = {**US_ADDRESS, "postal_code": postal_code}
    holds = hold_map(make_order(address=address))
    assert set(holds) == {"invalid_address"}
    assert "billing_address: postal_code" in holds["invalid_address"]
    assert "delivery group g1: postal_code" in holds["invalid_address"]


def test_postal_code_that_does_not_match_the_state_is_an_address_problem():
    holds = hold_map(make_order(address={**US_ADDRESS, "postal_code": "90210"}))  # a California ZIP in NY
    assert set(holds) == {"invalid_address"}


def test_only_the_bad_delivery_group_is_named():
    order = make_order([("SKU-A", 1, "10.00", "home"), ("SKU-B", 1, "10.00", "office")], delivery_groups=[
        {"group_id": "home", "shipping_address": US_ADDRESS, "shipping_total": "5.00"},
        {"group_id": "office", "shipping_address": {**US_ADDRESS, "city": ""}, "shipping_total": "5.00"}])
    detail = hold_map(order)["invalid_address"]
    assert "delivery group office: city" in detail
    assert "home" not in detail and "billing_address" not in detail


def test_missing_billing_address_is_an_address_problem():
    payload = canonical_payload()
    del payload["billing_address"]
    holds = hold_map(order_from_payload(payload))
    assert holds == {"invalid_address": "billing_address: missing"}


def test_address_problems_reports_each_field():
    problems = address_problems({"name": "X", "line1": "", "city": "", "region": "NY", "postal_code": "10001",
                                 "country": "US"}, "ship_to")
    assert problems == ["ship_to: city required", "ship_to: street_address required"]
    assert address_problems(None, "ship_to") == ["ship_to: missing"]
    assert address_problems(US_ADDRESS, "ship_to") == []


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", "", "ada lovelace@example.com"])
def test_bad_email_is_a_customer_problem(email):
    holds = hold_map(make_order(customer={"email": email}))
    assert set(holds) == {"invalid_customer"}
    assert holds["invalid_customer"].startswith("email:")


@pytest.mark.parametrize("phone", ["12", "+1 000 000 0000", "not a phone", "+44 20"])
def test_invalid_phone_is_a_customer_problem(phone):
    holds = hold_map(make_order(customer={"email": "ada@example.com", "phone": phone}))
    assert set(holds) == {"invalid_customer"}
    assert "phone" in holds["invalid_customer"]


def test_national_phone_numbers_are_read_in_the_shipping_country():
    assert customer_problems({"email": "ada@example.com", "phone": "(201) 555-0123"}, "US") == []
    assert customer_problems({"email": "ada@example.com", "phone": "(201) 555-0123"}, "us") == []
    assert customer_problems({"email": "taro@example.jp", "phone": "03-1234-5678"}, "JP") == []
    assert customer_problems({"email": "taro@example.jp", "phone": "03-1234-5678"}, "US") != []
    assert customer_problems({"email": "ada@example.com", "phone": None}, "US") == []
    assert customer_problems({"email": "ada@example.com"}, None) == []


def test_unknown_sku_is_held_with_the_skus_named():
    order = make_order([("SKU-Z", 1, "10.00"), ("SKU-A", 1, "10.00"), ("SKU-Y", 1, "10.00")])
    holds = hold_map(order)
    assert holds == {"unknown_sku": "unknown SKU(s): SKU-Y, SKU-Z"}


def test_totals_mismatch_is_held():
    order = make_order(total="52.49")
    holds = hold_map(order)
    assert set(holds) == {"totals_mismatch"}
    assert holds["totals_mismatch"] == "total 5249 != lines + shipping + tax - discount = 5250 (minor units)"
    assert totals_problem(make_order()) is None


def test_totals_include_every_delivery_groups_shipping():
    order = make_order([("SKU-A", 1, "10.00", "a"), ("SKU-B", 1, "10.00", "b")], tax="0", delivery_groups=[
        {"group_id": "a", "shipping_address": US_ADDRESS, "shipping_total": "5.00"},
        {"group_id": "b", "shipping_address": US_ADDRESS, "shipping_total": "7.00"}])
    assert order.total == 3200
    assert find_problems(order, KNOWN) == []


def test_every_problem_is_reported_at_once():
    order = make_order([("SKU-Z", 1, "10.00")], address={**US_ADDRESS, "postal_code": "1"},
                       customer={"email": "nope"}, total="1.00")
    assert [hold.type for hold in find_problems(order, KNOWN)] == [
        "invalid_address", "invalid_customer", "unknown_sku", "totals_mismatch"]


def test_validation_holds_feed_the_order():
    order = make_order([("SKU-Z", 1, "10.00")])
    events = order.record_validation(find_problems(order, KNOWN))
    assert [e.data["hold_type"] for e in events] == ["unknown_sku"]
    assert order.status == "on_hold"
