"""The suppression table: one item per normalised ``address`` (see ``domain.suppression``).

Writes are read-merge-write with an optimistic lock on the record's content digest, so two
functions recording facts about one address at once both land, and a repeated fact writes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..domain.suppression import Fact, SoftBouncePolicy, applies, merge
from .aws import client, error_code
from .dynamo import from_item, to_item

MAX_ATTEMPTS = 8


class SuppressionList:
    def __init__(self, table: str) -> None:
        self.table = table

    def suppressed(self, addresses: list[str], topic: str | None = None) -> set[str]:
        found: set[str] = set()
        dynamodb = client("dynamodb")
        unique = sorted(set(addresses))
        for start in range(0, len(unique), 100):  # BatchGetItem takes 100 keys
            keys: list[dict[str, Any]] = [{"address": {"S": a}} for a in unique[start : start + 100]]
            request = {self.table: {"Keys": keys, "ConsistentRead": True}}
            for _attempt in range(MAX_ATTEMPTS):
                response = dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    record = from_item(item)
                    if applies(record, topic):
                        found.add(record["address"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError("suppression lookup: DynamoDB left keys unprocessed")
        return found

    def get(self, address: str) -> dict[str, Any] | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"address": {"S": address}}, ConsistentRead=True)
            .get("Item")
        )
        return from_item(item) if item else None

    def record(self, address: str, fact: Fact, policy: SoftBouncePolicy) -> tuple[dict[str, Any], bool]:
        """Fold ``fact`` into the address's record; returns (record, whether it changed)."""
        dynamodb = client("dynamodb")
        for _attempt in range(MAX_ATTEMPTS):
            old = self.get(address)
            new = merge(old, fact, address, policy)
            if old is not None and old.get("digest") == new["digest"]:
                return old, False
            if old is None:
                condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(address)"}
            elif old.get("digest"):
                condition = {
                    "ConditionExpression": "digest = :digest",
                    "ExpressionAttributeValues": {":digest": {"S": old["digest"]}},
                }
            else:  # written by hand or by an older version: no digest yet
                condition = {"ConditionExpression": "attribute_not_exists(digest)"}
            try:
                dynamodb.put_item(TableName=self.table, Item=to_item(_storable(new)), **condition)
            except Exception as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    continue  # someone else wrote first: merge again on top of theirs
                raise
            return new, True
        raise RuntimeError("suppression record: too many concurrent writers, giving up for a retry")

    def remove(self, address: str) -> bool:
        response = client("dynamodb").delete_item(
            TableName=self.table, Key={"address": {"S": address}}, ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def scan(self) -> Iterator[dict[str, Any]]:
        paginator = client("dynamodb").get_paginator("scan")
        for page in paginator.paginate(TableName=self.table, ConsistentRead=True):
            for item in page.get("Items", []):
                yield from_item(item)


def _storable(record: dict[str, Any]) -> dict[str, Any]:
    # Empty lists are fine for DynamoDB lists, but keep the item small and tidy.
    return {k: v for k, v in record.items() if v not in (None, [], {})}
