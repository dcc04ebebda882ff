"""The ports the services depend on, and the shapes that cross them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from oms.domain.cases import Case
from oms.domain.events import DomainEvent
from oms.domain.inventory import Location, StockChange, StockLevel
from oms.domain.order import Order
from oms.domain.returns import Return


class ConcurrentModification(Exception):
    """Someone else changed the aggregate (or an item in the same transaction) first."""


class InsufficientStock(Exception):
    """A reservation's condition (available >= quantity) failed at commit time."""


class OrderTooLarge(Exception):
    """The order would not fit in one DynamoDB item (400 KB): the caller sent too much."""


class DuplicateReference(Exception):
    """An external id, order number or tracking number is already taken."""


@dataclass(frozen=True)
class StockMove:
    """One (sku, location) change committed with the order: reserve units, give reserved
    units back (a cancellation), or ship reserved units out of the building (taking them out
    of on_hand and reserved)."""
    sku: str
    location_id: str
    reserve: int = 0
    ship: int = 0
    release: int = 0
    reason: str = "shipment"  # of units leaving (`ship`): a shipment, or a short pick (they were never there)


@dataclass
class ReturnCommit:
    """A return's change, written in one transaction (with its order's, when they must agree)."""
    ret: Return
    events: list[DomainEvent]
    is_new: bool = False
    restock: list[StockMove] = field(default_factory=list)  # sellable units back on hand (`release` = units)
    tracking_numbers: list[str] = field(default_factory=list)
    state_only: bool = False  # commit even without events (new checkpoints of the parcel coming back)


@dataclass
class CaseCommit:
    """A case's change and its events, written in one transaction."""
    case: Case
    events: list[DomainEvent]
    is_new: bool = False
    guards: list[str] = field(default_factory=list)  # written once with the change (GUARD#<key>)


@dataclass
class OrderCommit:
    """Everything one step changes, written in a single DynamoDB transaction."""
    order: Order
    events: list[DomainEvent]
    is_new: bool = False
    body_hash: str | None = None
    stock_moves: list[StockMove] = field(default_factory=list)
    backorder: str | None = None  # "wait" to join the backorder queue, "done" to leave it
    tracking_numbers: list[str] = field(default_factory=list)
    # The processor's ids of the order's payment (authorisation, charge): its webhooks name them.
    payment_refs: list[str] = field(default_factory=list)
    # Keys written once with the change (e.g. a processor's event id): a second commit of the
    # same key fails, so a redelivered event is applied once.
    guards: list[str] = field(default_factory=list)
    returns: list[ReturnCommit] = field(default_factory=list)  # a return opened with the order's claim
    state_only: bool = False  # commit even without events (a decision recorded before an outside call)
    # Units ordered per (SKU, location), counted on the order's placed_at day (replenishment's
    # demand): + when first reserved there, - when a count sends them elsewhere.
    demand: list[tuple[str, str, int]] = field(default_factory=list)
    # A location per fulfilment order this sourcing adds there (a new location and delivery group):
    # each counts one of its day's capacity (the day of the commit).
    load: list[str] = field(default_factory=list)
    picked_up: list[str] = field(default_factory=list)  # fulfilment orders leaving the pick queue


@dataclass(frozen=True)
class ExternalRef:
    order_id: str
    order_number: str
    body_hash: str


class OrderStore(Protocol):
    def load(self, order_id: str) -> Order | None: ...
    def commit(self, change: OrderCommit) -> None: ...
    def history(self, order_id: str) -> list[dict]: ...
    def find_external(self, channel: str, external_id: str) -> ExternalRef | None: ...
    def find_by_order_number(self, order_number: str) -> str | None: ...
    def find_by_channel_number(self, channel_order_number: str) -> list[str]: ...
    def expiring_reservations(self, moment: str, limit: int) -> list[str]: ...
    # A customer's orders, newest first: (order ids, the cursor of the next page or None).
    def orders_of_customer(self, email: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]: ...
    def load_many(self, order_ids: list[str]) -> list[Order]: ...
    def find_by_tracking_number(self, tracking_number: str) -> str | None: ...
    def find_by_payment_reference(self, reference: str) -> str | None: ...
    def seen(self, guard: str) -> bool: ...
    def record_unmatched_payment_event(self, event_id: str, event: dict, received_at: str) -> None: ...
    def record_unmatched_tracking(self, tracking_number: str, update: dict, received_at: str) -> None: ...
    def backordered_orders(self) -> list[tuple[str, list[str]]]: ...


class ReturnStore(Protocol):
    def load_return(self, return_id: str) -> Return | None: ...
    def commit_return(self, change: ReturnCommit) -> None: ...
    def list_returns(self, status: str | None, cursor: str | None, limit: int) -> tuple[list[Return], str | None]: ...
    def return_history(self, return_id: str) -> list[dict]: ...
    def find_return_by_tracking(self, tracking_number: str) -> str | None: ...


class CaseStore(Protocol):
    def load_case(self, case_id: str) -> Case | None: ...
    def commit_case(self, change: CaseCommit) -> None: ...
    def find_case_by_number(self, case_number: str) -> str | None: ...
    def find_case_by_key(self, external_key: str) -> str | None: ...
    def case_history(self, case_id: str) -> list[dict]: ...
    def list_cases(self, filters: dict, cursor: str | None, limit: int) -> tuple[list[Case], str | None]: ...
    def cases_due(self, now: str, limit: int, after: dict | None = None) -> tuple[list[str], dict | None]: ...
    def sla_policy(self) -> dict: ...
    def save_sla_policy(self, policy: dict) -> None: ...


class NotificationLog(Protocol):
    def notification_sent(self, key: str) -> bool: ...
    def claim_notification(self, key: str, claimant: str, lease_seconds: int) -> bool: ...


class Mailer(Protocol):
    def send(self, to: str, subject: str, html: str, text: str) -> str: ...  # the provider's message id


@dataclass
class Document:
    """An inventory document to write with its stock: kind (PO, TRANSFER, SNAPSHOT), id, the
    JSON, its events, and the version read (None: new)."""
    kind: str
    doc_id: str
    doc: dict
    events: list[DomainEvent] = field(default_factory=list)
    version: int | None = None
    # Listed under (partition, sort key) while it matters: open purchase orders and transfers on
    # their way, by destination and due time ("INBOUND#<location>", "<when>#<id>").
    index: tuple[str, str] | None = None


@dataclass
class StockCommit:
    """Stock changes with the documents that cause them, in one transaction."""
    changes: list[StockChange] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)  # GUARD#<key>, written once: a second commit is a duplicate


class InventoryStore(Protocol):
    def known_skus(self, skus: set[str]) -> set[str]: ...
    def stock_levels(self, skus: set[str]) -> list[StockLevel]: ...
    def stock_level(self, sku: str, location_id: str) -> StockLevel: ...
    def set_stock(self, sku: str, location_id: str, on_hand: int, safety_stock: int, now: str) -> StockLevel: ...
    def commit_stock(self, change: StockCommit) -> None: ...
    def load_document(self, kind: str, doc_id: str) -> tuple[dict, int] | None: ...
    def stock_history(self, sku: str, cursor: str | None, limit: int) -> tuple[list[dict], str | None]: ...
    def stock_at(self, location_id: str) -> list[StockLevel]: ...
    def orders_taken(self, location_ids: list[str], day: str) -> dict[str, int]: ...
    def moved_since(self, sku: str, location_id: str, moment: str, but: str | None = None) -> tuple[int, bool]: ...
    def holders(self, location_id: str, sku: str) -> list[tuple[str, int]]: ...
    def held_at(self, location_id: str) -> dict[str, int]: ...
    def repair_reserved(self, before: StockLevel, reserved: int) -> None: ...
    def expected_by(self, locations: list[str], skus: set[str], moment: str) -> dict[str, int]: ...
    def daily_demand(self, sku: str, location_id: str, first_day: str, last_day: str) -> dict[str, int]: ...
    def documents_listed(self, partition: str) -> list[tuple[dict, int]]: ...
    def locations(self) -> list[Location]: ...
    def put_location(self, location: Location, now: str) -> None: ...


@dataclass(frozen=True)
class PaymentSource:
    """What a card is authorised with: a token or payment method from the order, or (for the
    rest of an order after a capture) the payment method saved with the processor's customer,
    used off-session."""
    token: str | None = None
    payment_method: str | None = None
    customer: str | None = None
    off_session: bool = False


@dataclass(frozen=True)
class AuthorizationResult:
    approved: bool
    authorization_id: str | None
    decline_code: str | None = None
    amount: int | None = None  # what the card holds (a storefront's authorisation may hold more)
    charge_id: str | None = None
    multicapture: bool = False  # the authorisation may be captured more than once
    saved_payment_method: str | None = None  # reusable off-session for the rest of the order
    customer: str | None = None
    mismatch: str | None = None  # a storefront's authorisation the order cannot be paid with: why


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str  # pending | succeeded | failed


class PaymentRejected(Exception):
    """The processor refused the request for good (e.g. the authorisation expired): retrying
    the same call will not help."""


class TransientPaymentError(Exception):
    """The processor could not do it now (timeout, 5xx, rate limit, a processing error).
    `answered` says whether it gave an answer: if not, the outcome is unknown and the retry
    must reuse the idempotency key; if so, that key's answer is final and a retry needs a new one."""

    def __init__(self, message: str, answered: bool = False):
        super().__init__(message)
        self.answered = answered


class PaymentProcessor(Protocol):
    name: str

    def authorize(self, *, amount: int, currency: str, source: PaymentSource, idempotency_key: str,
                  order_id: str) -> AuthorizationResult: ...
    def verify_authorization(self, *, authorization_id: str, amount: int, currency: str) -> AuthorizationResult: ...
    def capture(self, *, authorization_id: str, amount: int, currency: str, final: bool, idempotency_key: str,
                captured_before: int = 0, check_first: bool = False) -> str: ...
    def void(self, *, authorization_id: str, idempotency_key: str) -> None: ...
    def refund(self, *, authorization_id: str, amount: int, currency: str, idempotency_key: str,
               metadata: dict) -> RefundResult: ...
    def submit_dispute_evidence(self, *, dispute_id: str, evidence: dict, submit: bool,
                                idempotency_key: str) -> None: ...


# ---- telling a sales channel what happened to its order ------------------------------------

class ChannelUnavailable(Exception):
    """The channel did not answer usefully (network, timeout, 5xx, 429): retry later."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ChannelRejected(Exception):
    """The channel refused the request (a 4xx other than 429): retrying will not help."""


@dataclass(frozen=True)
class ChannelItem:
    channel_line_id: str | None
    sku: str
    quantity: int


@dataclass(frozen=True)
class ChannelOrder:
    """The order as its channel knows it. `context` is what the channel adapter put on the
    canonical order (e.g. Shopify's shop_domain and order_id, SFCC's order_no)."""
    channel: str
    external_id: str
    channel_order_number: str
    context: dict
    status: str  # the OMS order status after the change
    shipping_status: str  # not_shipped | part_shipped | shipped


@dataclass(frozen=True)
class ChannelShipment:
    shipment_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    service: str
    items: list[ChannelItem]


@dataclass(frozen=True)
class ChannelRefund:
    refund_id: str
    amount: str  # decimal string in the order's currency, as the channels' APIs take money
    currency: str
    reason: str
    fully_refunded: bool  # nothing captured is left after this refund


@dataclass(frozen=True)
class ChannelReturnItem:
    channel_line_id: str | None
    sku: str
    quantity: int
    reason: str  # the OMS's return reason


@dataclass(frozen=True)
class ChannelRefundResult:
    reference: str  # the channel's id for the refund (or what it recorded)
    status: str  # succeeded | pending | failed


@dataclass
class StockPush:
    """What a channel's stock API did with the quantities it was given."""
    pushed: dict[str, int] = field(default_factory=dict)  # SKU -> what the channel now has (set, or already so)
    stale: list[str] = field(default_factory=list)  # its count moved between our read and our write: again
    unknown: list[str] = field(default_factory=list)  # not sold, or not stocked at the channel's location
    refused: dict[str, str] = field(default_factory=dict)  # SKU -> why the channel will not take its count
    learned: dict[str, str] = field(default_factory=dict)  # SKU -> the channel's id for it, to remember


class ChannelStock(Protocol):
    """A channel that keeps its own count of what it may sell (Shopify). `known`: the channel's
    ids for SKUs, remembered from earlier pushes; `state`: what the last push left, updated in
    place (also by a push that fails). Raises
    ChannelUnavailable (with retry_after) when the channel is down or its rate budget is spent."""
    def push(self, quantities: dict[str, int], known: dict[str, str], state: dict) -> StockPush: ...


class ChannelStockLog(Protocol):
    """Which SKUs a channel has not been told about yet, and who is telling it."""
    def note_unsent(self, channel: str, skus: set[str], token: int) -> None: ...
    def unsent(self, channel: str, limit: int) -> list[tuple[str, int]]: ...
    def mark_sent(self, channel: str, sent: list[tuple[str, int]]) -> None: ...
    def claim_push(self, channel: str, owner: str, now: float, seconds: int) -> dict | None: ...
    def release_push(self, channel: str, owner: str, state: dict) -> None: ...
    def channel_ids(self, channel: str, skus: set[str]) -> dict[str, str]: ...
    def remember_channel_ids(self, channel: str, ids: dict[str, str]) -> None: ...


class ChannelNotifier(Protocol):
    """A channel's API. Each call is safe to repeat with the same idempotency key: the adapter
    checks what the channel already has before it changes anything."""
    def shipment_shipped(self, order: ChannelOrder, shipment: ChannelShipment, idempotency_key: str) -> None: ...
    def shipment_delivered(self, order: ChannelOrder, shipment: ChannelShipment, idempotency_key: str) -> None: ...
    def order_cancelled(self, order: ChannelOrder, items: list[ChannelItem], *, whole_order: bool, reason: str,
                        idempotency_key: str) -> None: ...
    def refund(self, order: ChannelOrder, refund: ChannelRefund, idempotency_key: str) -> ChannelRefundResult: ...
    def return_accepted(self, order: ChannelOrder, rma_number: str, items: list[ChannelReturnItem],
                        idempotency_key: str) -> None: ...


# ---- carriers: rates and labels ----------------------------------------------------------------

class CarrierUnavailable(Exception):
    """The carrier's API did not answer usefully (network, 5xx, 429): try again later."""


class CarrierRejected(Exception):
    """The carrier refused the request (an address it cannot ship to, a rate that expired)."""


@dataclass(frozen=True)
class CarrierRate:
    rate_id: str
    carrier: str
    service: str
    amount: str  # decimal string, as the carrier quotes it
    currency: str
    delivery_days: int | None


@dataclass(frozen=True)
class CarrierLabel:
    shipment_id: str
    tracking_number: str
    carrier: str
    service: str
    amount: str
    currency: str
    label_url: str
    label_format: str


class Carrier(Protocol):
    """A label broker (EasyPost). A carrier shipment is one parcel from one address to another;
    buying twice buys once (the adapter reads the shipment first)."""
    def quote(self, from_address: dict, to_address: dict, parcel: dict,
              reference: str) -> tuple[str, list[CarrierRate]]: ...
    def buy(self, shipment_id: str, rate_id: str, label_format: str) -> CarrierLabel: ...
    def void(self, shipment_id: str) -> str: ...  # the refund's status at the carrier
