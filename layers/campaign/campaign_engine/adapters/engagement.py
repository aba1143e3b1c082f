"""The engagement table (see ``domain.engagement``).

message item      pk=MSG#<message_id>    sk=TO#<address>         ev_<kind> string sets, claims, attribution
send item         pk=SEND#<run_id>       sk=<address hash>       the Send event of a run's message to an
                                                                 address: ev_send, message_ids, claims
commit record     pk=BATCH#<token>       sk=STATUS               COMMITTED or ABORTED (``BatchStatus``)
run counters      pk=RUN#<run_id>        sk=SEG#<segment>#<nn>   one item per segment and shard
run timeline      pk=RUN#<run_id>        sk=TL#<bucket>#<nn>     opens and clicks of one hour or day, per shard
run links         pk=RUN#<run_id>        sk=LINK#<nn>            clicks per link (at most MAX_LINKS), per shard
run unsubscribes  pk=RUN#<run_id>        sk=UNSUB#<address hash> counted once per run and address
last engagement   pk=ADDR#<address>      sk=LAST                 latest open or click, for segmentation

The Send event is keyed by run and address hash, not by message, so the send path can ask
which of a run's addresses SES accepted (``send_evidence``) with key lookups, at no extra
write: it is the one write the Send event makes anyway.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..domain import engagement as domain
from ..domain.addresses import address_hash
from ..domain.engagement import BatchStatus, Claim, is_counter, sum_counts
from .aws import client, error_code
from .dynamo import conditional_write, from_item

BATCH_GET_KEYS = 100  # BatchGetItem takes 100 keys
MAX_ATTEMPTS = 8  # of a transaction that conflicts with another one on a counter item
# A link item's condition names each of a batch's links (``contains``) up to this many; a batch
# with more (rare: one shard's share of ~100 events) reads the item's set first instead.
CONTAINS_AT_MOST = 8
# Distinct links one commit counts in one link item (3 counters each): a batch of personalised
# paths with more sums the rest as "other".
LINKS_PER_COMMIT = 30


class ItemKey(NamedTuple):
    pk: str
    sk: str

    def dynamo(self) -> dict[str, Any]:
        return {"pk": {"S": self.pk}, "sk": {"S": self.sk}}


class CounterItem(NamedTuple):
    run_id: str
    segment: str
    shard: int


class _Actions(NamedTuple):
    """A commit's TransactItems, and where its link items sit among them (index -> what they
    carry) so a full link item can be refitted."""

    items: list[dict[str, Any]]
    links: dict[int, tuple[str, int, str, dict[str, int]]]  # index -> (run id, shard, campaign, counters)


class Aborted(RuntimeError):
    """This invocation's token was aborted by another one (which took its claims over): it
    must not count anything, and its whole batch goes back to the queue."""


def message_key(message_id: str, address: str) -> ItemKey:
    return ItemKey(f"MSG#{message_id}", f"TO#{address}")


def send_key(run_id: str, hashed_address: str) -> ItemKey:
    return ItemKey(f"SEND#{run_id}", hashed_address)


def _status_key(token: str) -> ItemKey:
    return ItemKey(f"BATCH#{token}", "STATUS")


class EngagementStore:
    def __init__(self, table: str, dynamodb: Any = None) -> None:
        self.table = table
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb if self._dynamodb is not None else client("dynamodb")

    # -- events ------------------------------------------------------------------------------

    def record_event(
        self,
        key: ItemKey,
        kind: str,
        value: str,
        attribution: Mapping[str, str],
        expires_at: int | None,
        claims: Sequence[Claim],
        token: str,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        """Add ``value`` to the item's set for ``kind`` and each claim this item does not have
        yet, owned by ``token``; returns the item as it was before.

        One write per event and recipient on purpose: the claims ride on the write that records
        the event, so recording and claiming cannot be torn apart by a crash.
        """
        names = {"#ev": f"ev_{kind}"}
        values: dict[str, Any] = {":v": {"SS": [value]}}
        adds = ["#ev :v"]
        sets = []
        if message_id is not None:
            names["#mid"] = "message_ids"
            values[":mid"] = {"SS": [message_id]}
            adds.append("#mid :mid")
        if attribution:
            names["#at"] = "attribution"
            values[":at"] = {"M": {name: {"S": text} for name, text in sorted(attribution.items())}}
            sets.append("#at = :at")
        if expires_at is not None:
            names["#ttl"] = "expires_at"
            values[":ttl"] = {"N": str(expires_at)}
            sets.append("#ttl = :ttl")
        if claims:
            values[":tok"] = {"S": token}
            for index, claim in enumerate(claims):
                names[f"#c{index}"] = claim.name
                sets.append(f"#c{index} = if_not_exists(#c{index}, :tok)")
        response = self.dynamodb.update_item(
            TableName=self.table,
            Key=key.dynamo(),
            UpdateExpression="ADD " + ", ".join(adds) + (" SET " + ", ".join(sets) if sets else ""),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
        return from_item(response.get("Attributes") or {})

    def take_over(self, key: ItemKey, claim: str, owner: str, token: str) -> bool:
        """Move ``claim`` from the aborted ``owner`` to ``token``; False when someone else
        already did (that invocation then holds an unacknowledged copy of the event)."""
        moved = conditional_write(
            self.dynamodb.update_item,
            TableName=self.table,
            Key=key.dynamo(),
            UpdateExpression="SET #c = :tok",
            ConditionExpression="#c = :owner",
            ExpressionAttributeNames={"#c": claim},
            ExpressionAttributeValues={":tok": {"S": token}, ":owner": {"S": owner}},
        )
        if moved:
            return True
        # An SDK retry of a write that landed (its reply lost) fails the condition on our own
        # token: the claim is ours all the same.
        return (self._get(key) or {}).get(claim) == token

    def message(self, message_id: str, address: str) -> dict[str, Any] | None:
        return self._get(message_key(message_id, address))

    def send_item(self, run_id: str, hashed_address: str) -> dict[str, Any] | None:
        return self._get(send_key(run_id, hashed_address))

    def _get(self, key: ItemKey) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=key.dynamo(), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    # -- the two-step commit -----------------------------------------------------------------

    def status(self, token: str) -> BatchStatus | None:
        item = self._get(_status_key(token))
        return BatchStatus(item["status"]) if item else None

    def abort(self, token: str, expires_at: int) -> BatchStatus:
        """Make ``token`` unable to commit, unless it already did; returns its final status."""
        written = conditional_write(
            self.dynamodb.put_item,
            TableName=self.table,
            Item=self._status_item(token, BatchStatus.ABORTED, expires_at),
            ConditionExpression="attribute_not_exists(pk)",
        )
        if written:
            return BatchStatus.ABORTED
        found = self.status(token)
        if found is None:  # only a deleted record could do this: nothing to build on
            raise RuntimeError(f"engagement commit record of {token} vanished while aborting it")
        return found

    def commit(
        self,
        token: str,
        counts: Mapping[CounterItem, tuple[str, Mapping[str, int]]],
        expires_at: int,
    ) -> None:
        """Write ``token``'s commit record and its increments (counter item -> (campaign id,
        increments)) in one transaction. Raises :class:`Aborted` when the token was aborted.

        The increments per link and per time bucket go to the run's link and timeline items
        (``domain.engagement.split``) in the same transaction: no request more per batch."""
        actions = self._actions(token, counts, expires_at)
        if len(actions.items) > 100:
            raise ValueError(f"a commit of {len(actions.items)} items: TransactWriteItems takes at most 100")
        attempt = refits = 0
        while True:
            try:
                self.dynamodb.transact_write_items(TransactItems=actions.items)
                return
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in getattr(exc, "response", {}).get("CancellationReasons") or []]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    # Our own earlier attempt (its reply lost), or an abort by another invocation.
                    found = self.status(token)
                    if found is BatchStatus.COMMITTED:
                        return
                    raise Aborted(f"engagement batch {token} was aborted by another invocation") from None
                full = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed" and i in actions.links]
                if full and refits < MAX_ATTEMPTS:
                    # A link item has no room for this batch's new links: read which it has, and
                    # the rest go to "other". Not a conflict, so no back-off; bounded, since each
                    # refit sees a fuller set and a full item takes no new link at all.
                    refits += 1
                    for index in full:
                        actions.items[index] = {"Update": self._refit_links(*actions.links[index])}
                    continue
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    raise
                # Another transaction on a counter item (TransactionConflict): back off and retry.
                time.sleep(random.uniform(0, 0.05 * 2 ** (attempt - 1)))

    def _actions(
        self, token: str, counts: Mapping[CounterItem, tuple[str, Mapping[str, int]]], expires_at: int
    ) -> _Actions:
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": self._status_item(token, BatchStatus.COMMITTED, expires_at),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        timeline: dict[tuple[str, int, str], tuple[str, dict[str, int]]] = {}
        links: dict[tuple[str, int], tuple[str, dict[str, int]]] = {}
        for item, (campaign_id, increments) in sorted(counts.items()):
            parts = domain.split(increments)
            update = self._counter_update(item, campaign_id, parts.base)
            if update is not None:
                items.append({"Update": update})
            for bucket, kinds in parts.timeline.items():
                _, into = timeline.setdefault((item.run_id, item.shard, bucket), (campaign_id, {}))
                for kind, value in kinds.items():
                    into[kind] = into.get(kind, 0) + value
            if parts.links:
                _, into = links.setdefault((item.run_id, item.shard), (campaign_id, {}))
                for name, value in parts.links.items():
                    into[name] = into.get(name, 0) + value
        for (run_id, shard, bucket), (campaign_id, kinds) in sorted(timeline.items()):
            items.append({"Update": self._timeline_update(run_id, shard, bucket, campaign_id, kinds)})
        placed: dict[int, tuple[str, int, str, dict[str, int]]] = {}
        for (run_id, shard), (campaign_id, found) in sorted(links.items()):
            keys = domain.link_keys(found)
            placed[len(items)] = (run_id, shard, campaign_id, found)
            if len(keys) > CONTAINS_AT_MOST:
                # Too many to test one by one in the condition: read which the item has first.
                items.append({"Update": self._refit_links(run_id, shard, campaign_id, found)})
            else:
                items.append({"Update": self._links_update(run_id, shard, campaign_id, found)})
        return _Actions(items, placed)

    def _timeline_update(
        self, run_id: str, shard: int, bucket: str, campaign_id: str, kinds: Mapping[str, int]
    ) -> dict[str, Any]:
        names = {"#c": "campaign_id", "#b": "bucket"}
        values: dict[str, Any] = {":c": {"S": campaign_id}, ":b": {"S": bucket}}
        adds = []
        for index, (name, value) in enumerate(sorted(kinds.items())):
            names[f"#n{index}"] = name
            values[f":n{index}"] = {"N": str(value)}
            adds.append(f"#n{index} :n{index}")
        return {
            "TableName": self.table,
            "Key": ItemKey(f"RUN#{run_id}", f"TL#{bucket}#{shard:02d}").dynamo(),
            "UpdateExpression": "SET #c = :c, #b = :b ADD " + ", ".join(adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _links_update(
        self,
        run_id: str,
        shard: int,
        campaign_id: str,
        counters: Mapping[str, int],
        known: set[str] | None = None,
    ) -> dict[str, Any]:
        """The link item's increments, its set of links (``links``) growing by the new ones.

        Condition: the item has room for the links it may not have. Without ``known`` (the
        item's set, read after a refusal) every link may be new, so it also passes when the set
        already has them all."""
        keys = sorted(domain.link_keys(counters))
        new = [key for key in keys if known is None or key not in known]
        names = {"#c": "campaign_id"}
        values: dict[str, Any] = {":c": {"S": campaign_id}}
        adds = []
        for index, (name, value) in enumerate(sorted(counters.items())):
            names[f"#n{index}"] = name
            values[f":n{index}"] = {"N": str(value)}
            adds.append(f"#n{index} :n{index}")
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": ItemKey(f"RUN#{run_id}", f"LINK#{shard:02d}").dynamo(),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if new:
            names["#ls"] = "links"
            values[":keys"] = {"SS": new}
            values[":room"] = {"N": str(domain.MAX_LINKS - len(new))}
            adds.append("#ls :keys")
            condition = "attribute_not_exists(#ls) OR size(#ls) <= :room"
            if known is None:
                for index, key in enumerate(new):
                    values[f":k{index}"] = {"S": key}
                condition += " OR (" + " AND ".join(f"contains(#ls, :k{i})" for i in range(len(new))) + ")"
            update["ConditionExpression"] = condition
        update["UpdateExpression"] = "SET #c = :c ADD " + ", ".join(adds)
        return update

    def _refit_links(self, run_id: str, shard: int, campaign_id: str, counters: dict[str, int]) -> dict[str, Any]:
        """The link update again, for an item that had no room: read its set of links, keep the
        ones it has and as many new ones as fit (in key order), and sum the rest as "other"."""
        item = self._get(ItemKey(f"RUN#{run_id}", f"LINK#{shard:02d}")) or {}
        known = set(item.get("links") or ())
        keys = domain.link_keys(counters)
        room = max(0, domain.MAX_LINKS - len(known))
        # The links the item has first, then new ones while it has room; and no more than
        # LINKS_PER_COMMIT in one update, so its expression stays far below DynamoDB's limits.
        keep = set((sorted(keys & known) + sorted(keys - known)[:room])[:LINKS_PER_COMMIT])
        return self._links_update(run_id, shard, campaign_id, domain.fold_links(counters, keep), known)

    def _status_item(self, token: str, status: BatchStatus, expires_at: int) -> dict[str, Any]:
        return {
            **_status_key(token).dynamo(),
            "status": {"S": status.value},
            "expires_at": {"N": str(expires_at)},
        }

    def _counter_update(self, item: CounterItem, campaign_id: str, counts: Mapping[str, int]) -> dict[str, Any] | None:
        counts = {name: value for name, value in counts.items() if value and is_counter(name)}
        if not counts:
            return None
        names = {"#c": "campaign_id", "#s": "segment"}
        values: dict[str, Any] = {":c": {"S": campaign_id}, ":s": {"S": item.segment}}
        adds = []
        for index, (name, value) in enumerate(sorted(counts.items())):
            names[f"#n{index}"] = name
            values[f":n{index}"] = {"N": str(value)}
            adds.append(f"#n{index} :n{index}")
        return {
            "TableName": self.table,
            "Key": ItemKey(f"RUN#{item.run_id}", f"SEG#{item.segment}#{item.shard:02d}").dynamo(),
            "UpdateExpression": "SET #c = :c, #s = :s ADD " + ", ".join(adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    # -- reading ----------------------------------------------------------------------------

    def run_counts(self, run_id: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """(totals, per segment) of a run's counters: one Query of its shard items."""
        paginator = self.dynamodb.get_paginator("query")
        items: list[dict[str, Any]] = []
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :seg)",
            ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}, ":seg": {"S": "SEG#"}},
            ConsistentRead=True,
        ):
            items.extend(from_item(item) for item in page.get("Items", []))
        return sum_counts(items)

    def run_items(self, run_id: str, prefix: str) -> list[dict[str, Any]]:
        """A run's items whose sort key starts with ``prefix`` (``TL#``, ``LINK#``): one Query."""
        paginator = self.dynamodb.get_paginator("query")
        items: list[dict[str, Any]] = []
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}, ":prefix": {"S": prefix}},
            ConsistentRead=True,
        ):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items

    def send_evidence(self, run_id: str, address_hashes: Sequence[str]) -> dict[str, str]:
        """Address hash -> message id, for each address of ``run_id`` whose Send event SES
        published (SES accepted a message to it). Key lookups only: BatchGetItem, 100 at a time."""
        found: dict[str, str] = {}
        unique = sorted(set(address_hashes))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [send_key(run_id, hashed).dynamo() for hashed in unique[start : start + BATCH_GET_KEYS]]
            request: dict[str, Any] = {
                self.table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "sk, message_ids",
                }
            }
            for attempt in range(MAX_ATTEMPTS):
                response = self.dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    record = from_item(item)
                    if record.get("message_ids"):
                        # Two messages in one run to one address would be a double send; either
                        # proves SES accepted one, and the first in order is stable.
                        found[record["sk"]] = sorted(record["message_ids"])[0]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
            else:
                raise RuntimeError(f"send evidence of run {run_id}: DynamoDB left keys unprocessed")
        return found

    # -- unsubscribes and last engagement ----------------------------------------------------

    def count_unsubscribe_once(
        self, run_id: str, campaign_id: str, segment: str, address: str, shard: int, increments: Mapping[str, int]
    ) -> bool:
        """Record that ``address`` unsubscribed from ``run_id`` and add ``increments`` in one
        transaction; False (and nothing written) when it was recorded before. Atomic, so a crash
        can neither count it twice nor record it without counting it."""
        marker = {
            "TableName": self.table,
            "Item": {
                **ItemKey(f"RUN#{run_id}", f"UNSUB#{address_hash(address)}").dynamo(),
                "campaign_id": {"S": campaign_id},
                "segment": {"S": segment},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        update = self._counter_update(CounterItem(run_id, segment, shard), campaign_id, increments)
        actions: list[dict[str, Any]] = [{"Put": marker}] + ([{"Update": update}] if update else [])
        for attempt in range(MAX_ATTEMPTS):
            try:
                self.dynamodb.transact_write_items(TransactItems=actions)
                return True
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in getattr(exc, "response", {}).get("CancellationReasons") or []]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False  # counted before (or by this very call, its first reply lost)
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
        return False  # not reached: the last attempt returns or raises

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
            self.dynamodb.update_item,
            TableName=self.table,
            Key=ItemKey(f"ADDR#{address}", "LAST").dynamo(),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_not_exists(#m) OR #m < :m",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attr_values,
        )

    def last_engagement(self, address: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=ItemKey(f"ADDR#{address}", "LAST").dynamo()).get("Item")
        return from_item(item) if item else None
