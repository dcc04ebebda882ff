"""Which rate a label strategy buys."""
import pytest

from oms.domain.holds import OrderRuleViolation
from oms.domain.order_warehouse import choose_rate

RATES = [{"rate_id": "r1", "carrier": "USPS", "service": "GroundAdvantage", "amount": "6.10", "delivery_days": 5},
         {"rate_id": "r2", "carrier": "UPS", "service": "Ground", "amount": "6.10", "delivery_days": 4},
         {"rate_id": "r3", "carrier": "USPS", "service": "Priority", "amount": "9.85", "delivery_days": 2},
         {"rate_id": "r4", "carrier": "FedEx", "service": "2Day", "amount": "14.20", "delivery_days": 2},
         {"rate_id": "r5", "carrier": "UPS", "service": "NextDayAir", "amount": "31.00", "delivery_days": 1},
         {"rate_id": "r6", "carrier": "Freight", "service": "Whenever", "amount": "4.00", "delivery_days": None}]


def test_cheapest_takes_the_lowest_amount_then_the_fewer_days():
    assert choose_rate(RATES, "cheapest", None)["rate_id"] == "r6"
    assert choose_rate(RATES[:5], "cheapest", None)["rate_id"] == "r2"  # 6.10 twice: 4 days beats 5


def test_fastest_takes_the_fewest_days_then_the_lower_amount_and_unknown_days_last():
    assert choose_rate(RATES, "fastest", None)["rate_id"] == "r5"
    assert choose_rate([r for r in RATES if r["rate_id"] != "r5"], "fastest", None)["rate_id"] == "r3"
    assert choose_rate([RATES[5], RATES[0]], "fastest", None)["rate_id"] == "r1"


def test_cheapest_on_time_is_the_cheapest_within_the_promise():
    assert choose_rate(RATES, "cheapest_on_time", 2)["rate_id"] == "r3"
    assert choose_rate(RATES, "cheapest_on_time", 4)["rate_id"] == "r2"
    assert choose_rate(RATES, "cheapest_on_time", 1)["rate_id"] == "r5"
    with pytest.raises(OrderRuleViolation) as refused:
        choose_rate(RATES, "cheapest_on_time", 0)
    assert refused.value.code == "no_rate_on_time"
    with pytest.raises(OrderRuleViolation):
        choose_rate([], "cheapest", None)
