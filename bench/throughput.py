"""Throughput: recipients per CPU-second, ours against the seed recipe's approach, in one run.

Both sides talk to the same stubs (``bench.stubs``), so botocore's serialisation, signing and
parsing cost the same per call on both sides. The baseline is the recipe written plainly:
``json.load`` of the whole subscriber file, then one SES v2 ``SendEmail`` per recipient with
its template data. Ours is StartCampaign, Prepare and every SendBatch through the real
handlers, with pacing sleeps switched off (pacing is measured on its own).

The same run counts API calls per service and DynamoDB request units, for the cost model.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import boto3

from . import audience, harness
from .stubs import DynamoStub, S3Stub, SesStub, StubAws

# The account the calls are counted for: 200 recipients a second (the pacing figure). The
# worker rate follows from it, and with it the SES calls per batch (see docs/performance.md).
MAX_SEND_RATE = 200.0
AUDIENCE_KEY = f"incoming/{harness.CAMPAIGN_ID}/subscribers.json"


def _baseline(s3: Any, ses: Any, definition: dict[str, Any]) -> int:
    """The recipe's loop: every subscriber gets one SendEmail with its template data."""
    segments = {s["rule"]["eq"]: s for s in definition["segments"]}
    sender = f"{definition['sender']['name']} <{definition['sender']['address']}>"
    subscribers = json.load(s3.get_object(Bucket=harness.BUCKET, Key=AUDIENCE_KEY)["Body"])
    sent = 0
    for subscriber in subscribers:
        segment = segments.get(subscriber.get("segment"))
        if segment is None:
            continue
        data = {**definition["default_template_data"], **segment.get("data", {}), **subscriber}
        data["unsubscribe_url"] = "https://example.com/unsubscribe"
        ses.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [subscriber["email"]]},
            ReplyToAddresses=definition["reply_to"],
            Content={"Template": {"TemplateName": segment["template"], "TemplateData": json.dumps(data)}},
            ConfigurationSetName=harness.ENVIRONMENT["CONFIGURATION_SET"],
        )
        sent += 1
    return sent


def _cpu(work, *args):
    start = time.process_time()
    result = work(*args)
    return result, time.process_time() - start


def _ours(
    recipients: int, max_send_rate: float, parameter_validation: bool | None = None
) -> tuple[dict[str, Any], StubAws]:
    """StartCampaign, Prepare, every SendBatch and Finalize, through the real handlers."""
    from campaign_engine.services import send

    stub = StubAws(S3Stub(), DynamoStub(), SesStub(max_send_rate=max_send_rate))
    harness.install(stub, parameter_validation=parameter_validation)
    harness.put_recipe(stub)
    stub.s3.put(AUDIENCE_KEY, audience.json_bytes(recipients))
    saved_sleep, send.SLEEP = send.SLEEP, lambda seconds: None
    try:
        with harness.quiet():
            (run_input, prepared), prepare_cpu = _cpu(harness.start_and_prepare, stub, AUDIENCE_KEY)
            events = harness.batch_events(stub, prepared)
            outputs, send_cpu = _cpu(lambda: [harness.invoke("SendBatch", event) for event in events])
            report, finalize_cpu = _cpu(harness.invoke, "Finalize", {**run_input, "prepare": prepared, "map": {}})
    finally:
        send.SLEEP = saved_sleep
    sent = sum(output["counts"]["sent"] for output in outputs)
    if not sent == report["counts"]["sent"] == recipients:
        raise RuntimeError(f"expected {recipients} sent, got {sent} (report {report['counts']})")
    cpu = prepare_cpu + send_cpu + finalize_cpu
    return {
        "recipients": recipients,
        "max_send_rate": max_send_rate,
        "worker_rate": prepared["context"]["worker_rate"],
        "max_concurrency": prepared["max_concurrency"],
        "batches": len(events),
        "cpu_seconds": cpu,
        "start_and_prepare_cpu_seconds": prepare_cpu,
        "send_batches_cpu_seconds": send_cpu,
        "send_batch_cpu_seconds_per_batch": send_cpu / len(events),
        "finalize_cpu_seconds": finalize_cpu,
        "recipients_per_cpu_second": recipients / cpu,
    }, stub


def measure(recipients: int = 20_000, what_ifs: bool = True) -> dict[str, Any]:
    harness.prepare_environment()
    for function in ("StartCampaign", "Prepare", "SendBatch", "Finalize"):
        harness.handler(function)  # imported before any clock starts: cold start is measured apart

    stub = StubAws(S3Stub(), DynamoStub(), SesStub())
    definition = harness.put_recipe(stub)
    stub.s3.put(AUDIENCE_KEY, audience.json_bytes(recipients))
    clients = stub.attach(boto3.client("s3")), stub.attach(boto3.client("sesv2"))
    baseline_sent, baseline_cpu = _cpu(_baseline, *clients, definition)
    if baseline_sent != recipients:
        raise RuntimeError(f"baseline sent {baseline_sent} of {recipients}")
    baseline_rate = recipients / baseline_cpu

    ours, stub = _ours(recipients, MAX_SEND_RATE)
    per_thousand = 1000 / recipients
    capacity = stub.dynamodb.capacity
    result: dict[str, Any] = {
        "recipients": recipients,
        "baseline": {"cpu_seconds": baseline_cpu, "recipients_per_cpu_second": baseline_rate},
        "ours": ours,
        "ratio": ours["recipients_per_cpu_second"] / baseline_rate,
        "calls_per_1000": {
            "by_service": {s: n * per_thousand for s, n in sorted(stub.calls_by_service().items())},
            "by_operation": {f"{s}:{op}": n * per_thousand for (s, op), n in sorted(stub.calls.items())},
        },
        "dynamodb_per_1000": {
            "wru": {op: n * per_thousand for op, n in sorted(capacity.wru.items())},
            "rru": {op: n * per_thousand for op, n in sorted(capacity.rru.items())},
            "items_written": {op: n * per_thousand for op, n in sorted(capacity.items_written.items())},
        },
        "s3_bytes_written_per_1000": {
            key.rsplit("/", 1)[-1]: n * per_thousand for key, n in sorted(stub.s3.written.items())
        },
    }
    if what_ifs:
        # Not the product: the same code under other conditions, to show what moves the ratio.
        size = max(1000, recipients // 2)
        result["what_if"] = {}
        for name, rate, validation in (
            ("account_2500_per_second", 2500.0, None),
            # as before adapters/aws.py turned botocore's validation off for SES and DynamoDB
            ("botocore_parameter_validation_on", MAX_SEND_RATE, True),
        ):
            variant, _ = _ours(size, rate, parameter_validation=validation)
            variant["ratio"] = variant["recipients_per_cpu_second"] / baseline_rate
            result["what_if"][name] = variant
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--no-what-ifs", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    harness.write_json(args.out, measure(args.recipients, what_ifs=not args.no_what_ifs))


if __name__ == "__main__":
    main()
