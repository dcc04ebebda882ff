"""What each sales channel may sell (see oms.domain.availability), and the channels' policies."""
from __future__ import annotations

import os
from datetime import timedelta

from oms.domain.availability import ChannelPolicy, availability, policy_changed

from .context import Context
from .ports import ConcurrentModification, Document, DuplicateReference, StockCommit

CHANNEL_POLICY = "CHANNELPOLICY"


def horizon_days() -> int:
    return int(os.environ.get("OMS_ATO_HORIZON_DAYS", "14"))


def channel_policy(ctx: Context, channel: str) -> ChannelPolicy:
    """A channel without a policy sells from every location, with no buffer."""
    found = ctx.inventory.load_document(CHANNEL_POLICY, channel)
    if found is None:
        return ChannelPolicy()
    doc = found[0]
    locations = doc["locations"]
    return ChannelPolicy(tuple(locations) if locations is not None else None, doc["buffer_units"],
                         doc["share_percent"])


def put_channel_policy(ctx: Context, channel: str, locations: list[str] | None, buffer_units: int,
                       share_percent: int) -> dict:
    from .inventory import UnknownLocation

    known = {loc.location_id for loc in ctx.inventory.locations()}
    for location_id in locations or []:
        if location_id not in known:
            raise UnknownLocation(location_id)
    doc = {"channel": channel, "locations": locations, "buffer_units": buffer_units, "share_percent": share_percent}
    for _ in range(5):
        found = ctx.inventory.load_document(CHANNEL_POLICY, channel)
        if found and {key: found[0].get(key) for key in doc} == doc:
            return doc  # the same policy again changes nothing (and tells no channel)
        try:
            ctx.inventory.commit_stock(StockCommit(documents=[Document(
                CHANNEL_POLICY, channel, {**doc, "history_length": found[0].get("history_length", 0) if found else 0},
                events=[policy_changed(channel, ChannelPolicy(
                    tuple(locations) if locations is not None else None, buffer_units, share_percent))],
                version=found[1] if found else None)]))
            return doc
        except (ConcurrentModification, DuplicateReference):
            continue  # another change to the policy got there first: write over it
    raise ConcurrentModification(channel)


def availability_for(ctx: Context, channel: str, skus: list[str]) -> dict:
    """`{"channel", "skus": [{"sku", "atf", "ato"}]}` for the SKUs asked, in that order."""
    from oms.domain.cases import moment, stamp

    policy = channel_policy(ctx, channel)
    levels = ctx.inventory.stock_levels(set(skus))
    horizon = stamp(moment(ctx.clock.now()) + timedelta(days=horizon_days()))
    locations = list(policy.locations) if policy.locations is not None else [
        loc.location_id for loc in ctx.inventory.locations()]
    expected = ctx.inventory.expected_by(locations, set(skus), horizon)
    return {"channel": channel, "skus": [availability(sku, [lv for lv in levels if lv.sku == sku], policy,
                                                      expected.get(sku, 0)) for sku in skus]}
