"""The engagement table (see ``domain.engagement``).

message item      pk=MSG#<message_id>   sk=TO#<address>        ev_<kind> string sets, attribution
run counters      pk=RUN#<run_id>       sk=SEG#<segment>#<nn>   one item per segment and shard
run unsubscribes  pk=RUN#<run_id>       sk=UNSUB#<address hash> counted once per run and address
last engagement   pk=ADDR#<address>     sk=LAST                 latest open or click, for segmentation
"""

from __future__ import annotations

from typing import Any

from ..domain.addresses import address_hash
from ..domain.engagement import attribute, is_counter, sum_counts
from .aws import client
from .dynamo import conditional_write, from_item


class EngagementStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def record_event(
        self,
        message_id: str,
        address: str,
        kind: str,
        value: str,
        attribution: dict[str, str],
        expires_at: int | None,
    ) -> dict[str, Any]:
        """Add ``value`` to the recipient's set for ``kind``; returns the item as it was before.

        One small expression on purpose: this write happens once per event and recipient.
        """
        names = {"#ev": attribute(kind)}
        values: dict[str, Any] = {":v": {"SS": [value]}}
        sets = []
        if attribution:
            names["#at"] = "attribution"
            values[":at"] = {"M": {name: {"S": text} for name, text in sorted(attribution.items())}}
            sets.append("#at = :at")
        if expires_at is not None:
            names["#ttl"] = "expires_at"
            values[":ttl"] = {"N": str(expires_at)}
            sets.append("#ttl = :ttl")
        response = client("dynamodb").update_item(
            TableName=self.table,
            Key={"pk": {"S": f"MSG#{message_id}"}, "sk": {"S": f"TO#{address}"}},
            UpdateExpression="ADD #ev :v" + (" SET " + ", ".join(sets) if sets else ""),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
        return from_item(response.get("Attributes") or {})

    def message(self, message_id: str, address: str) -> dict[str, Any] | None:
        item = (
            client("dynamodb")
            .get_item(
                TableName=self.table,
                Key={"pk": {"S": f"MSG#{message_id}"}, "sk": {"S": f"TO#{address}"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return from_item(item) if item else None

    def add_counts(self, run_id: str, campaign_id: str, segment: str, shard: int, counts: dict[str, int]) -> None:
        counts = {name: value for name, value in counts.items() if value and is_counter(name)}
        if not counts:
            return
        names = {"#c": "campaign_id", "#s": "segment"}
        values: dict[str, Any] = {":c": {"S": campaign_id}, ":s": {"S": segment}}
        adds = []
        for index, (name, value) in enumerate(sorted(counts.items())):
            names[f"#n{index}"] = name
            values[f":n{index}"] = {"N": str(value)}
            adds.append(f"#n{index} :n{index}")
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": f"SEG#{segment}#{shard:02d}"}},
            UpdateExpression="SET #c = :c, #s = :s ADD " + ", ".join(adds),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def run_counts(self, run_id: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """(totals, per segment) of a run's counters: one Query of its shard items."""
        paginator = client("dynamodb").get_paginator("query")
        items = []
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :seg)",
            ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}, ":seg": {"S": "SEG#"}},
            ConsistentRead=True,
        ):
            items.extend(from_item(item) for item in page.get("Items", []))
        return sum_counts(items)

    def first_unsubscribe(self, run_id: str, campaign_id: str, segment: str, address: str) -> bool:
        """True the first time this address unsubscribes from this run (then count it)."""
        return conditional_write(
            client("dynamodb").put_item,
            TableName=self.table,
            Item={
                "pk": {"S": f"RUN#{run_id}"},
                "sk": {"S": f"UNSUB#{address_hash(address)}"},
                "campaign_id": {"S": campaign_id},
                "segment": {"S": segment},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def touch_address(self, address: str, marker: str, values: dict[str, str]) -> bool:
        """Keep the latest engagement (``marker`` sorts by time); False when a later one is there."""
        names = {"#m": "last_engagement"}
        attr_values: dict[str, Any] = {":m": {"S": marker}}
        sets = ["#m = :m"]
        for index, (name, text) in enumerate(sorted(values.items())):
            names[f"#a{index}"] = name
            attr_values[f":a{index}"] = {"S": text}
            sets.append(f"#a{index} = :a{index}")
        return conditional_write(
            client("dynamodb").update_item,
            TableName=self.table,
            Key={"pk": {"S": f"ADDR#{address}"}, "sk": {"S": "LAST"}},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_not_exists(#m) OR #m < :m",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attr_values,
        )

    def last_engagement(self, address: str) -> dict[str, Any] | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"pk": {"S": f"ADDR#{address}"}, "sk": {"S": "LAST"}})
            .get("Item")
        )
        return from_item(item) if item else None
