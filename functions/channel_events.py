"""The channel-updates queue: tells Shopify / SFCC about shipments, deliveries and
cancellations, and Shopify what it may sell. A channel that is down or rate-limits us gets the message again later, with
exponential backoff (or the channel's Retry-After), until the queue's redrive sends it to the DLQ."""
from __future__ import annotations

import os

from oms.observability.logs import logger

from .order_events import consume, retry_later

MAX_BACKOFF_SECONDS = 900


def _retry_base() -> float:
    return float(os.environ.get("OMS_CHANNEL_RETRY_BASE_SECONDS", "30"))


def backoff_seconds(receive_count: int, retry_after: float | None) -> int:
    delay = _retry_base() * 2 ** max(0, receive_count - 1)
    return int(min(MAX_BACKOFF_SECONDS, max(delay, retry_after or 0)))


def _tell(ctx, detail: dict) -> str:
    """A cancellation is both news for the channel and stock it may sell again: its SKUs are
    marked unsent first, so a channel that refuses the news never holds back the stock."""
    from oms.services.channel_stock import CHANGES_STOCK, note_changes, push_unsent
    from oms.services.channel_updates import TOLD_ABOUT, tell_channel

    pushed = note_changes(ctx, detail) if detail["event_type"] in CHANGES_STOCK else []
    try:
        outcomes = [tell_channel(ctx, detail)] if detail["event_type"] in TOLD_ABOUT else []
    finally:  # the stock goes out even when the news does not (its failure is raised after)
        pushes = [push_unsent(ctx, channel) for channel in pushed]
    return ",".join(outcomes + pushes) or "not_configured"


def handle_channel_updates(event) -> dict:
    from oms.bootstrap import context
    from oms.services.channel_stock import CHANGES_STOCK
    from oms.services.channel_updates import TOLD_ABOUT
    from oms.services.ports import ChannelRejected, ChannelUnavailable

    def tell(detail: dict, record) -> None:
        try:
            outcome = _tell(context(), detail)
        except ChannelUnavailable as error:
            delay = backoff_seconds(int(record.attributes.approximate_receive_count), error.retry_after)
            logger.warning("channel unavailable; retrying later", extra={"error": str(error), "delay": delay})
            retry_later(record, delay)
            raise
        except ChannelRejected as error:
            # Retrying will not help; the redrive puts it in the DLQ for an operator.
            logger.error("channel refused the update", extra={"error": str(error)})
            raise
        logger.info("channel update", extra={"outcome": outcome, "event_type": detail["event_type"]})

    return consume(event, {name: tell for name in (*TOLD_ABOUT, *CHANGES_STOCK)}, with_record=True)


def sweep_unsent_stock(event) -> dict:
    """Every minute (OMS_AVAILABILITY_SWEEP_SECONDS locally): push what a lost message left
    unsent. A channel that cannot take it now is tried at the next sweep."""
    from oms.bootstrap import context
    from oms.services.channel_stock import PUSHED_CHANNELS, push_unsent
    from oms.services.ports import ChannelRejected, ChannelUnavailable

    outcomes = {}
    for channel in PUSHED_CHANNELS:
        try:
            outcomes[channel] = push_unsent(context(), channel)
        except ChannelUnavailable as error:
            logger.warning("channel stock push deferred", extra={"channel": channel, "error": str(error)})
            outcomes[channel] = "deferred"
        except ChannelRejected as error:
            logger.error("channel refused the stock push", extra={"channel": channel, "error": str(error)})
            outcomes[channel] = "refused"
    return outcomes
