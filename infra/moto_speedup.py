"""moto 5.2's TransactWriteItems snapshots the whole table for its rollback, with
copy.deepcopy, once per item of the transaction. The table object carries every stream
record ever written, so each transaction costs O(table size x items): on the local stack an
order webhook slows from ~20 ms to over a second after a few hundred orders, and a bench
of 500 orders measures moto's snapshot, not the OMS.

Its Query likewise sorts every item of the table to pick one partition's, or an index's
matches: O(table size log table size) per Query, ~80 ms at 3,500 items.

install() keeps moto's semantics but (1) snapshots only what a transaction can touch: the
items at its keys and the length of each table's stream, restored if the transaction is
cancelled, (2) lets a table Query look at its own partition only, and (3) an index Query at
the items with its hash key, unsorted (moto sorts the matches itself). The local stack
installs it before starting moto (infra/local_stack.py start_moto), so `make run` stays as fast
after thousands of orders as after one."""
from __future__ import annotations

import copy
import types
from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: dict | None = None) -> Any:
        # moto's whole-table snapshot becomes the live table (its rollback is then a no-op);
        # the wrapper below restores the touched items instead.
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    original = models.DynamoDBBackend.transact_write_items

    def snapshot(backend, transact_items: list[dict]) -> tuple[list, dict]:
        items, streams = [], {}
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            if not isinstance(key, dict) or table.hash_key_attr not in key:
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            if table.range_key_attr and range_value is None:
                continue
            current = table.get_item(hash_value, range_value)
            items.append((table, hash_value, range_value, copy.deepcopy(current)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table, len(table.stream_shard.items)))
        return items, streams

    def restore(items: list, streams: dict) -> None:
        for table, hash_value, range_value, saved in reversed(items):
            if range_value is not None:
                bucket = table.items[hash_value]
                if saved is None:
                    bucket.pop(range_value, None)
                else:
                    bucket[range_value] = saved
            elif saved is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = saved
        for table, length in streams.values():
            del table.stream_shard.items[length:]

    def transact_write_items(self, transact_items: list[dict]) -> None:
        items, streams = snapshot(self, transact_items)
        try:
            return original(self, transact_items)
        except Exception:
            restore(items, streams)
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items

    original_query = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")  # Table.query's 8th parameter
        if hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        if index_name:
            # moto filters all_items() by the index's key and sorts what matches itself: hand it the
            # matching items, unsorted (sorting the whole table was most of the local stack's CPU).
            keys = [k["AttributeName"] for k in self.get_index(index_name).schema if k["KeyType"] == "HASH"]
            if len(keys) != 1:
                return original_query(self, hash_key, *args, **kwargs)
            matching = [item for bucket in self.items.values() for item in bucket.values()
                        if (value := item.attrs.get(keys[0])) is not None and value == hash_key]
            self.all_items = lambda: matching
        else:
            partition = self.items.get(hash_key) or {}
            # moto's query picks the partition out of all_items(); hand it just the partition.
            self.all_items = lambda: sorted(partition.values(), key=lambda item: item.range_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query
    _installed = True
