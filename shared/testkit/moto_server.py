"""moto_server for the tests and benchmarks (started by support/moto.rs), with one change: how
TransactWriteItems rolls back, so that transactions are isolated as DynamoDB's are.

moto 5.x deep-copies every table a TransactWriteItems call touches before running it, so that it
can restore the copies if the transaction is cancelled. That costs O(table size) per call (a
transaction of 100 items against a 10,000-item table takes seconds), and transactions running
at once restore each other's copies (writes vanish or come back; 500 answers while a table is
copied under a concurrent write). Here transactions run one at a time and snapshot only the
items they touch; a cancelled one restores exactly those. Conditions, cancellation reasons and
everything else are moto's own code. Only tables without a sort key take the fast path (all of
RoamGuard's); others run moto's original code under the same lock.
"""

import copy
import sys
import threading

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

_original = DynamoDBBackend.transact_write_items
_lock = threading.Lock()


class _NoTableCopy:
    """Stands in for the `copy` module inside moto.dynamodb.models during a transaction."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value

    def __getattr__(self, name):
        return getattr(copy, name)


def transact_write_items(self, transact_items):
    with _lock:
        snapshot = []
        for item in transact_items:
            op_type, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if table.has_range_key:
                return _original(self, transact_items)
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            if not key or table.hash_key_attr not in key:
                return _original(self, transact_items)
            hash_value = DynamoType(key[table.hash_key_attr])
            old = table.items.get(hash_value)
            snapshot.append((table, hash_value, copy.deepcopy(old) if old is not None else None))
        models.copy = _NoTableCopy()
        try:
            return _original(self, transact_items)
        except Exception:
            for table, hash_value, old in reversed(snapshot):
                if old is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = old
            raise
        finally:
            models.copy = copy


DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main())
