"""Lambda's SQS event source mappings, for the local stack.

moto invokes a function synchronously inside ``SendMessage`` and has no partial batch
responses, so the local stack polls instead, as the Lambda service does: receive up to
``BatchSize`` messages, invoke the function (through moto's Lambda API, so the real handler
runs in-process), delete what succeeded and make the rest visible again. With
``ReportBatchItemFailures`` only the ``batchItemFailures`` are retried; a function error
retries the whole batch. moto moves a message to the queue's dead-letter queue when it is
received again after ``maxReceiveCount`` receives, as SQS does.

Two deliberate differences, both about time: a failed message is visible again after
``retry_delay`` seconds instead of the queue's VisibilityTimeout (minutes in template.yaml),
so tests and the demo see redelivery and dead-lettering in seconds; and the batching window
is at most ``MAX_LOCAL_WINDOW`` seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3

log = logging.getLogger("campaign_local.pollers")
MAX_RECEIVE = 10  # SQS ReceiveMessage returns at most 10 messages
MAX_LOCAL_WINDOW = 0.25


@dataclass
class EventSourceMapping:
    function_name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    batching_window: float = 0.0  # MaximumBatchingWindowInSeconds


@dataclass
class Poller:
    mapping: EventSourceMapping
    region: str
    retry_delay: float = 0.2
    idle_sleep: float = 0.02
    # An idle poller backs off to this wait (doubling from idle_sleep): polling an empty queue every
    # 20 ms cost a quarter of a core of the local stack, taken from the work it serves. The first
    # message after a quiet spell waits at most this long, as Lambda's own pollers make it wait.
    idle_sleep_max: float = 0.25
    invocations: int = 0
    busy: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"sqs-poller-{self.mapping.function_name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        sqs = boto3.client("sqs", region_name=self.region)
        lambda_client = boto3.client("lambda", region_name=self.region)
        wait = self.idle_sleep
        while not self._stop.is_set():
            try:
                self.busy = True
                handled = self._poll_once(sqs, lambda_client)
            except Exception:  # keep polling, as the Lambda service does
                log.exception("poller of %s failed", self.mapping.function_name)
                handled = 0
            finally:
                self.busy = False
            if handled:
                wait = self.idle_sleep
            else:
                self._stop.wait(wait)
                wait = min(wait * 2, self.idle_sleep_max)

    def _receive(self, sqs: Any) -> list[dict[str, Any]]:
        """Up to BatchSize messages, waiting at most the batching window for a batch to fill."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + min(self.mapping.batching_window, MAX_LOCAL_WINDOW)
        while len(messages) < self.mapping.batch_size:
            wanted = min(MAX_RECEIVE, self.mapping.batch_size - len(messages))
            got = sqs.receive_message(
                QueueUrl=self.mapping.queue_url,
                MaxNumberOfMessages=wanted,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            messages.extend(got)
            if len(got) < wanted:
                if not messages or time.monotonic() >= deadline or self._stop.is_set():
                    break
                self._stop.wait(0.02)
        return messages

    def _poll_once(self, sqs: Any, lambda_client: Any) -> int:
        messages = self._receive(sqs)
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        response = lambda_client.invoke(FunctionName=self.mapping.function_name, Payload=json.dumps(event))
        self.invocations += 1
        payload = response["Payload"].read()
        failed_ids = self._failures(response, payload, messages)
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(done), MAX_RECEIVE):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            sqs.delete_message_batch(QueueUrl=self.mapping.queue_url, Entries=entries)
        for message in messages:
            if message["MessageId"] in failed_ids:
                sqs.change_message_visibility(
                    QueueUrl=self.mapping.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
        if failed_ids:
            self._stop.wait(self.retry_delay)
        return len(messages)

    def _failures(self, response: dict[str, Any], payload: bytes, messages: list[dict[str, Any]]) -> set[str]:
        every = {m["MessageId"] for m in messages}
        if response.get("FunctionError"):
            return every
        if not self.mapping.report_batch_item_failures:
            return set()
        try:
            failures = json.loads(payload or b"{}").get("batchItemFailures") or []
            ids = {f["itemIdentifier"] for f in failures}
        except (ValueError, AttributeError, KeyError, TypeError):
            return every  # an unreadable partial response fails the whole batch, as in Lambda
        return ids if ids <= every else every

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.queue_arn,
            "awsRegion": self.region,
        }


@dataclass
class Pollers:
    region: str
    pollers: list[Poller] = field(default_factory=list)

    def add(self, mapping: EventSourceMapping) -> None:
        poller = Poller(mapping, self.region)
        self.pollers.append(poller)
        poller.start()

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until every mapped queue is empty (nothing visible or in flight) and no poller
        is invoking, twice in a row."""
        sqs = boto3.client("sqs", region_name=self.region)
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"SQS event sources still busy after {timeout:.0f} s")
            pending = 0
            for poller in self.pollers:
                attributes = sqs.get_queue_attributes(
                    QueueUrl=poller.mapping.queue_url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                pending += int(attributes["ApproximateNumberOfMessages"])
                pending += int(attributes["ApproximateNumberOfMessagesNotVisible"])
                pending += 1 if poller.busy else 0
            quiet = quiet + 1 if pending == 0 else 0
            time.sleep(0.05)
