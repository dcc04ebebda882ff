"""Money: integer minor units with the ISO 4217 exponent; decimal strings at the edge only."""
from decimal import Decimal

import pytest

from oms.domain.money import Money, MoneyError, currency_exponent, to_decimal_string, to_minor


@pytest.mark.parametrize("currency, exponent", [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3),
                                                ("usd", 2)])
def test_currency_exponent_comes_from_iso_4217(currency, exponent):
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize("currency", ["ZZZ", "US", "", "DOLLARS"])
def test_unknown_currency_is_refused(currency):
    with pytest.raises(MoneyError, match="unknown ISO 4217 currency"):
        currency_exponent(currency)
    with pytest.raises(MoneyError):
        to_minor("1.00", currency)
    with pytest.raises(MoneyError):
        to_decimal_string(100, currency)


def test_non_string_currency_is_refused():
    with pytest.raises(MoneyError):
        currency_exponent(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount, currency, minor", [
    ("19.99", "USD", 1999),
    ("19.9", "USD", 1990),
    ("19", "USD", 1900),
    ("0", "USD", 0),
    ("0.01", "USD", 1),
    ("19.990000", "USD", 1999),       # trailing zeros are not extra precision
    (" 7.50 ", "USD", 750),
    ("-5.25", "USD", -525),
    ("1000000000.00", "USD", 100000000000),
    ("1500", "JPY", 1500),
    ("1500.0", "JPY", 1500),
    ("0", "JPY", 0),
    ("12.345", "KWD", 12345),
    ("12.3", "KWD", 12300),
    ("12", "KWD", 12000),
    (Decimal("19.99"), "USD", 1999),
    (42, "USD", 4200),
    (42, "JPY", 42),
    ("19.99", "usd", 1999),
])
def test_to_minor(amount, currency, minor):
    result = to_minor(amount, currency)
    assert result == minor
    assert type(result) is int


@pytest.mark.parametrize("minor, currency, text", [
    (1999, "USD", "19.99"),
    (1990, "USD", "19.90"),
    (5, "USD", "0.05"),
    (0, "USD", "0.00"),
    (-525, "USD", "-5.25"),
    (1500, "JPY", "1500"),
    (0, "JPY", "0"),
    (12345, "KWD", "12.345"),
    (12000, "KWD", "12.000"),
    (1, "KWD", "0.001"),
    (10**15 + 1, "USD", "10000000000000.01"),
])
def test_to_decimal_string(minor, currency, text):
    assert to_decimal_string(minor, currency) == text


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
@pytest.mark.parametrize("minor", [0, 1, 7, 99, 100, 101, 123456, 10**12 + 3])
def test_round_trip(minor, currency):
    assert to_minor(to_decimal_string(minor, currency), currency) == minor


@pytest.mark.parametrize("amount", [19.99, 20.0, 0.0, float("nan"), float("inf")])
def test_floats_are_refused(amount):
    with pytest.raises(MoneyError, match="decimal string"):
        to_minor(amount, "USD")


@pytest.mark.parametrize("amount", [True, False])
def test_booleans_are_refused(amount):
    with pytest.raises(MoneyError):
        to_minor(amount, "USD")


@pytest.mark.parametrize("amount, currency", [
    ("19.999", "USD"),
    ("0.001", "USD"),
    ("1.5", "JPY"),
    ("0.1", "JPY"),
    ("12.3456", "KWD"),
    (Decimal("0.005"), "USD"),
])
def test_extra_precision_is_refused(amount, currency):
    with pytest.raises(MoneyError, match=f"more decimals than {currency}"):
        to_minor(amount, currency)


@pytest.mark.parametrize("amount", ["", "abc", "1,50", "$1.50", "1.2.3", "ten", None, [], "0x10"])
def test_non_numbers_are_refused(amount):
    with pytest.raises(MoneyError):
        to_minor(amount, "USD")


@pytest.mark.parametrize("amount", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", Decimal("NaN"),
                                    Decimal("Infinity")])
def test_nan_and_infinity_are_refused(amount):
    with pytest.raises(MoneyError, match="finite"):
        to_minor(amount, "USD")


def test_money_error_is_a_value_error():
    assert issubclass(MoneyError, ValueError)


def test_money_value_object_formats_itself():
    assert str(Money(1999, "USD")) == "19.99"
    assert str(Money(1500, "JPY")) == "1500"
    assert str(Money(12345, "KWD")) == "12.345"
    assert Money(1, "USD") == Money(1, "USD")
    with pytest.raises(AttributeError):
        Money(1, "USD").minor = 2  # type: ignore[misc]


def test_long_amount_with_extra_precision_is_refused_not_rounded():
    # 29 integer digits + 3 decimals: scaled by 10**2 it has 32 significant digits and the
    # default context rounds the fractional .1 cent away, so the amount is accepted.
    with pytest.raises(MoneyError):
        to_minor("12345678901234567890123456789.001", "USD")
