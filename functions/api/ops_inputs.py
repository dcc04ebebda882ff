"""Bodies of the ops API's requests (imported on first use: pydantic is not free at cold start)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(_Input):
    name: Annotated[str, Field(strict=True, min_length=1, max_length=200)]
    type: Literal["warehouse", "store"]
    priority: StrictInt = 100
    address: dict = Field(default_factory=dict)
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    ships: StrictBool = True
    daily_capacity: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _both_coordinates(self):
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude come together")
        return self


class StockIn(_Input):
    on_hand: Annotated[StrictInt, Field(ge=0, le=10_000_000)]
    safety_stock: Annotated[StrictInt, Field(ge=0, le=10_000_000)] = 0
    bin: Annotated[str, Field(strict=True, min_length=1, max_length=64)] | None = None  # where it is kept there


class ShipLine(_Input):
    sku: Annotated[str, Field(strict=True, min_length=1)]
    quantity: Annotated[StrictInt, Field(gt=0)]


class ShipIn(_Input):
    carrier: Annotated[str, Field(strict=True, min_length=1, max_length=50)]
    tracking_number: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    service: Annotated[str, Field(strict=True, max_length=50)] = "ground"
    lines: list[ShipLine] | None = None


class HoldRelease(_Input):
    reason: Annotated[str, Field(strict=True, min_length=1, max_length=500)]


class CancelLine(_Input):
    line_id: Annotated[str, Field(strict=True, min_length=1, max_length=20)]
    quantity: Annotated[StrictInt, Field(gt=0)]


class CancelIn(_Input):
    """Cancel every unit not shipped yet, or (with lines) so many units of each line."""
    reason: Annotated[str, Field(strict=True, min_length=1, max_length=500)]
    lines: Annotated[list[CancelLine], Field(min_length=1, max_length=500)] | None = None


DecimalAmount = Annotated[str, Field(strict=True, pattern=r"^\d{1,15}(\.\d{1,6})?$", max_length=24)]


class RefundLine(_Input):
    line_id: Annotated[str, Field(strict=True, min_length=1, max_length=20)]
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]


class RefundIn(_Input):
    """An amount, or the units it is for (what they are worth) plus optional shipping."""
    amount: DecimalAmount | None = None
    lines: Annotated[list[RefundLine], Field(min_length=1, max_length=500)] | None = None
    shipping: DecimalAmount | None = None
    reason: Literal["goodwill", "damaged", "price_adjustment", "duplicate", "other"]
    case_id: Annotated[str, Field(strict=True, min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _amount_or_lines(self):
        if (self.amount is None) == (self.lines is None and self.shipping is None):
            raise ValueError("give either amount, or lines (and optionally shipping)")
        return self


class EvidenceIn(_Input):
    submit: StrictBool = False
    overrides: dict[str, Annotated[str, Field(strict=True, max_length=20_000)]] = Field(default_factory=dict)


class ExchangeIn(_Input):
    sku: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    quantity: Annotated[StrictInt, Field(gt=0, le=1000)] | None = None  # as many as come back
    unit_price: DecimalAmount | None = None  # what the returned unit was worth: an even exchange


class ReturnLineIn(_Input):
    """A unit coming back, named by its line or its SKU."""
    line_id: Annotated[str, Field(strict=True, min_length=1, max_length=20)] | None = None
    sku: Annotated[str, Field(strict=True, min_length=1, max_length=100)] | None = None
    quantity: Annotated[StrictInt, Field(gt=0, le=100_000)]
    reason: Annotated[str, Field(strict=True, min_length=1, max_length=40)]
    note: Annotated[str, Field(strict=True, max_length=2000)] | None = None
    exchange_for: ExchangeIn | None = None

    @model_validator(mode="after")
    def _named(self):
        if not self.line_id and not self.sku:
            raise ValueError("name the line by line_id or sku")
        return self


class ReturnIn(_Input):
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=100)]
    ship_replacement: Literal["after_receipt", "immediately"] = "after_receipt"


class ReturnTrackingIn(_Input):
    carrier: Annotated[str, Field(strict=True, min_length=1, max_length=50)]
    tracking_number: Annotated[str, Field(strict=True, min_length=1, max_length=100)]


class ReceivedLine(_Input):
    line_id: Annotated[str, Field(strict=True, min_length=1, max_length=20)]
    quantity: Annotated[StrictInt, Field(gt=0, le=100_000)]
    condition: Literal["sellable", "damaged", "missing"]


class ReceiveIn(_Input):
    location_id: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    lines: Annotated[list[ReceivedLine], Field(min_length=1, max_length=200)]


# ---- customer service -----------------------------------------------------------------------------
Text = Annotated[str, Field(strict=True, min_length=1, max_length=5000)]
Short = Annotated[str, Field(strict=True, min_length=1, max_length=200)]


class InquiryIn(_Input):
    """A customer asks about their order."""
    type: Short
    subject: Short
    message: Text


class ReplyIn(_Input):
    message: Text


class CaseIn(_Input):
    order_id: Annotated[str, Field(strict=True, min_length=1, max_length=64)] | None = None
    type: Short
    subject: Short
    message: Text
    channel: Literal["email", "phone", "chat", "web"]
    priority: Literal["urgent", "high", "normal", "low"] | None = None


class CaseMessageIn(_Input):
    author: Literal["agent", "customer"]
    body: Text
    internal: StrictBool = False


class AssignIn(_Input):
    assignee: Short | None = None
    queue: Annotated[str, Field(strict=True, min_length=1, max_length=50, pattern=r"^[a-z0-9_-]+$")] | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.assignee and not self.queue:
            raise ValueError("give an assignee, a queue or both")
        return self


class CaseStatusIn(_Input):
    status: Literal["open", "waiting_on_customer", "resolved", "closed"]


Minutes = Annotated[float, Field(strict=True, gt=0, le=525_600)]  # up to a year; fractions allowed


class Targets(_Input):
    first_response_minutes: Minutes
    resolution_minutes: Minutes

    @model_validator(mode="after")
    def _ordered(self):
        if self.first_response_minutes > self.resolution_minutes:
            raise ValueError("the first response cannot be due after the resolution")
        return self


class SlaPolicyIn(_Input):
    priorities: Annotated[dict[Literal["urgent", "high", "normal", "low"], Targets], Field(min_length=1)]


class DeliveryGroupChangeIn(_Input):
    """An address in the canonical shape (name, line1, line2, city, region, postal_code, country, phone)."""
    shipping_address: dict | None = None
    shipping_method: Annotated[str, Field(strict=True, min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _something(self):
        if self.shipping_address is None and self.shipping_method is None:
            raise ValueError("give a shipping_address, a shipping_method or both")
        return self


# ---- stock coming in ------------------------------------------------------------------------------
Sku = Annotated[str, Field(strict=True, min_length=1, max_length=100)]
LocationId = Annotated[str, Field(strict=True, min_length=1, max_length=64)]
Units = Annotated[StrictInt, Field(gt=0, le=10_000_000)]


class SkuQuantity(_Input):
    sku: Sku
    quantity: Units


class PurchaseOrderIn(_Input):
    supplier: Short
    location_id: LocationId
    expected_at: Annotated[str, Field(strict=True, min_length=10, max_length=40)]
    # Each line moves a stock item in the order's one transaction (DynamoDB takes 100 items).
    lines: Annotated[list[SkuQuantity], Field(min_length=1, max_length=30)]

    @model_validator(mode="after")
    def _a_real_time(self):
        """A day (`2026-12-10`) or a time with its zone, kept as UTC so due times compare as text."""
        from datetime import UTC, date, datetime

        try:
            if len(self.expected_at) == 10:
                date.fromisoformat(self.expected_at)
                return self
            when = datetime.fromisoformat(self.expected_at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected_at: a date (YYYY-MM-DD) or an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ValueError("expected_at: a time needs its zone (Z or an offset)")
        self.expected_at = when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return self


class ReceiptIn(_Input):
    receipt_id: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    lines: Annotated[list[SkuQuantity], Field(min_length=1, max_length=30)]


class CloseIn(_Input):
    reason: Short = "supplier_short"


class TransferIn(_Input):
    sku: Sku
    from_location_id: LocationId
    to_location_id: LocationId
    quantity: Units


class CountIn(_Input):
    sku: Sku
    on_hand: Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class SnapshotIn(_Input):
    location_id: LocationId
    as_of: Annotated[str, Field(strict=True, min_length=10, max_length=40)]
    mode: Literal["partial", "full"]
    items: Annotated[list[CountIn], Field(min_length=1, max_length=20_000)]
    snapshot_id: Annotated[str, Field(strict=True, min_length=1, max_length=64,
                                      pattern=r"^[A-Za-z0-9._:-]+$")] | None = None


class ChannelPolicyIn(_Input):
    locations: Annotated[list[LocationId], Field(max_length=200)] | None
    buffer_units: Annotated[StrictInt, Field(ge=0, le=10_000_000)] = 0
    share_percent: Annotated[StrictInt, Field(ge=0, le=100)] = 100


class ReplenishmentPolicyIn(_Input):
    lead_time_days: Annotated[float, Field(strict=True, ge=0, le=3650)]
    service_level: Annotated[float, Field(strict=True, gt=0, lt=1)]
    review_period_days: Annotated[float, Field(strict=True, ge=0, le=3650)] = 0
    order_cost: Annotated[float, Field(strict=True, ge=0, le=1e9)] = 0
    holding_cost_per_unit_year: Annotated[float, Field(strict=True, ge=0, le=1e9)] = 0
    min_order_quantity: Annotated[StrictInt, Field(ge=1, le=10_000_000)] = 1
    pack_size: Annotated[StrictInt, Field(ge=1, le=10_000_000)] = 1


# ---- warehouse work ---------------------------------------------------------------------------------

class PickListIn(_Input):
    max_orders: Annotated[StrictInt, Field(ge=1, le=100)] = 20
    fulfillment_order_ids: Annotated[list[Annotated[str, Field(strict=True, min_length=1, max_length=80)]],
                                     Field(min_length=1, max_length=100)] | None = None


class PickIn(_Input):
    fulfillment_order_id: Annotated[str, Field(strict=True, min_length=1, max_length=80)]
    sku: Sku
    quantity_picked: Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class PickConfirmIn(_Input):
    picks: Annotated[list[PickIn], Field(min_length=1, max_length=2000)]


class DimensionsIn(_Input):
    length: Annotated[float, Field(gt=0, le=1000)]
    width: Annotated[float, Field(gt=0, le=1000)]
    height: Annotated[float, Field(gt=0, le=1000)]


class PackageIn(_Input):
    lines: Annotated[list[SkuQuantity], Field(min_length=1, max_length=100)]
    weight_grams: Annotated[StrictInt, Field(gt=0, le=1_000_000)]
    dimensions_cm: DimensionsIn


class PackagesIn(_Input):
    packages: Annotated[list[PackageIn], Field(min_length=1, max_length=50)]


class LabelsIn(_Input):
    rate_id: Annotated[str, Field(strict=True, min_length=1, max_length=100)] | None = None
    strategy: Literal["cheapest", "fastest", "cheapest_on_time"] | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.rate_id is None) == (self.strategy is None):
            raise ValueError("give either rate_id or strategy")
        return self


class RejectIn(_Input):
    reason: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    lines: Annotated[list[SkuQuantity], Field(min_length=1, max_length=100)] | None = None


class ReturnLabelIn(_Input):
    rate_id: Annotated[str, Field(strict=True, min_length=1, max_length=100)] | None = None
    strategy: Literal["cheapest", "fastest", "cheapest_on_time"] | None = None
    location_id: LocationId | None = None  # where it comes back: the location that shipped it, unless named
    weight_grams: Annotated[StrictInt, Field(gt=0, le=1_000_000)] | None = None
    dimensions_cm: DimensionsIn | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if self.rate_id is not None and self.strategy is not None:
            raise ValueError("give rate_id or strategy, not both")
        return self
