"""DynamoDB: success-shaped answers, the items the engine reads back, and request units."""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from typing import Any

from .http import request_json, respond_json

RUNNING = "RUNNING"


def value_size(value: dict[str, Any]) -> int:
    """Approximate DynamoDB size of an attribute value (UTF-8 strings, numbers about a byte per
    two digits, 3 bytes per list or map plus one per element)."""
    ((kind, inner),) = value.items()
    if kind in ("S", "B"):
        return len(inner.encode()) if isinstance(inner, str) else len(inner)
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(v) for v in inner)
    if kind == "NS":
        return sum(len(v) // 2 + 1 for v in inner)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k) + value_size(v) + 1 for k, v in inner.items())
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


class Capacity:
    """On-demand request units: a standard write 1 WRU per KB (rounded up), a transactional one
    two; a strongly consistent read 1 RRU per 4 KB (a read of a missing item still costs one)."""

    def __init__(self) -> None:
        self.wru: Counter[str] = Counter()  # per operation
        self.rru: Counter[str] = Counter()
        self.items_written: Counter[str] = Counter()

    def write(self, operation: str, size: int, transactional: bool = False) -> None:
        self.wru[operation] += max(1, math.ceil(size / 1024)) * (2 if transactional else 1)
        self.items_written[operation] += 1

    def read(self, operation: str, size: int, consistent: bool = True) -> None:
        units = max(1, math.ceil(size / 4096))
        self.rru[operation] += units if consistent else units / 2


_SET = re.compile(r"(#\w+) = (:\w+)")
_PK = re.compile(r"pk = (:\w+)")
_BEGINS = re.compile(r"begins_with\(sk, (:\w+)\)")


def _key_of(item: dict[str, Any]) -> str:
    return json.dumps({k: item[k] for k in ("pk", "sk", "address") if k in item}, sort_keys=True)


class DynamoStub:
    """Answers the engine's DynamoDB calls with success-shaped bodies.

    Items written by PutItem are kept (a retried batch must find its batch record, or it would
    send again); run records are seeded as RUNNING with :meth:`seed_run`. Nothing is ever
    suppressed, every reservation succeeds (the bench audiences have no duplicates) and every
    engagement event is new (``ALL_OLD`` is empty).
    """

    def __init__(self, keep_items: bool = True) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.keep_items = keep_items
        self.capacity = Capacity()
        self._lock = threading.Lock()

    def seed_run(self, table: str, campaign_id: str, run_id: str) -> None:
        item = {"pk": {"S": f"CAMPAIGN#{campaign_id}"}, "sk": {"S": f"RUN#{run_id}"}, "status": {"S": RUNNING}}
        self.items[(table, _key_of(item))] = item

    def answer(self, operation: str, request: Any):
        body = request_json(request)
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise NotImplementedError(f"DynamoDB {operation} is not stubbed")
        return respond_json(request.url, handler(body), headers={"Content-Type": "application/x-amz-json-1.0"})

    def _GetItem(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.items.get((body["TableName"], _key_of(body["Key"])))
        self.capacity.read("GetItem", item_size(found) if found else 0, bool(body.get("ConsistentRead")))
        return {"Item": found} if found else {}

    def _PutItem(self, body: dict[str, Any]) -> dict[str, Any]:
        item = body["Item"]
        self.capacity.write("PutItem", item_size(item))
        if self.keep_items:
            with self._lock:
                self.items[(body["TableName"], _key_of(item))] = item
        return {}

    def _UpdateItem(self, body: dict[str, Any]) -> dict[str, Any]:
        values = body.get("ExpressionAttributeValues", {})
        found = self.items.get((body["TableName"], _key_of(body["Key"])))
        if found is not None:
            # Plain "SET #a = :v" assignments only (the run record): what Finalize reads back.
            names = body.get("ExpressionAttributeNames", {})
            for name, value in _SET.findall(body.get("UpdateExpression", "").split(" ADD ")[0]):
                found[names.get(name, name)] = values[value]
        # Billed on the item's size; without the item, the request's values are the estimate.
        size = item_size(found) if found else item_size(body["Key"]) + sum(value_size(v) for v in values.values())
        self.capacity.write("UpdateItem", size)
        if body.get("ReturnValues") in ("ALL_NEW", "UPDATED_NEW"):
            return {"Attributes": found or {**body["Key"], "status": {"S": RUNNING}}}
        return {}

    def _DeleteItem(self, body: dict[str, Any]) -> dict[str, Any]:
        self.capacity.write("DeleteItem", item_size(body["Key"]))
        return {}

    def _BatchGetItem(self, body: dict[str, Any]) -> dict[str, Any]:
        responses = {}
        for table, request in body["RequestItems"].items():
            for _key in request["Keys"]:
                self.capacity.read("BatchGetItem", 0, bool(request.get("ConsistentRead")))
            responses[table] = []
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _BatchWriteItem(self, body: dict[str, Any]) -> dict[str, Any]:
        for requests in body["RequestItems"].values():
            for request in requests:
                put = request.get("PutRequest")
                self.capacity.write("BatchWriteItem", item_size(put["Item"]) if put else 1)
        return {"UnprocessedItems": {}}

    def _TransactWriteItems(self, body: dict[str, Any]) -> dict[str, Any]:
        for action in body["TransactItems"]:
            ((_kind, spec),) = action.items()
            self.capacity.write("TransactWriteItems", item_size(spec.get("Item") or spec.get("Key", {})), True)
        return {}

    def _Query(self, body: dict[str, Any]) -> dict[str, Any]:
        """``pk = :v AND begins_with(sk, :p)`` over the kept items, one page (a read is billed
        per 4 KB of the items it returns)."""
        values = body.get("ExpressionAttributeValues", {})
        condition = body["KeyConditionExpression"]
        pk = values[_PK.search(condition).group(1)]
        prefix = _BEGINS.search(condition)
        start = prefix and values[prefix.group(1)]["S"]
        table = body["TableName"]
        found = sorted(
            (item for (name, _), item in self.items.items() if name == table and item.get("pk") == pk),
            key=lambda item: item.get("sk", {}).get("S", ""),
        )
        if start:
            found = [item for item in found if item.get("sk", {}).get("S", "").startswith(start)]
        self.capacity.read("Query", sum(item_size(item) for item in found), bool(body.get("ConsistentRead")))
        return {"Items": found, "Count": len(found), "ScannedCount": len(found)}
