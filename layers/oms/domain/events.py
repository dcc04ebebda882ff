"""Domain events: what happened, in the business's words. Ids, sequence numbers and
timestamps are given to them by the service that commits them."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DomainEvent:
    event_type: str
    data: dict = field(default_factory=dict)
