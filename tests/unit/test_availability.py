"""What a channel may sell: ATF over its locations, its share, less its buffer; ATO adds what is due."""
from __future__ import annotations

from oms.domain.availability import ChannelPolicy, availability
from oms.domain.inventory import StockLevel

LEVELS = [StockLevel("A", "WH1", 100, 30, 10), StockLevel("A", "STORE1", 8, 0, 0), StockLevel("A", "WH2", 5, 9, 0)]


def test_without_a_policy_every_location_counts_and_nothing_is_held_back():
    assert availability("A", LEVELS, ChannelPolicy(), expected=0) == {"sku": "A", "atf": 68, "ato": 68}  # 60+8+0


def test_a_channel_sells_from_its_locations_its_share_less_its_buffer():
    policy = ChannelPolicy(locations=("WH1",), buffer_units=5, share_percent=50)
    assert availability("A", LEVELS, policy, expected=20) == {"sku": "A", "atf": 25, "ato": 35}


def test_the_buffer_never_takes_atf_below_zero_and_ato_still_counts_what_is_due():
    policy = ChannelPolicy(locations=("STORE1",), buffer_units=20)
    assert availability("A", LEVELS, policy, expected=12) == {"sku": "A", "atf": 0, "ato": 12}
