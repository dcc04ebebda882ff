"""Dead letters for operators: what each dead-letter queue of the stack holds, and putting it
back where it came from once the cause is fixed (a consumer's DLQ into its queue, the outbox's
failed stream batches onto the bus)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# What operators call a queue in a URL: `validation`, `channel-updates`, `outbox`.
QUEUE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# An order id as intake gives it (oms.adapters.system.new_order_id: `o`, the milliseconds in 10
# or more hex digits, 16 random ones): returns, cases and pick lists have their own prefixes,
# inventory events `<sku>@<location>`.
ORDER_ID = re.compile(r"o[0-9a-f]{26,30}")


class UnknownDeadLetterQueue(Exception):
    """No dead-letter queue of this stack goes by that name."""


class RedriveInProgress(Exception):
    """The queue is being redriven already (a message move task is running)."""


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str  # the short name: `validation`, `outbox`
    dlq: str  # the SQS queue's name: oms-<stage>-validation-dlq
    dlq_url: str
    dlq_arn: str
    source: str | None  # the queue whose redrive policy sends here; None for the outbox (a stream's)
    source_url: str | None
    source_arn: str | None
    depth: int  # ApproximateNumberOfMessages: waiting, visible
    in_flight: int = 0  # ApproximateNumberOfMessagesNotVisible: being received (a redrive, a peek)

    @property
    def from_stream(self) -> bool:
        """Its messages are Lambda's failure records of stream batches, not events."""
        return self.source is None


@dataclass(frozen=True)
class DeadLetter:
    """What the oldest message says (each field None when it does not say)."""
    event_type: str | None
    order_id: str | None
    event_id: str | None
    sent_at: str | None


@dataclass(frozen=True)
class Redrive:
    queue: DeadLetterQueue
    task_handle: str | None = None  # SQS's message move task, running on its own (AWS)
    moved: int | None = None  # messages put back (or stream batches published), when done here
    events_published: int | None = None  # the outbox: history events sent to the bus
    left: int = 0  # the outbox: batches the stream no longer holds (past its 24 hours), left on the DLQ
    remaining: int | None = None  # still on the DLQ when this redrive stopped


class DeadLetterQueues(Protocol):
    def all(self) -> list[DeadLetterQueue]: ...
    def oldest(self, queue: DeadLetterQueue) -> DeadLetter | None: ...
    def redrive(self, queue: DeadLetterQueue) -> Redrive: ...  # RedriveInProgress if one is running


def order_concerned(detail: dict) -> str | None:
    """The order an event is about: its `order_id`, else its aggregate's id when that is an
    order, else the `order_id` in its data (a return's, a case's); None for stock events."""
    candidates = [detail.get("order_id"), detail.get("aggregate_id")]
    data = detail.get("data")
    if isinstance(data, dict):
        candidates.append(data.get("order_id"))
    for n, candidate in enumerate(candidates):
        if isinstance(candidate, str) and candidate and (n != 1 or ORDER_ID.fullmatch(candidate)):
            return candidate[:64]
    return None


def dead_letter_report(queues: DeadLetterQueues) -> list[tuple[DeadLetterQueue, DeadLetter | None]]:
    """Every dead-letter queue with its oldest message (None when it is empty)."""
    return [(queue, queues.oldest(queue) if queue.depth else None) for queue in queues.all()]


def redrive_dead_letters(queues: DeadLetterQueues, name: str) -> Redrive:
    queue = next((q for q in queues.all() if q.name == name), None) if QUEUE_NAME.fullmatch(name) else None
    if queue is None:
        raise UnknownDeadLetterQueue(name)
    return queues.redrive(queue)
