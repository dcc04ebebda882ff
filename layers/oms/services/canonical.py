"""The canonical order every channel maps to (the generic webhook's body), parsed with
Powertools Parser models. Structural problems are refused (422); business problems are not
judged here but by validation, which holds the order."""
from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from oms.domain.money import MoneyError, currency_exponent, to_minor
from oms.domain.order import DeliveryGroup, Line, Order, Payment

DecimalString = Annotated[str, Field(strict=True, pattern=r"^\d{1,15}(\.\d{1,6})?$", max_length=24)]
Text = Annotated[str, Field(strict=True, max_length=500)]
Id = Annotated[str, Field(strict=True, min_length=1, max_length=128)]
# A SKU may be empty: a channel line without one is mapped, then held by validation.
Sku = Annotated[str, Field(strict=True, max_length=128)]


def utc_text(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _in_utc(moment):
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("date-time out of range") from None


# A date-time with an offset, held in UTC (refused, not crashed on, when UTC cannot hold it).
Moment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class UnmappablePayload(ValueError):
    """A channel's or carrier's payload that its mapper cannot understand (a 422 with details)."""

    def __init__(self, details: list[dict]):
        super().__init__("; ".join(f"{d['field']}: {d['problem']}" for d in details))
        self.details = details


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Address(_Model):
    name: Text = ""
    line1: Text = ""
    line2: Text = ""
    city: Text = ""
    region: Text = ""
    postal_code: Text = ""
    country: Text = ""
    phone: Text | None = None
    latitude: float | None = None
    longitude: float | None = None


class Customer(_Model):
    email: Text
    first_name: Text = ""
    last_name: Text = ""
    phone: Text | None = None
    customer_id: Text | None = None


class OrderLine(_Model):
    sku: Sku
    quantity: Annotated[StrictInt, Field(gt=0, le=100_000)]
    unit_price: DecimalString
    name: Text | None = None
    delivery_group: Id | None = None
    channel_line_id: Id | None = None  # the channel's own line id, used when telling it about the line
    discount: DecimalString = "0"  # this line's share of discount_total (amount off its extended price)
    tax: DecimalString = "0"  # this line's share of tax_total
    requires_shipping: StrictBool = True  # False: gift cards and digital goods, delivered by the channel


class DeliveryGroupIn(_Model):
    group_id: Id
    shipping_address: Address | None = None
    shipping_method: Text = "standard"
    shipping_total: DecimalString = "0"


class CardPayment(_Model):
    """A card the OMS authorises: a processor token (tok_...) or payment method (pm_..., e.g.
    from a call centre), or an authorisation the storefront already made (pi_...)."""
    method: Literal["card"]
    token: Id | None = None
    payment_method: Id | None = None
    payment_intent: Id | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self):
        given = [name for name in ("token", "payment_method", "payment_intent") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("a card payment needs exactly one of token, payment_method, payment_intent")
        return self


class PrepaidPayment(_Model):
    method: Literal["prepaid"]
    reference: Id


class ChannelPayment(_Model):
    """Payment the channel takes itself: already paid, an authorisation the channel holds
    (and captures), or not yet paid (the order waits)."""
    method: Literal["channel"]
    status: Literal["paid", "authorized", "pending"]
    gateway: Text | None = None
    reference: Id | None = None


class CanonicalOrder(_Model):
    external_id: Id
    channel_order_number: Text | None = None
    placed_at: Moment
    currency: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z]{3}$")]
    customer: Customer
    billing_address: Address | None = None
    shipping_address: Address | None = None
    shipping_method: Text | None = None
    delivery_groups: Annotated[list[DeliveryGroupIn], Field(min_length=1, max_length=50)] | None = None
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=500)]
    shipping_total: DecimalString = "0"
    tax_total: DecimalString = "0"
    discount_total: DecimalString = "0"
    total: DecimalString
    taxes_included: StrictBool = False  # unit prices and shipping already include tax_total
    payment: Annotated[CardPayment | PrepaidPayment | ChannelPayment, Field(discriminator="method")]
    # Where the channel must be told about the order (e.g. shop_domain, the channel's order id).
    channel_context: Annotated[dict[str, str], Field(max_length=20)] = {}
    # The channel's custom attributes (SFCC c_*, Shopify note_attributes), kept as given.
    attributes: Annotated[dict[str, Any], Field(max_length=200)] = {}

    @model_validator(mode="after")
    def _consistent(self) -> CanonicalOrder:
        try:
            currency_exponent(self.currency)
            amounts = [self.total, self.shipping_total, self.tax_total, self.discount_total,
                       *(amount for line in self.lines for amount in (line.unit_price, line.discount, line.tax)),
                       *(g.shipping_total for g in self.delivery_groups or [])]
            for amount in amounts:
                to_minor(amount, self.currency)
        except MoneyError as error:
            raise ValueError(str(error)) from None
        if self.delivery_groups is not None:
            if self.shipping_address is not None:
                raise ValueError("give either shipping_address or delivery_groups, not both")
            ids = [g.group_id for g in self.delivery_groups]
            if len(set(ids)) != len(ids):
                raise ValueError("delivery_groups have duplicate group_id")
            for n, line in enumerate(self.lines):
                if line.delivery_group not in ids:
                    raise ValueError(f"lines[{n}].delivery_group must name one of {ids}")
        elif any(line.delivery_group for line in self.lines):
            raise ValueError("lines name a delivery_group but the order has no delivery_groups")
        return self

    def groups(self) -> list[DeliveryGroupIn]:
        if self.delivery_groups is not None:
            return self.delivery_groups
        return [DeliveryGroupIn(group_id="g1", shipping_address=self.shipping_address,
                                shipping_method=self.shipping_method or "standard",
                                shipping_total=self.shipping_total)]


def error_details(error) -> list[dict]:
    """pydantic's errors as the API's `details`: where and what, without echoing input."""
    return [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in error.errors()]


def build_order(c: CanonicalOrder, *, order_id: str, order_number: str, channel: str, received_at: str) -> Order:
    cur = c.currency.upper()
    groups = c.groups()
    default_group = groups[0].group_id
    return Order(
        order_id=order_id, order_number=order_number, channel=channel, external_id=c.external_id,
        channel_order_number=c.channel_order_number or c.external_id,
        placed_at=utc_text(c.placed_at), received_at=received_at, currency=cur,
        customer=c.customer.model_dump(), billing_address=c.billing_address.model_dump() if c.billing_address else {},
        delivery_groups=[DeliveryGroup(g.group_id, g.shipping_address.model_dump() if g.shipping_address else {},
                                       g.shipping_method, to_minor(g.shipping_total, cur)) for g in groups],
        lines=[_line(n, line, line.delivery_group or default_group, cur) for n, line in enumerate(c.lines, start=1)],
        tax_total=to_minor(c.tax_total, cur), discount_total=to_minor(c.discount_total, cur),
        total=to_minor(c.total, cur), taxes_included=c.taxes_included,
        payment=Payment(method=c.payment.method, currency=cur, token=getattr(c.payment, "token", None),
                        payment_method=getattr(c.payment, "payment_method", None),
                        payment_intent=getattr(c.payment, "payment_intent", None),
                        reference=getattr(c.payment, "reference", None),
                        channel_status=getattr(c.payment, "status", None)),
        channel_context=dict(c.channel_context), attributes=dict(c.attributes),
    )


def _line(n: int, line: OrderLine, group: str, currency: str) -> Line:
    # A line the channel delivers itself is complete from the start: nothing to reserve or ship.
    done = 0 if line.requires_shipping else line.quantity
    return Line(f"L{n}", line.sku, line.name or line.sku, to_minor(line.unit_price, currency), group, line.quantity,
                allocated=done, shipped=done, delivered=done, channel_line_id=line.channel_line_id,
                discount=to_minor(line.discount, currency), tax=to_minor(line.tax, currency),
                requires_shipping=line.requires_shipping)


# The OMS's carrier statuses. Carrier formats map onto these; the vendor's own code is kept
# beside each checkpoint as carrier_status.
TrackingStatus = Literal["info_received", "in_transit", "out_for_delivery", "available_for_pickup",
                         "attempt_failed", "delivered", "exception", "returned_to_sender", "expired"]


class Checkpoint(_Model):
    status: TrackingStatus
    occurred_at: Moment
    description: Text = ""
    location: Text = ""
    carrier_status: Text | None = None

    def as_dict(self) -> dict:
        return {"status": self.status, "occurred_at": utc_text(self.occurred_at), "description": self.description,
                "location": self.location, "carrier_status": self.carrier_status}


class CarrierTracking(_Model):
    """What a carrier or aggregator says about one parcel: its checkpoints (one or its whole
    history, in any order) and what it expects next."""
    tracking_number: Id
    carrier: Text | None = None
    checkpoints: Annotated[list[Checkpoint], Field(max_length=500)]
    estimated_delivery: Text | None = None
    signed_by: Text | None = None
    public_url: Text | None = None

    def as_update(self) -> dict:
        return {"tracking_number": self.tracking_number, "carrier": self.carrier,
                "checkpoints": [c.as_dict() for c in self.checkpoints],
                "estimated_delivery": self.estimated_delivery, "signed_by": self.signed_by,
                "public_url": self.public_url}


class TrackingUpdate(_Model):
    """A carrier's checkpoint in the OMS's own words (the generic tracking webhook's body)."""
    tracking_number: Id
    status: TrackingStatus
    occurred_at: Moment
    description: Text = ""
    location: Text = ""
    estimated_delivery: Text | None = None

    def as_update(self) -> dict:
        checkpoint = Checkpoint(status=self.status, occurred_at=self.occurred_at, description=self.description,
                                location=self.location)
        return CarrierTracking(tracking_number=self.tracking_number, checkpoints=[checkpoint],
                               estimated_delivery=self.estimated_delivery).as_update()
