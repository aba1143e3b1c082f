"""The feedback path, measured: SES event records through the real Engagement and Suppression
handlers, delivered as SNS notifications in SQS batches the way the template wires them
(engagement: batches of 100; suppression: batches of 10 of only bounces, complaints and
subscription changes, which its SNS filter policy lets through).

Each recipient gets three events: Send, Delivery and Open; a bounced one Send and Bounce; a
complaining one Send, Delivery and Complaint. The records come from campaign_local.ses_events,
which builds them the way SES publishes them. Counted: CPU per invocation, DynamoDB calls and
request units per event, for the cost model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from . import audience, harness
from .stubs import DynamoStub, S3Stub, SesStub, StubAws

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:bench-ses-events"
ENGAGEMENT_QUEUE = "arn:aws:sqs:us-east-1:123456789012:bench-engagement"
SUPPRESSION_QUEUE = "arn:aws:sqs:us-east-1:123456789012:bench-suppression"
ENGAGEMENT_BATCH, SUPPRESSION_BATCH = 100, 10  # template.yaml's SQS event source BatchSize
SUPPRESSION_TYPES = ("Bounce", "Complaint", "Subscription")


def _records(recipients: int, bounce_every: int, complaint_every: int) -> list[dict[str, Any]]:
    from campaign_local import ses_events as records

    found = []
    started = time.time() - 3600
    for i, row in enumerate(audience.rows(recipients)):
        message = records.Message(
            to=(row["email"],),
            timestamp=started + i * 0.005,
            tags={"campaign": harness.CAMPAIGN_ID, "run": "recipe-u-bench", "segment": row["segment"]},
            configuration_set=harness.ENVIRONMENT["CONFIGURATION_SET"],
            template="welcome-campaign",
        )
        found.append(records.send_record(message))
        if i % bounce_every == bounce_every - 1:
            found.append(records.bounce_record(message))
        elif i % complaint_every == complaint_every - 1:
            found += [records.delivery_record(message), records.complaint_record(message)]
        else:
            found += [records.delivery_record(message), records.open_record(message)]
    return found


def _deliver(function: str, records: list[dict[str, Any]], batch: int, queue: str) -> tuple[int, float]:
    from campaign_local import ses_events

    envelopes = [ses_events.sns_envelope(record, TOPIC_ARN) for record in records]
    events = [ses_events.sqs_event(envelopes[i : i + batch], queue) for i in range(0, len(envelopes), batch)]
    start = time.process_time()
    with harness.quiet():
        responses = [harness.invoke(function, event) for event in events]
    cpu = time.process_time() - start
    failed = [r["batchItemFailures"] for r in responses if r.get("batchItemFailures")]
    if failed:
        raise RuntimeError(f"{function} failed records: {failed}")
    return len(events), cpu


def measure(recipients: int = 5_000, bounce_every: int = 50, complaint_every: int = 1000) -> dict[str, Any]:
    """2% bounces and 0.1% complaints by default: a list that stays under SES's review rates."""
    harness.prepare_environment()
    stub = StubAws(S3Stub(), DynamoStub(), SesStub())
    harness.install(stub)
    for function in ("Engagement", "Suppression"):
        harness.handler(function)
    records = _records(recipients, bounce_every, complaint_every)
    filtered = [r for r in records if r["eventType"] in SUPPRESSION_TYPES]

    result: dict[str, Any] = {"recipients": recipients, "events": len(records), "suppression_events": len(filtered)}
    for function, chosen, batch, queue in (
        ("Engagement", records, ENGAGEMENT_BATCH, ENGAGEMENT_QUEUE),
        ("Suppression", filtered, SUPPRESSION_BATCH, SUPPRESSION_QUEUE),
    ):
        stub.reset_counts()
        invocations, cpu = _deliver(function, chosen, batch, queue)
        capacity = stub.dynamodb.capacity
        per_event = 1 / max(1, len(chosen))
        result[function] = {
            "events": len(chosen),
            "invocations": invocations,
            "cpu_seconds": cpu,
            "cpu_seconds_per_invocation": cpu / max(1, invocations),
            "calls_per_event": {f"{s}:{op}": n * per_event for (s, op), n in sorted(stub.calls.items())},
            "wru_per_event": sum(capacity.wru.values()) * per_event,
            "rru_per_event": sum(capacity.rru.values()) * per_event,
            "wru_by_operation": dict(capacity.wru),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=3_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    harness.write_json(args.out, measure(args.recipients))


if __name__ == "__main__":
    main()
