"""What a use case needs from the outside world, gathered in one place."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .ports import (
    Carrier,
    CaseStore,
    ChannelNotifier,
    ChannelStock,
    ChannelStockLog,
    InventoryStore,
    Mailer,
    NotificationLog,
    OrderStore,
    PaymentProcessor,
    ReturnStore,
)


def _no_channel_api(channel: str) -> ChannelNotifier | None:
    return None


def _no_channel_stock(channel: str) -> ChannelStock | None:
    return None


class Clock(Protocol):
    def now(self) -> str: ...  # ISO 8601 UTC with a Z
    def timestamp(self) -> float: ...


@dataclass
class Context:
    store: OrderStore
    inventory: InventoryStore
    payments: PaymentProcessor
    clock: Clock
    new_order_id: Callable[[], str]
    new_order_number: Callable[[], str]
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)
    payment_attempts: int = 3
    authorization_validity_days: int = 7  # an older authorisation is renewed before a capture
    channels: Callable[[str], ChannelNotifier | None] = _no_channel_api  # a channel's API, if it has one
    returns: ReturnStore | None = None
    new_return_id: Callable[[], str] | None = None
    new_rma_number: Callable[[], str] | None = None
    cases: CaseStore | None = None
    new_case_id: Callable[[], str] | None = None
    new_case_number: Callable[[], str] | None = None
    notifications: NotificationLog | None = None
    mailer: Mailer | None = None
    imports: object | None = None  # the imports bucket (adapters.imports.S3Imports)
    channel_stock: Callable[[str], ChannelStock | None] = _no_channel_stock  # a channel that keeps a count
    stock_log: ChannelStockLog | None = None
    carrier: Carrier | None = None  # rates and labels (EasyPost)

    def backoff(self, attempt: int, base: float = 0.02, cap: float = 1.0) -> None:
        """Full-jitter exponential backoff between retries of a contended or failing step."""
        self.sleep(min(cap, base * 2 ** attempt) * self.jitter())
