"""Reads of the suppression table (the feedback functions write it).

Item: ``address`` (normalised) plus ``scope``: ``ALL`` (every campaign) or ``TOPIC`` with the
``topics`` it covers.
"""

from __future__ import annotations

from typing import Any

from .aws import client
from .dynamo import from_item


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
            for _attempt in range(8):
                response = dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    record = from_item(item)
                    if _applies(record, topic):
                        found.add(record["address"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError("suppression lookup: DynamoDB left keys unprocessed")
        return found


def _applies(record: dict[str, Any], topic: str | None) -> bool:
    if record.get("scope", "ALL") == "ALL":
        return True
    return topic is not None and topic in set(record.get("topics") or [])
