"""What the channels have not been told about their stock yet, in the table:

  PUSH#<channel> / SKU#<sku>   unsent: the SKU's availability changed since it was last pushed;
                               `token` changes with every change, so a push clears only what it sent
  PUSH#<channel> / LEASE       who is pushing now (one at a time per channel) and until when, with
                               the adapter's state (the channel's rate budget, its location)
  PUSH#<channel> / ID#<sku>    the channel's id for the SKU (Shopify's inventory item)

One partition per channel, read with strongly consistent queries: a push that ends finds every
change written before it let go of the lease."""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, UpdateError

from .dynamodb_models import _Item


class UnsentItem(_Item):
    token = NumberAttribute()


class PushLeaseItem(_Item):
    owner = UnicodeAttribute(null=True)
    until = NumberAttribute(default=0)
    state = JSONAttribute(null=True)


class ChannelIdItem(_Item):
    channel_id = UnicodeAttribute()


def _partition(channel: str) -> str:
    return f"PUSH#{channel}"


class ChannelStockTable:
    def note_unsent(self, channel: str, skus: set[str], token: int) -> None:
        """Unconditional writes: a newer token over an older one is what makes a running push
        leave the SKU for the next."""
        with UnsentItem.batch_write() as batch:
            for sku in sorted(skus):
                batch.save(UnsentItem(_partition(channel), f"SKU#{sku}", token=token))

    def unsent(self, channel: str, limit: int) -> list[tuple[str, int]]:
        items = UnsentItem.query(_partition(channel), UnsentItem.sk.startswith("SKU#"), consistent_read=True,
                                 limit=limit)
        return [(item.sk.removeprefix("SKU#"), int(item.token)) for item in items]

    def mark_sent(self, channel: str, sent: list[tuple[str, int]]) -> None:
        for sku, token in sent:
            try:
                UnsentItem(_partition(channel), f"SKU#{sku}").delete(condition=UnsentItem.token == token)
            except DeleteError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                # it changed again while we pushed: it stays for the next push

    def claim_push(self, channel: str, owner: str, now: float, seconds: int) -> dict | None:
        """The lease's state when it is ours now, or None when another push holds it."""
        lease = PushLeaseItem(_partition(channel), "LEASE")
        try:
            lease.update(actions=[PushLeaseItem.owner.set(owner), PushLeaseItem.until.set(now + seconds)],
                         condition=PushLeaseItem.pk.does_not_exist() | (PushLeaseItem.until < now)
                         | (PushLeaseItem.owner == owner))
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return dict(lease.state or {})

    def release_push(self, channel: str, owner: str, state: dict) -> None:
        lease = PushLeaseItem(_partition(channel), "LEASE")
        try:
            lease.update(actions=[PushLeaseItem.until.set(0), PushLeaseItem.state.set(state)],
                         condition=PushLeaseItem.owner == owner)
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            # our lease ran out and another push took it: its state is the newer one

    def channel_ids(self, channel: str, skus: set[str]) -> dict[str, str]:
        keys = [(_partition(channel), f"ID#{sku}") for sku in sorted(skus)]
        return {item.sk.removeprefix("ID#"): item.channel_id for item in ChannelIdItem.batch_get(keys)}

    def remember_channel_ids(self, channel: str, ids: dict[str, str]) -> None:
        with ChannelIdItem.batch_write() as batch:
            for sku, channel_id in sorted(ids.items()):
                batch.save(ChannelIdItem(_partition(channel), f"ID#{sku}", channel_id=channel_id))
