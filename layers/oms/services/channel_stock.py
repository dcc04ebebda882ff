"""Telling the channels that keep their own count (Shopify) what they may sell.

A change to a SKU's availability (stock adjusted, reserved, released or withdrawn, a channel's
policy) marks the SKU unsent for each such channel. A push takes the channel's lease (one push
at a time per channel), reads the unsent SKUs in batches, sends each batch's ATF (see
oms.domain.availability) in one call, and clears what it sent unless it changed meanwhile. Every
change to a SKU made while a push runs goes out with the next batch as one: pushes are coalesced
per SKU, and their number follows the channel's pace, not the order rate.

A message that finds the lease taken leaves its SKUs to the push running: that push looks for
unsent SKUs again after it lets go. A push works PUSH_SECONDS at most and leaves the rest to the
sweep (every minute) or the next change. A wait for the channel's rate budget that fits in that
time is waited; a longer one, a 429, or a count that moved under the write (stale) raises
ChannelUnavailable, and the message comes back with the channel-updates queue's backoff."""
from __future__ import annotations

import uuid

from oms.domain.availability import availability
from oms.observability.logs import logger

from .availability import channel_policy
from .context import Context
from .ports import ChannelUnavailable

PUSHED_CHANNELS = ("shopify",)
CHANGES_STOCK = ("InventoryAdjusted", "InventoryReserved", "InventoryReleased", "OrderLinesCancelled",
                 "ReservationWithdrawn", "InventoryDriftRepaired", "ChannelInventoryPolicyChanged")
BATCH = 100
PUSH_SECONDS = 20  # then the sweep or the next change goes on (a message shares its Lambda's 120 s)
LEASE_SECONDS = 150  # longer than any function holding it may run: two pushes never overlap


def changed_skus(detail: dict) -> set[str]:
    data = detail["data"]
    if "sku" in data:
        return {data["sku"]}
    moved = data.get("reservations") or data.get("released") or []
    return {entry["sku"] for entry in moved}


def availability_changed(ctx: Context, detail: dict) -> str:
    """Mark what the event changed unsent, then push."""
    marked = note_changes(ctx, detail)
    return ",".join(push_unsent(ctx, channel) for channel in marked) or "not_configured"


def note_changes(ctx: Context, detail: dict) -> list[str]:
    """Mark the SKUs the event changed unsent for each channel that keeps a count; those channels."""
    channels = [channel for channel in PUSHED_CHANNELS if ctx.channel_stock(channel) is not None]
    for channel in channels:
        if detail["event_type"] == "ChannelInventoryPolicyChanged":
            skus = every_sku(ctx) if detail["data"]["channel"] == channel else set()
        else:
            skus = changed_skus(detail)
        if skus:
            ctx.stock_log.note_unsent(channel, skus, token=uuid.uuid4().int >> 66)
    return channels


def push_unsent(ctx: Context, channel: str) -> str:
    """"pushed" (nothing left unsent), "coalesced" (another push has it), "deferred" (more than
    one push may send: the sweep goes on) or "not_configured"."""
    adapter = ctx.channel_stock(channel)
    if adapter is None:
        return "not_configured"
    owner, deadline = uuid.uuid4().hex, ctx.clock.timestamp() + PUSH_SECONDS
    while ctx.stock_log.unsent(channel, 1):
        if ctx.clock.timestamp() >= deadline:
            return "deferred"
        state = ctx.stock_log.claim_push(channel, owner, ctx.clock.timestamp(), LEASE_SECONDS)
        if state is None:
            return "coalesced"
        try:
            _push_batches(ctx, channel, adapter, state, deadline)
        finally:
            _release(ctx, channel, owner, state)
    return "pushed"


def _release(ctx: Context, channel: str, owner: str, state: dict) -> None:
    try:
        ctx.stock_log.release_push(channel, owner, state)
    except Exception:  # noqa: BLE001 - the push's own outcome matters more; the lease runs out
        logger.exception("could not let go of the push lease", extra={"channel": channel})


def _push_batches(ctx: Context, channel: str, adapter, state: dict, deadline: float) -> None:
    while ctx.clock.timestamp() < deadline:
        unsent = ctx.stock_log.unsent(channel, BATCH)
        if not unsent:
            return
        skus = {sku for sku, _ in unsent}
        quantities, known = channel_atf(ctx, channel, skus), ctx.stock_log.channel_ids(channel, skus)
        try:
            result = adapter.push(quantities, known, state)
        except ChannelUnavailable as busy:
            if busy.retry_after is None or ctx.clock.timestamp() + busy.retry_after >= deadline:
                raise
            ctx.sleep(busy.retry_after)  # the rate budget refills within this push's time
            continue
        if result.learned:
            ctx.stock_log.remember_channel_ids(channel, result.learned)
        if result.unknown or result.refused:
            # Nothing to retry until the channel changes: the SKU's next change tries again.
            logger.warning("stock the channel does not take", extra={
                "channel": channel, "unknown_skus": result.unknown, "refused": result.refused})
        stale = set(result.stale)
        ctx.stock_log.mark_sent(channel, [(sku, token) for sku, token in unsent if sku not in stale])
        if stale:
            raise ChannelUnavailable(f"{channel}'s count of {sorted(stale)} changed while we pushed")


def channel_atf(ctx: Context, channel: str, skus: set[str]) -> dict[str, int]:
    policy = channel_policy(ctx, channel)
    levels = ctx.inventory.stock_levels(skus)
    return {sku: availability(sku, [level for level in levels if level.sku == sku], policy, 0)["atf"]
            for sku in sorted(skus)}


def every_sku(ctx: Context) -> set[str]:
    """Every SKU stocked anywhere: a new policy can change what the channel may sell of each."""
    return {level.sku for location in ctx.inventory.locations()
            for level in ctx.inventory.stock_at(location.location_id)}

