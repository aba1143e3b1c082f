"""Chaos runs: one campaign on the local stack under a fault schedule, then its promises checked.

    python -m campaign_local.chaos --schedules 1000 --seed 1 --workers 2 --out build/chaos/results.json

The scenario (:func:`run_schedule`): a fresh local stack; an audience of 86 rows (two segments
in three batches, plus invalid, duplicate, unmatched and already suppressed rows, and SES
mailbox simulator addresses that bounce, complain, open and click); the upload starts the run
through the real S3 notification, StartCampaign, the state machine and its functions, with the
schedule's faults (``campaign_local.faults``) armed. After the execution ends, every SES event
the local SES published is delivered once more in a shuffled order, still under faults; then
the faults are switched off, dead-lettered feedback is redriven (as an operator would) and the
feedback functions drain. The checks (:class:`Check`) follow issue 10:

- nobody got a message twice;
- every row has exactly one outcome, and the counts add up to the rows;
- nobody SES recorded is reported as anything but sent (or unknown when that call's answer was
  lost), and nobody is reported sent whom SES did not record;
- the report and the run record agree, and neither says RUNNING once the execution ended;
- a fault that fires once or twice does not fail the run (every task retries transient faults);
- the suppression list and the engagement counts equal those of one ordered, fault-free
  delivery of the same SES events into the state before the run.

Schedules (:func:`enumerate_schedules`) come from the call sites a fault-free run records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from enum import Enum
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pydantic import BaseModel, ConfigDict, Field

from .faults import INJECTOR, KINDS_AT, CallSite, Fault, RandomFaults, Schedule, When, fast_clock
from .faults import install as install_faults
from .faults import uninstall as uninstall_faults

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = "chaos"
SENDER = "example.com"
SIM = "simulator.amazonses.com"
EXECUTION_TIMEOUT = 60.0  # seconds of wall time; a run on the fast clock takes about one
DRAIN_TIMEOUT = 90.0
OUTCOMES = ("sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent")
RANDOM_RATES = (0.02, 0.05, 0.1)
BATCH_SIZE = 4
# The functions of the feedback path: a schedule faulting one of them (or random faults, or the
# baseline) checks the feedback promise; the others run without SES event publishing, which
# changes nothing on the send path and saves most of a schedule's time.
FEEDBACK_FUNCTIONS = frozenset({"EngagementFunction", "SuppressionFunction"})
REPLAY_SHARE = 0.3  # the share of SES events delivered once more, shuffled, under faults


class Check(str, Enum):
    DUPLICATE_SEND = "duplicate_send"  # SES accepted two messages for one address
    RECORDED_NOT_SENT = "recorded_not_sent"  # SES has it, the run says otherwise (not a lost reply)
    SENT_NOT_RECORDED = "sent_not_recorded"  # the run says sent, SES never accepted it
    COUNTS = "counts"  # outcomes do not add up to the rows, or rows are missing
    NO_REPORT = "no_report"  # the execution ended without report.json
    RUNNING_AFTER_END = "running_after_end"  # report or record RUNNING after the execution ended
    RECORD_REPORT_DISAGREE = "record_report_disagree"  # run record vs report vs execution
    TRANSIENT_FAULT_FAILED_RUN = "transient_fault_failed_run"  # a once/twice fault ended the run badly
    EXECUTION_HUNG = "execution_hung"  # still RUNNING after EXECUTION_TIMEOUT
    FEEDBACK_MISMATCH = "feedback_mismatch"  # suppression or engagement != one ordered delivery
    HARNESS_ERROR = "harness_error"  # the scenario itself raised: a finding to read


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check: Check
    detail: str


class ScheduleResult(BaseModel):
    schedule: Schedule
    label: str
    seconds: float
    cpu_seconds: float = 0.0  # this process's CPU time over the schedule (every thread of the stack)
    violations: list[Violation] = Field(default_factory=list)
    fired: int = 0  # how many times the fault fired (0: the call site was not reached)
    observations: dict[str, int] = Field(default_factory=dict)
    calls: dict[str, int] = Field(default_factory=dict)  # call site -> occurrences (baseline only)


# -- the scenario -------------------------------------------------------------------------------


def audience() -> tuple[list[dict[str, str]], dict[str, int], list[str]]:
    """(rows, the outcome counts Prepare must find, addresses to put on the suppression list).

    With ``BATCH_SIZE`` 4: new_customers in three batches, loyal_customers in one."""
    rows: list[dict[str, str]] = []
    sims = ["bounce", "complaint", "success+open", "success+click", "ooto"]
    rows += [{"email": f"{local}@{SIM}", "name": f"Sim {local}", "segment": "new_customers"} for local in sims]
    rows += [{"email": f"new{i}@example.com", "name": f"New {i}", "segment": "new_customers"} for i in range(5)]
    rows += [{"email": f"loyal{i}@example.com", "name": f"Loyal {i}", "segment": "loyal_customers"} for i in range(3)]
    suppressed = ["gone0@example.com", "gone1@example.com"]
    rows += [{"email": a, "name": "Gone", "segment": "new_customers"} for a in suppressed]
    rows += [{"email": f"bad{i}-at-example.com", "name": "Bad", "segment": "new_customers"} for i in range(2)]
    rows += [{"email": f"NEW{i}@example.com", "name": "Again", "segment": "loyal_customers"} for i in range(2)]
    rows += [{"email": f"other{i}@example.com", "name": "Other", "segment": "prospects"} for i in range(2)]
    expected = {"invalid": 2, "duplicate": 2, "skipped": 2}
    return rows, expected, suppressed


@contextmanager
def small_batches(size: int = BATCH_SIZE) -> Iterator[None]:
    """Prepare cuts batches of ``size`` instead of SES's 50, so a small audience makes several
    batches (a Map of several children, as in a real run) at a fraction of the events."""
    from campaign_engine.services import prepare

    saved = prepare.MAX_ENTRIES
    prepare.MAX_ENTRIES = size
    try:
        yield
    finally:
        prepare.MAX_ENTRIES = saved


def checks_feedback(schedule: Schedule) -> bool:
    return schedule.fault is None or schedule.fault.site.function in FEEDBACK_FUNCTIONS


def _without_feedback(stack: Any) -> None:
    """No SES event publishing and no feedback functions (see FEEDBACK_FUNCTIONS)."""
    stack.pollers.stop()
    sesv2 = stack.client("sesv2")
    for name in sesv2.list_configuration_sets().get("ConfigurationSets", []):
        for destination in sesv2.get_configuration_set_event_destinations(ConfigurationSetName=name).get(
            "EventDestinations", []
        ):
            sesv2.delete_configuration_set_event_destination(
                ConfigurationSetName=name, EventDestinationName=destination["Name"]
            )


def _setup(stack: Any, suppressed: list[str]) -> None:
    stack.verify_sender(SENDER)
    for path in (ROOT / "templates").glob("*.json"):
        stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text(encoding="utf-8")))
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text(encoding="utf-8"))
    definition["campaign_id"] = CAMPAIGN
    stack.put_json(f"campaigns/{CAMPAIGN}.json", definition)
    # Fast enough that every batch is one SES call and the Map runs the three batches at once.
    stack.configure_ses(max_send_rate=2500, max_24_hour_send=1_000_000)
    for poller in stack.pollers.pollers:
        poller.retry_delay = 0.02  # a failed feedback batch is redelivered at once
        poller.mapping.batching_window = 0.0  # no waiting for a batch to fill
    table = stack.environment["SUPPRESSION_TABLE"]
    for address in suppressed:  # suppressed before this campaign, as an operator import would
        stack.client("dynamodb").put_item(
            TableName=table,
            Item={"address": {"S": address}, "status": {"S": "SUPPRESSED"}, "reason": {"S": "MANUAL"}},
        )


_DESERIALIZER = TypeDeserializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _DESERIALIZER.deserialize(value) for key, value in item.items()}


def _scan(stack: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(_plain(item) for item in page.get("Items", []))
    return items


def _query(stack: Any, table: str, pk: str, prefix: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in (
        stack.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": pk}, ":p": {"S": prefix}},
            ConsistentRead=True,
        )
    ):
        items.extend(_plain(item) for item in page.get("Items", []))
    return items


def _canonical(value: Any) -> Any:
    """Sets and Decimals as sorted lists and ints/floats, so snapshots compare and print."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (set, frozenset, list, tuple)):
        items = [_canonical(v) for v in value]
        return (
            sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
            if isinstance(value, (set, frozenset))
            else items
        )
    if type(value).__name__ == "Decimal":
        return int(value) if value == int(value) else float(value)
    return value


def feedback_state(stack: Any) -> dict[str, Any]:
    """What the feedback path decides: the suppression list, and the engagement table with the
    run counters (per segment, time bucket and link) summed over their shards (how a count is
    split over shards is not a promise)."""
    suppression = {
        item["address"]: {k: v for k, v in item.items() if k in ("status", "reason", "scope", "topics")}
        for item in _scan(stack, stack.environment["SUPPRESSION_TABLE"])
    }
    engagement: dict[str, Any] = {}
    counters: dict[str, Counter[str]] = {}
    for item in _scan(stack, stack.environment["ENGAGEMENT_TABLE"]):
        pk, sk = str(item["pk"]), str(item["sk"])
        if not pk.startswith(("MSG#", "RUN#", "ADDR#")):
            continue  # bookkeeping of how events were applied (batch markers), not a result
        # Not results: a TTL (when, not what) and the engagement function's commit markers ("c:<kind>":
        # which delivery batch applied the event), which differ by how deliveries were batched.
        item = {k: v for k, v in item.items() if k != "expires_at" and not k.startswith("c:")}
        if sk.startswith(("SEG#", "TL#", "LINK#")):
            # Counter shards (segment, time bucket, links): summed, as the report sums them.
            group = f"{pk}|{sk.rsplit('#', 1)[0]}"
            numbers = {k: int(v) for k, v in item.items() if type(v).__name__ == "Decimal"}
            counters.setdefault(group, Counter()).update(numbers)
        else:
            engagement[f"{pk}|{sk}"] = item
    for segment, counts in counters.items():
        engagement[segment] = {k: v for k, v in counts.items() if v}
    return _canonical({"suppression": suppression, "engagement": engagement})


def _clear(stack: Any, table: str) -> None:
    dynamodb = stack.client("dynamodb")
    keys = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            dynamodb.delete_item(TableName=table, Key={k: item[k] for k in keys})


def _redrive_dead_letters(stack: Any) -> int:
    """Move every dead-lettered feedback message back to its queue (an operator's redrive)."""
    sqs, moved = stack.client("sqs"), 0
    for poller in stack.pollers.pollers:
        source = poller.mapping.queue_url
        policy = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])["Attributes"]
        if "RedrivePolicy" not in policy:
            continue
        dlq_name = json.loads(policy["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[-1]
        dlq = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
        while True:
            messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                sqs.send_message(QueueUrl=source, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
    return moved


def _outcome_of_state(state: Any) -> str:
    """A batch entry's state as a report outcome (the batch record's own vocabulary)."""
    from campaign_engine.services import send

    mapping: dict[str, str] = {str(k): str(v) for k, v in getattr(send, "STATE_OUTCOME", {}).items()}
    if isinstance(state, dict):
        state = state.get("state")
    text = str(getattr(state, "value", state))
    fallback = {"INFLIGHT": "unknown", "PENDING": "not_sent", "RELEASED": "not_sent"}
    return mapping.get(text) or fallback.get(text) or text.lower()


def run_schedule(schedule: Schedule, *, record_calls: bool = False, feedback: bool | None = None) -> ScheduleResult:
    """One campaign under ``schedule``; the result lists every broken promise. ``feedback``
    (default: :func:`checks_feedback`) runs the feedback path and checks it."""
    from campaign_local.stack import LocalStack

    started, cpu_started = time.monotonic(), time.process_time()
    violations: list[Violation] = []
    observations: Counter[str] = Counter()
    rows, expected, suppressed = audience()
    install_faults()
    with _uninstalled_after(), fast_clock(), small_batches(), LocalStack.start() as stack:
        _setup(stack, suppressed)
        if feedback is None:
            feedback = checks_feedback(schedule)
        if not feedback:
            _without_feedback(stack)
        before = feedback_state(stack)

        def fail(check: Check, detail: str) -> None:
            violations.append(Violation(check=check, detail=detail))

        INJECTOR.arm(schedule)
        try:
            _run_and_check(stack, schedule, rows, expected, fail, observations, feedback)
            if feedback:
                _check_feedback(stack, schedule, before, suppressed, fail, observations)
        except Exception as exc:
            fail(Check.HARNESS_ERROR, f"{type(exc).__name__}: {exc} at {_where(exc)}")
        finally:
            INJECTOR.disarm()
        calls = {str(site): n for site, n in INJECTOR.calls.items()} if record_calls else {}
        fired = len(INJECTOR.fired)
    return ScheduleResult(
        schedule=schedule,
        label=schedule.label(),
        seconds=round(time.monotonic() - started, 3),
        cpu_seconds=round(time.process_time() - cpu_started, 3),
        violations=violations,
        fired=fired,
        observations=dict(observations),
        calls=calls,
    )


@contextmanager
def _uninstalled_after() -> Iterator[None]:
    try:
        yield
    finally:
        uninstall_faults()


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def _run_and_check(
    stack: Any,
    schedule: Schedule,
    rows: list[dict[str, str]],
    expected: dict[str, int],
    fail: Any,
    seen: Counter[str],
    feedback: bool,
) -> None:
    from campaign_engine.domain.addresses import address_hash

    stack.upload(f"incoming/{CAMPAIGN}/subscribers.json", json.dumps(rows).encode("utf-8"))
    transient = schedule.fault is not None and schedule.fault.times is not None
    executions = stack.executions()
    if not executions:
        if transient:
            fail(Check.TRANSIENT_FAULT_FAILED_RUN, "the upload started no run")
        seen["no_run_started"] += 1
    ended: list[dict[str, Any]] = []
    for execution in executions:
        try:
            ended.append(stack.wait_for_execution(execution["executionArn"], timeout=EXECUTION_TIMEOUT))
        except TimeoutError:
            fail(Check.EXECUTION_HUNG, f"execution {execution['name']} still RUNNING after {EXECUTION_TIMEOUT:.0f} s")
    if len(executions) > 1:
        fail(Check.RECORD_REPORT_DISAGREE, f"one upload started {len(executions)} executions")
    if feedback:
        stack.drain_feedback(DRAIN_TIMEOUT)

    messages = stack.sent_messages()
    recorded = Counter(address for message in messages for address in message["to"])
    for address, count in recorded.items():
        if count > 1:
            fail(Check.DUPLICATE_SEND, f"{address_hash(address)} got {count} messages")
    if not ended:
        if recorded:
            fail(Check.SENT_NOT_RECORDED, f"{len(recorded)} recipients got mail from a run that never started")
        return
    execution = ended[0]
    run_id, status = execution["name"], execution["status"]
    if transient and status != "SUCCEEDED":
        fail(Check.TRANSIENT_FAULT_FAILED_RUN, f"execution {status}")

    try:
        report = stack.report(CAMPAIGN, run_id)
    except Exception:
        report = None
    record_items = _query(stack, stack.environment["RUNS_TABLE"], f"CAMPAIGN#{CAMPAIGN}", f"RUN#{run_id}")
    record = record_items[0] if record_items else None
    # A Finalize that fails at every attempt cannot write the report: then the promise is only
    # that the record is not RUNNING (the state machine's own fallback marks it).
    finalize_down = (
        schedule.fault is not None
        and schedule.fault.times is None
        and schedule.fault.site.function == "FinalizeFunction"
    )
    if report is None and finalize_down:
        seen["no_report_finalize_always_failing"] += 1
    elif report is None:
        fail(Check.NO_REPORT, f"execution {status} left no runs/{CAMPAIGN}/{run_id}/report.json")
    if record is None:
        fail(Check.RECORD_REPORT_DISAGREE, "no run record")
    for name, document in (("report", report), ("record", record)):
        if document is not None and document.get("status") == "RUNNING":
            fail(Check.RUNNING_AFTER_END, f"{name} says RUNNING after the execution ended {status}")
    if report is not None and record is not None and report.get("status") != record.get("status"):
        fail(Check.RECORD_REPORT_DISAGREE, f"report {report.get('status')} but record {record.get('status')}")
    if report is not None:
        ok = {"SUCCEEDED": {"COMPLETED"}, "FAILED": {"FAILED"}}.get(status, {"FAILED", "CANCELLED"})
        if status == "FAILED" and record is not None and record.get("finalize_error"):
            # Finalize closed the record, then failed on every attempt (its report write): the
            # execution fails to say so, while the record and a report a lost reply did write agree.
            ok = {str(record.get("status"))}
        if report.get("status") not in ok:
            fail(Check.RECORD_REPORT_DISAGREE, f"execution {status} but report {report.get('status')}")
        if transient and report.get("status") != "COMPLETED":
            fail(Check.TRANSIENT_FAULT_FAILED_RUN, f"report {report.get('status')}: {report.get('reason')}")
        _check_counts(report, record, len(rows), expected, status, schedule, fail)

    # Per address: what the batch records say against what SES recorded.
    by_hash = {address_hash(r["email"].strip().lower()): r["email"].strip().lower() for r in rows}
    by_hash.update({address_hash(r["email"]): r["email"] for r in rows})
    outcomes: dict[str, str] = {}
    for batch in _query(stack, stack.environment["RUNS_TABLE"], f"RUN#{run_id}", "BATCH#"):
        for digest, state in (batch.get("entries") or {}).items():
            outcomes[by_hash.get(digest, digest)] = _outcome_of_state(state)
    lost = INJECTOR.lost_recipients()
    for address in recorded:
        outcome = outcomes.get(address.lower(), outcomes.get(address, "no entry"))
        if outcome == "sent" or (outcome == "unknown" and address in lost):
            continue
        why = "its call's answer was lost" if address in lost else "SES answered"
        fail(Check.RECORDED_NOT_SENT, f"{address_hash(address)} accepted by SES ({why}) but reported {outcome}")
    for address, outcome in outcomes.items():
        if outcome == "sent" and address not in recorded:
            fail(Check.SENT_NOT_RECORDED, f"{address_hash(address)} reported sent, SES has no message")
        if outcome == "unknown" and address not in recorded:
            seen["unknown_never_sent"] += 1  # issue 10 finding 11: reconcile, not a broken promise


def _check_counts(
    report: dict[str, Any],
    record: dict[str, Any] | None,
    audience_rows: int,
    expected: dict[str, int],
    status: str,
    schedule: Schedule,
    fail: Any,
) -> None:
    counts = {o: int(report.get(o, 0)) for o in OUTCOMES}
    rows = int(report.get("rows", 0))
    if sum(counts.values()) != rows:
        fail(Check.COUNTS, f"outcomes add up to {sum(counts.values())}, rows {rows}: {counts}")
    segments = report.get("segments") or {}
    for outcome in OUTCOMES:
        total = sum(int(c.get(outcome, 0)) for c in segments.values())
        if total != counts[outcome]:
            fail(Check.COUNTS, f"segments add up to {total} {outcome}, the total says {counts[outcome]}")
    # A run may fail before it could read the audience only under a fault that never stops.
    persistent = schedule.fault is None or schedule.fault.times is None
    if rows != audience_rows and not (rows == 0 and status != "SUCCEEDED" and persistent):
        fail(Check.COUNTS, f"report counts {rows} rows of the {audience_rows} uploaded")
    if rows == audience_rows:
        for outcome in ("invalid", "skipped"):
            if counts[outcome] != expected[outcome]:
                fail(Check.COUNTS, f"{counts[outcome]} {outcome}, the audience has {expected[outcome]}")
    if record is not None and isinstance(record.get("counts"), dict):
        kept = {o: int(record["counts"].get(o, 0)) for o in OUTCOMES}
        if kept != counts:
            fail(Check.RECORD_REPORT_DISAGREE, f"record counts {kept} but report {counts}")


def _check_feedback(
    stack: Any, schedule: Schedule, before: dict[str, Any], suppressed: list[str], fail: Any, seen: Counter[str]
) -> None:
    """Every SES event delivered at least once (again, shuffled, under faults; then redriven
    without faults) must leave what one ordered, fault-free delivery leaves."""
    records = [event for event in stack.published_events()]
    texts = [json.dumps(event) for event in records]
    rng = random.Random(schedule.seed)
    replay = rng.sample(texts, k=round(len(texts) * REPLAY_SHARE))
    stack.publish_ses_records(replay)
    stack.drain_feedback(DRAIN_TIMEOUT)
    INJECTOR.disarm()
    # Redrive until the dead-letter queues stay empty: a record dead-lettered again after a
    # redrive would be an event never applied, and the comparison below would blame the counts.
    for _ in range(3):
        moved = _redrive_dead_letters(stack)
        seen["redriven"] += moved
        stack.drain_feedback(DRAIN_TIMEOUT)
        if not moved:
            break
    else:
        raise RuntimeError("feedback records still dead-lettered after three fault-free redrives")
    after = feedback_state(stack)

    # The reference: the state before the run, then each event once, in order, no faults.
    for table in ("SUPPRESSION_TABLE", "ENGAGEMENT_TABLE"):
        _clear(stack, stack.environment[table])
    table = stack.environment["SUPPRESSION_TABLE"]
    for address in suppressed:
        stack.client("dynamodb").put_item(
            TableName=table,
            Item={"address": {"S": address}, "status": {"S": "SUPPRESSED"}, "reason": {"S": "MANUAL"}},
        )
    if feedback_state(stack) != before:
        raise RuntimeError("the harness could not restore the feedback tables to their state before the run")
    _deliver_in_order(stack, texts)
    reference = feedback_state(stack)
    for part in ("suppression", "engagement"):
        if after[part] != reference[part]:
            fail(Check.FEEDBACK_MISMATCH, f"{part}: {_difference(after[part], reference[part])}")


# The suppression subscription's filter policy (template.yaml SuppressionSubscription).
_SUPPRESSION_EVENTS = {"Bounce", "Complaint", "Subscription"}


def _deliver_in_order(stack: Any, texts: list[str], batch: int = 25) -> None:
    """Each SES record once, in publish order, straight to the feedback handlers (as SNS records:
    the same handler code as through SQS, without the queues' latency), no faults."""
    from . import lambdas

    topic = stack.outputs["SesEventsTopicArn"]

    def records(chunk: list[str]) -> dict[str, Any]:
        return {
            "Records": [
                {"EventSource": "aws:sns", "Sns": {"Type": "Notification", "TopicArn": topic, "Message": text}}
                for text in chunk
            ]
        }

    wanted = [
        text
        for text in texts
        if (json.loads(text).get("eventType") or json.loads(text).get("notificationType")) in _SUPPRESSION_EVENTS
    ]
    for start in range(0, len(wanted), batch):
        lambdas.invoke_handler("SuppressionFunction", records(wanted[start : start + batch]))
    for start in range(0, len(texts), batch):
        lambdas.invoke_handler("EngagementFunction", records(texts[start : start + batch]))


def _difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    from campaign_engine.domain.addresses import redact

    parts = []
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            mine = redact(json.dumps(got.get(key), default=str))[:300]
            theirs = redact(json.dumps(want.get(key), default=str))[:300]
            parts.append(f"{redact(key)}: {mine} (one ordered delivery: {theirs})")
    return "; ".join(parts[:4]) + (f"; and {len(parts) - 4} more" if len(parts) > 4 else "")


# -- schedules ----------------------------------------------------------------------------------


def call_sites() -> tuple[list[CallSite], dict[str, int], ScheduleResult]:
    """Every (function, service, operation) a fault-free run calls, with its occurrences."""
    baseline = run_schedule(Schedule(), record_calls=True)
    counts = dict(baseline.calls)
    sites = []
    for text in sorted(counts):
        function, rest = text.split(":", 1)
        service, operation = rest.split(".", 1)
        sites.append(CallSite(function=function, service=service, operation=operation))
    return sites, counts, baseline


def enumerate_schedules(sites: Iterable[CallSite], counts: dict[str, int]) -> list[Schedule]:
    """Every site x before/after x kind x once/twice/always from its first occurrence, and once
    at its last occurrence where it has several; in a fixed order."""
    schedules: list[Schedule] = []
    for site in sites:
        occurrences = counts.get(str(site), 1)
        for when in When:
            for kind in KINDS_AT[when]:
                for times in (1, 2, None):
                    schedules.append(Schedule(fault=Fault(site=site, when=when, kind=kind, times=times)))
                if occurrences > 1:
                    fault = Fault(site=site, nth=occurrences, when=when, kind=kind, times=1)
                    schedules.append(Schedule(fault=fault))
    return schedules


def pick_schedules(sites: list[CallSite], counts: dict[str, int], wanted: int, seed: int) -> list[Schedule]:
    """``wanted`` distinct schedules: the enumeration in a seeded order, a random-fault schedule
    in every ten, then more random ones if the enumeration runs out."""
    rng = random.Random(seed)
    fixed = enumerate_schedules(sites, counts)
    rng.shuffle(fixed)
    chosen: list[Schedule] = []
    random_index = 0

    def next_random() -> Schedule:
        nonlocal random_index
        random_index += 1
        rate = RANDOM_RATES[random_index % len(RANDOM_RATES)]
        return Schedule(random=RandomFaults(rate=rate, seed=seed * 100_003 + random_index))

    while len(chosen) < wanted:
        if fixed and len(chosen) % 10 != 9:
            chosen.append(fixed.pop())
        else:
            chosen.append(next_random())
    return [schedule.model_copy(update={"seed": seed * 1_000_003 + i}) for i, schedule in enumerate(chosen)]


# The call sites of the pytest sample: stable names of what each function must do. A sample
# test fails when its fault never fired, so a site the code no longer calls shows up here.
SAMPLE_SITES = (
    ("StartCampaignFunction", "sfn", "StartExecution"),
    ("PrepareFunction", "s3", "GetObject"),
    ("PrepareFunction", "s3", "PutObject"),
    ("PrepareFunction", "dynamodb", "UpdateItem"),
    ("PrepareFunction", "sesv2", "TestRenderEmailTemplate"),
    ("PrepareFunction", "sesv2", "GetAccount"),
    ("SendBatchFunction", "sesv2", "SendBulkEmail"),
    ("SendBatchFunction", "dynamodb", "TransactWriteItems"),
    ("SendBatchFunction", "dynamodb", "PutItem"),
    ("SendBatchFunction", "dynamodb", "GetItem"),
    ("SendBatchFunction", "s3", "GetObject"),
    ("FinalizeFunction", "s3", "PutObject"),
    ("FinalizeFunction", "dynamodb", "UpdateItem"),
)
SAMPLE_FEEDBACK_SITES = (
    ("EngagementFunction", "dynamodb", "UpdateItem"),
    ("SuppressionFunction", "dynamodb", "PutItem"),
)


def sample_schedules(seed: int = 10, send_path: int = 45) -> list[Schedule]:
    """The seeded sample of ``make test``: the baseline, ``send_path`` faults at SAMPLE_SITES,
    one fault in each feedback function and one random schedule (about 50 in all)."""
    rng = random.Random(seed)

    def faults(sites: Iterable[tuple[str, str, str]]) -> list[Schedule]:
        return [
            Schedule(fault=Fault(site=CallSite(function=f, service=svc, operation=op), when=when, kind=kind, times=t))
            for f, svc, op in sites
            for when in When
            for kind in KINDS_AT[when]
            for t in (1, 2, None)
        ]

    send = rng.sample(faults(SAMPLE_SITES), send_path)
    feedback = rng.sample(faults(SAMPLE_FEEDBACK_SITES), 2)
    chosen = [Schedule(), *send, *feedback, Schedule(random=RandomFaults(rate=0.05, seed=seed))]
    return [schedule.model_copy(update={"seed": seed * 1_000 + i}) for i, schedule in enumerate(chosen)]


# -- the sweep ------------------------------------------------------------------------------------


def _worker(payload: str) -> str:
    schedule = Schedule.model_validate_json(payload)
    try:
        result = run_schedule(schedule)
    except Exception as exc:  # the stack itself failed: still a result, never a lost schedule
        result = ScheduleResult(
            schedule=schedule,
            label=schedule.label(),
            seconds=0.0,
            violations=[Violation(check=Check.HARNESS_ERROR, detail=f"{type(exc).__name__}: {exc} at {_where(exc)}")],
        )
    return result.model_dump_json()


def _quiet() -> None:
    """A sweep process: the template's Globals environment that Powertools reads at import (as
    Lambda sets it; tests/conftest.py does the same for pytest), and no log noise."""
    import logging

    from . import cfn

    logging.disable(logging.CRITICAL)  # the functions' own warnings of every faulted call
    variables = cfn.load(ROOT / "template.yaml")["Globals"]["Function"]["Environment"]["Variables"]
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        os.environ.setdefault(name, str(variables[name]))
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def sweep(wanted: int, seed: int, workers: int, out: Path) -> dict[str, Any]:
    _quiet()
    started = time.monotonic()
    sites, counts, baseline = call_sites()
    schedules = pick_schedules(sites, counts, wanted, seed)
    results: list[ScheduleResult] = []
    context = get_context("spawn")
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(final: bool) -> dict[str, Any]:
        summary = summarise(results, baseline, sites, counts, time.monotonic() - started, seed, workers)
        summary["complete"] = final  # False: a sweep still under way (or stopped), figures so far
        out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return summary

    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_quiet) as pool:
        payloads = [s.model_dump_json() for s in schedules]
        for done, text in enumerate(pool.map(_worker, payloads), 1):
            results.append(ScheduleResult.model_validate_json(text))
            if done % 25 == 0:
                bad = sum(1 for r in results if r.violations)
                print(f"  {done}/{len(schedules)} schedules, {bad} with violations", flush=True)
                write(final=False)
    return write(final=True)


def _kind(result: ScheduleResult) -> str:
    """feedback (a schedule that runs and checks the feedback path) or send (one that does not)."""
    return "feedback" if checks_feedback(result.schedule) else "send"


def summarise(
    results: list[ScheduleResult],
    baseline: ScheduleResult,
    sites: list[CallSite],
    counts: dict[str, int],
    total: float,
    seed: int,
    workers: int,
) -> dict[str, Any]:
    seconds = [r.seconds for r in results]
    cpu = [r.cpu_seconds for r in results]
    by_check: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    schedules_by_kind: Counter[str] = Counter()
    violations = []
    for result in results:
        kind = result.schedule.fault.kind.value if result.schedule.fault else "random"
        schedules_by_kind[kind] += 1
        if not result.violations:
            continue
        by_kind[kind] += 1
        if result.schedule.fault:
            by_function[result.schedule.fault.site.function] += 1
        for check in {v.check.value for v in result.violations}:
            by_check[check] += 1
        violations.append(
            {
                "schedule": result.schedule.model_dump(mode="json"),
                "label": result.label,
                "fired": result.fired,
                "broke": [v.model_dump(mode="json") for v in result.violations],
            }
        )
    observations: Counter[str] = Counter()
    for result in results:
        observations.update(result.observations)
    return {
        "schedules": len(results),
        "seed": seed,
        "workers": workers,
        "violations": violations,
        "schedules_with_violations": len(violations),
        "violations_by_check": dict(by_check.most_common()),
        "violations_by_kind": dict(by_kind.most_common()),
        "violations_by_function": dict(by_function.most_common()),
        "schedules_by_kind": dict(schedules_by_kind.most_common()),
        "faults_never_fired": sum(1 for r in results if r.schedule.fault and r.fired == 0),
        "observations": dict(observations),
        "baseline": {
            "violations": [v.model_dump(mode="json") for v in baseline.violations],
            "seconds": baseline.seconds,
        },
        "call_sites": {str(site): counts[str(site)] for site in sites},
        "timing": {
            "total_seconds": round(total, 1),
            "mean_schedule_seconds": round(statistics.fmean(seconds), 3) if seconds else 0,
            "median_schedule_seconds": round(statistics.median(seconds), 3) if seconds else 0,
            "max_schedule_seconds": round(max(seconds), 3) if seconds else 0,
            # Wall time depends on what else the machine runs; CPU time per schedule does not.
            "mean_schedule_cpu_seconds": round(statistics.fmean(cpu), 3) if cpu else 0,
            "cpu_seconds_by_kind": {
                kind: round(statistics.fmean(r.cpu_seconds for r in results if _kind(r) == kind), 3)
                for kind in sorted({_kind(r) for r in results})
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "build/chaos/results.json")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any schedule broke a promise")
    args = parser.parse_args(argv)
    summary = sweep(args.schedules, args.seed, args.workers, args.out)
    timing = summary["timing"]
    print(
        f"chaos: {summary['schedules']} schedules, {summary['schedules_with_violations']} with violations "
        f"({timing['total_seconds']} s, {timing['mean_schedule_seconds']} s a schedule); {args.out}"
    )
    for check, number in summary["violations_by_check"].items():
        print(f"  {check:32} {number}")
    if summary["baseline"]["violations"]:
        print(f"  the fault-free baseline broke: {summary['baseline']['violations']}")
    return 1 if args.strict and summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
