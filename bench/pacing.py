"""Pacing: the real SendBatch handler with the real Pacer and real sleeps, against an SES stub
that enforces MaxSendRate over a sliding one-second window.

Prepare plans the Map's concurrency from GetAccount (``domain.pacing.plan``); that many threads
then play the Distributed Map: each takes the next item, invokes SendBatch, and retries a
failed batch the way the state machine's Retry policy for SendBatch says (read from
statemachine/campaign.asl.json, so the two cannot drift). Measured: the rate SES accepted, the
most recipients accepted in any one-second window, and every address accepted exactly once.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import audience, harness
from .stubs import DynamoStub, S3Stub, SesStub, StubAws

AUDIENCE_KEY = f"incoming/{harness.CAMPAIGN_ID}/pacing.json"


def send_batch_retry_policy() -> list[dict[str, Any]]:
    """The Retry list of the state that invokes SendBatch in the state machine definition."""
    definition = json.loads((harness.ROOT / "statemachine" / "campaign.asl.json").read_text())

    def walk(node: Any) -> list[dict[str, Any]] | None:
        if isinstance(node, dict):
            function = str(node.get("Parameters", {}).get("FunctionName", ""))
            if node.get("Type") == "Task" and "SendBatch" in function:
                return node.get("Retry", [])
            for child in node.values():
                found = walk(child)
                if found is not None:
                    return found
        elif isinstance(node, list):
            for child in node:
                found = walk(child)
                if found is not None:
                    return found
        return None

    policy = walk(definition)
    if policy is None:
        raise RuntimeError("no SendBatch task in statemachine/campaign.asl.json")
    return policy


class MapRun:
    """``concurrency`` workers over the items, with the SendBatch Retry policy."""

    def __init__(self, events: list[dict[str, Any]], concurrency: int, seed: int = 11) -> None:
        self.pending = list(reversed(events))
        self.concurrency = concurrency
        self.policy = send_batch_retry_policy()
        self.retries: Counter[str] = Counter()
        self.failed: list[str] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def _rule_for(self, error: str) -> dict[str, Any] | None:
        for rule in self.policy:
            if error in rule["ErrorEquals"] or "States.ALL" in rule["ErrorEquals"]:
                return rule
        return None

    def _run_item(self, event: dict[str, Any]) -> None:
        attempts: Counter[int] = Counter()
        while True:
            try:
                harness.invoke("SendBatch", event)
                return
            except Exception as exc:
                error = type(exc).__name__
                rule = self._rule_for(error)
                index = self.policy.index(rule) if rule else -1
                if rule is None or attempts[index] >= rule.get("MaxAttempts", 3):
                    with self._lock:
                        self.failed.append(f"batch {event['item']['batch']}: {error}: {exc}")
                    return
                interval = rule.get("IntervalSeconds", 1) * rule.get("BackoffRate", 2.0) ** attempts[index]
                if rule.get("JitterStrategy") == "FULL":
                    interval = self._rng.uniform(0, interval)
                attempts[index] += 1
                with self._lock:
                    self.retries[error] += 1
                time.sleep(interval)

    def _worker(self) -> None:
        while True:
            with self._lock:
                if not self.pending:
                    return
                event = self.pending.pop()
            self._run_item(event)

    def run(self) -> float:
        started = time.monotonic()
        threads = [threading.Thread(target=self._worker, name=f"map-{i}") for i in range(self.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started


def max_in_one_second(times: list[float]) -> int:
    """Most entries accepted in any window [t, t + 1 s)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def measure(
    recipients: int = 20_000, *, max_send_rate: float = 200.0, share: float = 1.0, throttle_share: float = 0.0
) -> dict[str, Any]:
    harness.prepare_environment()
    ses = SesStub(max_send_rate=max_send_rate, enforce=True, throttle_share=throttle_share, record=True)
    stub = StubAws(S3Stub(), DynamoStub(), ses)
    harness.install(stub)
    harness.put_recipe(stub, send_rate_share=share)
    stub.s3.put(AUDIENCE_KEY, audience.json_bytes(recipients))
    with harness.quiet():
        _run, prepared = harness.start_and_prepare(stub, AUDIENCE_KEY)
        events = harness.batch_events(stub, prepared)
        run = MapRun(events, prepared["max_concurrency"])
        cpu = time.process_time()
        wall = run.run()
        cpu = time.process_time() - cpu

    times = [t for t, _ in ses.accepted]
    sent = Counter(address for _, address in ses.accepted)
    expected = {row["email"] for row in audience.rows(recipients)}
    span = (max(times) - min(times) + 1.0) if times else 0.0  # the last second counted in full
    achieved = len(times) / span if span else 0.0
    return {
        "recipients": recipients,
        "max_send_rate": max_send_rate,
        "send_rate_share": share,
        "random_throttle_share": throttle_share,
        "max_concurrency": prepared["max_concurrency"],
        "worker_rate": prepared["context"]["worker_rate"],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "achieved_rate": achieved,
        "achieved_share_of_limit": achieved / max_send_rate,
        "max_in_any_one_second": max_in_one_second(times),
        "accepted": len(times),
        "lost": len(expected - set(sent)),
        "sent_twice": sum(1 for count in sent.values() if count > 1),
        "unexpected": len(set(sent) - expected),
        "throttled_entries_by_rate": ses.throttled_by_rate,
        "throttled_entries_at_random": ses.throttled_at_random,
        "batch_retries": dict(run.retries),
        "failed_batches": run.failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--max-send-rate", type=float, default=200.0)
    parser.add_argument("--share", type=float, default=1.0)
    parser.add_argument("--throttle-share", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = measure(
        args.recipients, max_send_rate=args.max_send_rate, share=args.share, throttle_share=args.throttle_share
    )
    harness.write_json(args.out, result)


if __name__ == "__main__":
    main()
