"""The one structured logger (Powertools Logger), its personal-data mask, and the correlation
that ties every line to an order: the correlation id is born at the webhook (or taken from the
caller's X-Correlation-Id), stored on the order, stamped on every event the order's work
commits, and bound again by each consumer from the event it handles."""
from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

MASK = "*****"
# Keys whose values are personal data wherever they appear.
PERSONAL_KEYS = frozenset({
    "email", "e_mail", "customer_email", "contact_email", "phone", "phone_number", "mobile", "first_name",
    "last_name", "full_name", "firstname", "lastname", "customer_name", "recipient", "company",
    "address1", "address2", "address_1", "address_2", "line1", "line2", "street", "street1", "street2",
    "address_line", "address_lines", "payment_token", "payment_method", "card", "token", "fingerprint",
})
# Objects that describe a person or a place: everything in them is masked but these keys.
PERSONAL_OBJECTS = frozenset({"customer", "billing_address", "shipping_address", "address", "to_address",
                              "from_address", "ship_to", "bill_to", "buyer", "recipient_address"})
KEPT_IN_PERSONAL_OBJECTS = frozenset({"country", "country_code", "customer_id", "locale"})
# Free text can still carry them (an exception's message, a vendor's error).
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ().-]{6,}\d|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")
_PAYMENT_TOKEN = re.compile(r"\b(?:tok|pm|src|card|ba|btok)_[A-Za-z0-9]{6,}")


def mask(value, key: str | None = None, personal: bool = False):
    """A copy of `value` with personal data replaced by MASK."""
    if isinstance(value, dict):
        inside = personal or (key or "").lower() in PERSONAL_OBJECTS
        return {k: mask(v, str(k), inside) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, key, personal) for v in value]
    lowered = (key or "").lower()
    if value not in (None, "") and (lowered in PERSONAL_KEYS or lowered in PERSONAL_OBJECTS
                                    or (personal and lowered not in KEPT_IN_PERSONAL_OBJECTS)):
        return MASK  # a personal key, or a person or place given as one string
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_text(str(value))  # strings, and objects the JSON encoder would print (an exception)


def mask_text(text: str) -> str:
    return _PAYMENT_TOKEN.sub(MASK, _PHONE.sub(MASK, _EMAIL.sub(MASK, text)))


class PersonalDataMaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, masking the whole record (message, extra keys, exception)."""

    def serialize(self, log: dict) -> str:
        return super().serialize(mask(log))


logger = Logger(service="oms", logger_formatter=PersonalDataMaskingFormatter())

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_order_id: ContextVar[str | None] = ContextVar("order_id", default=None)


def bind(*, correlation_id: str | None = None, order_id: str | None = None, **keys) -> None:
    """What the work in hand is about: every log line and committed event says so from now on
    (in this thread or task; each handler binds again for each request, record or order)."""
    _correlation_id.set(correlation_id)
    _order_id.set(order_id)
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(correlation_id=correlation_id, order_id=order_id, **keys)


def bind_order(order_id: str, correlation_id: str | None) -> None:
    """Work on one order (a sweep's next order, a route's) continues the order's correlation; an
    order from before correlation ids is correlated by its own id."""
    correlation_id = correlation_id or order_id
    if (correlation_id, order_id) == (_correlation_id.get(), _order_id.get()):
        return
    keys = {k: v for k, v in logger.thread_safe_get_current_keys().items() if k in ("event_id", "event_type")}
    bind(correlation_id=correlation_id, order_id=order_id, **keys)


def bind_event(detail: dict) -> None:
    """A consumer's record: the event's own correlation (events from before correlation ids, or
    from no order, start one at the event)."""
    bind(correlation_id=detail.get("correlation_id") or detail.get("event_id"),
         order_id=detail.get("order_id") or (detail.get("data") or {}).get("order_id"),
         event_id=detail.get("event_id"), event_type=detail.get("event_type"))


def start_work(event, get_response):
    """Chalice middleware for every handler: nothing stays bound from the invocation before (a
    warm Lambda reuses its thread); work that brings no correlation of its own gets a new one."""
    bind(correlation_id=new_correlation_id())
    return get_response(event)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def correlation_id() -> str | None:
    return _correlation_id.get()


def order_id() -> str | None:
    return _order_id.get()
