"""The local carrier service's tariff: deterministic rates by weight and distance band, and
tracking codes in each carrier's usual form (see infra/local_carrier.py)."""
from __future__ import annotations

import hashlib
import math
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

# (carrier, service, price for the first pound, each further pound, days near, days far, guaranteed)
# Prices grow 12 % per distance band, days from "near" (same ZIP region) to "far" (opposite coast).
SERVICES = (
    ("USPS", "GroundAdvantage", "5.40", "0.85", 2, 5, False),
    ("USPS", "Priority", "8.70", "1.40", 1, 3, False),
    ("USPS", "Express", "28.75", "2.90", 1, 2, True),
    ("UPS", "Ground", "9.85", "1.05", 1, 5, False),
    ("UPS", "2ndDayAir", "19.60", "2.20", 2, 2, True),
    ("FedEx", "FEDEX_GROUND", "9.60", "1.10", 1, 5, False),
    ("FedEx", "FEDEX_2_DAY", "21.10", "2.35", 2, 2, True),
)

def band(from_zip: str | None, to_zip: str | None) -> int:
    """0 (same ZIP region) to 9 (coast to coast), from the ZIP codes' first digits; 9 if unknown."""
    first = [(z or "").strip()[:1] for z in (from_zip, to_zip)]
    if not all(digit.isdigit() for digit in first):
        return 9
    return abs(int(first[0]) - int(first[1]))


def rate(service: tuple, shipment_id: str, weight_oz: float, band: int, now: str) -> dict:
    carrier, name, first, each, near, far, guaranteed = service
    pounds = max(1, math.ceil(weight_oz / 16))  # carriers bill each started pound
    price = ((Decimal(first) + Decimal(each) * (pounds - 1)) * (1 + Decimal("0.12") * band))
    cents = Decimal("0.01")
    days = near + round((far - near) * band / 9)
    delivery = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(days=days)
    return {"id": f"rate_{uuid.uuid4().hex}", "object": "Rate", "created_at": now, "updated_at": now, "mode": "test",
            "service": name, "carrier": carrier,
            "rate": str(price.quantize(cents, ROUND_HALF_UP)), "currency": "USD",
            "retail_rate": str((price * Decimal("1.25")).quantize(cents, ROUND_HALF_UP)), "retail_currency": "USD",
            "list_rate": str((price * Decimal("1.10")).quantize(cents, ROUND_HALF_UP)), "list_currency": "USD",
            "billing_type": "easypost", "delivery_days": days, "est_delivery_days": days,
            "delivery_date": delivery.strftime("%Y-%m-%dT00:00:00Z"), "delivery_date_guaranteed": guaranteed,
            "shipment_id": shipment_id,
            "carrier_account_id": "ca_" + hashlib.sha256(carrier.encode()).hexdigest()[:32]}


def tracking_code(carrier: str, shipment_id: str) -> str:
    """The same shipment always gets the same code, in its carrier's usual form."""
    digest = hashlib.sha256(shipment_id.encode()).hexdigest()
    digits = str(int(digest, 16))
    if carrier == "USPS":
        return "9400" + digits[:18]  # 22 digits, as USPS Tracking numbers
    if carrier == "UPS":
        return "1Z" + digest[:16].upper()  # 1Z and 16 characters
    return digits[:12]  # FedEx: 12 digits
