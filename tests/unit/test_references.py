"""Order references as customers type them."""
from __future__ import annotations

import pytest

from oms.domain.references import channel_number_key, normalise_order_number, reference_keys


@pytest.mark.parametrize("typed", ["7KQ2-M9XD", "7kq2-m9xd", "7KQ2M9XD", " 7kq2m9xd ", "7KQ2-M9XD".lower()])
def test_the_oms_number_in_any_case_with_or_without_its_dash(typed):
    assert normalise_order_number(typed) == "7KQ2-M9XD"


def test_look_alike_letters_are_forgiven_and_what_cannot_be_a_number_is_none():
    assert normalise_order_number("7KQ2-M9XO") == "7KQ2-M9X0" and normalise_order_number("lI00-0000") == "1100-0000"
    assert normalise_order_number("1001") is None and normalise_order_number("7KQ2-M9X#") is None


@pytest.mark.parametrize("typed", ["#1001", "1001", "%231001", " # 1001", "%20%231001"])
def test_the_channels_number_with_or_without_its_hash_encoded_or_not(typed):
    assert reference_keys(typed)[1] == "1001" == channel_number_key("#1001")


def test_an_sfcc_number_keeps_its_zeros_and_letters_lose_their_case():
    assert channel_number_key("00001234") == "00001234" and channel_number_key("web-ab12") == "WEB-AB12"
