"""The feedback functions stay exact under redelivery and crashes (issue 10, finding 12), and the
Send events answer the send path's reconcile (finding 11).

The real Engagement and Suppression handlers on the local stack, fed SQS events the way the
event source mapping builds them from SNS envelopes of SES records (campaign_local.ses_events).
Faults are botocore event hooks on the handlers' DynamoDB client: a crash (an exception no
``except Exception`` catches, as a process exit) before a call or after it took effect, an error
after it took effect (a lost reply), or a refusal before it (a throttle). A failed invocation or
record is delivered again, as SQS does, until every record went through.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from campaign_local import lambdas
from campaign_local import ses_events as ses

RUN, CAMPAIGN = "run-exact", "exact"
RUNS = (RUN, f"{RUN}-2", f"{RUN}-3")  # eve bounces softly in three runs
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:feedback"
SUPPRESSION_TYPES = ("Bounce", "Complaint", "Subscription")
T0 = 1_780_000_000.0  # a fixed send time, so every record is the same in every example


class Crash(BaseException):
    """The Lambda process died: no ``except Exception`` of the handler catches it."""


@dataclass(frozen=True)
class Fault:
    call: int  # the nth DynamoDB call of the invocation (1-based)
    kind: str  # crash_before, crash_after, lost_reply, refused


class Injector:
    """Fails one DynamoDB call of the invocation it is armed for."""

    def __init__(self) -> None:
        self.fault: Fault | None = None
        self.calls = 0
        self.fired: list[tuple[str, Fault]] = []

    def before(self, model: Any, **_: Any) -> None:
        self.calls += 1
        fault = self.fault
        if fault is None or fault.call != self.calls:
            return
        if fault.kind == "crash_before":
            self.fired.append((model.name, fault))
            raise Crash(f"crash before {model.name}")
        if fault.kind == "refused":
            self.fired.append((model.name, fault))
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)

    def after(self, model: Any, **_: Any) -> None:
        fault = self.fault
        if fault is None or fault.call != self.calls:
            return
        if fault.kind == "crash_after":
            self.fired.append((model.name, fault))
            raise Crash(f"crash after {model.name}")
        if fault.kind == "lost_reply":
            self.fired.append((model.name, fault))
            error = {"Code": "InternalServerError", "Message": "injected after the call took effect"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}, model.name)

    @contextmanager
    def armed(self, fault: Fault | None) -> Iterator[None]:
        from campaign_engine.adapters.aws import client

        events = client("dynamodb").meta.events
        self.fault, self.calls = fault, 0
        events.register("before-call.dynamodb", self.before, unique_id="exact-before")
        events.register("after-call.dynamodb", self.after, unique_id="exact-after")
        try:
            yield
        finally:
            events.unregister("before-call.dynamodb", unique_id="exact-before")
            events.unregister("after-call.dynamodb", unique_id="exact-after")
            self.fault = None


# -- the events ---------------------------------------------------------------------------------


def message(local: str, segment: str, offset: float = 0.0, run: str = RUN) -> ses.Message:
    return ses.Message(
        to=(f"{local}@example.com",),
        timestamp=T0 + offset,
        tags={"campaign": CAMPAIGN, "run": run, "segment": segment},
        configuration_set="campaign-engine",
        template="welcome-campaign",
        html='<a href="https://example.com/offer">offer</a>',
    )


def the_records() -> list[dict[str, Any]]:
    """Every kind of event, repeats of a kind, and what the suppression policy acts on."""
    ann, bob, cat = message("ann", "a"), message("bob", "a"), message("cat", "b")
    dan, fay = message("dan", "b"), message("fay", "a")
    records = [
        ses.send_record(ann),
        ses.delivery_record(ann),
        ses.open_record(ann, after=60),
        ses.open_record(ann, after=3600),  # a second open: opens 2, opened 1
        ses.click_record(ann, after=70),
        ses.send_record(bob),
        ses.bounce_record(bob),  # hard
        ses.send_record(cat),
        ses.delivery_record(cat),
        ses.complaint_record(cat),
        ses.send_record(dan),
        ses.delivery_record(dan),
        ses.subscription_record(dan),
        ses.send_record(fay),
        ses.delivery_delay_record(fay),
        ses.delivery_record(fay),
        ses.open_record(fay, after=120),
    ]
    for day in range(3):  # three soft bounces within the window: suppressed (limit 3, 7 days)
        eve = message("eve", "b", offset=day * 86400.0, run=RUNS[day])
        records += [ses.send_record(eve), ses.bounce_record(eve, bounce_type="Transient", subtype="MailboxFull")]
    return records


RECORDS = the_records()
ADDRESSES = sorted({address for r in RECORDS for address in r["mail"]["destination"]})


def bodies(records: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(ses.sns_envelope(record, TOPIC)) for record in records]


def for_function(function: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if function == "SuppressionFunction":  # the subscription's SNS filter policy
        return [r for r in records if r["eventType"] in SUPPRESSION_TYPES]
    return records


# -- delivery, as an SQS event source mapping does it ------------------------------------------


def deliver(
    function: str,
    queue: list[str],
    injector: Injector,
    faults: list[Fault | None] | None = None,
    batch: int = 10,
    rng: random.Random | None = None,
) -> int:
    """Invoke ``function`` on batches of ``queue`` until every body went through; the nth
    invocation runs under ``faults[n]``. Returns the number of invocations."""
    pending = list(queue)
    invocations = 0
    while pending:
        assert invocations < 500, f"{function}: records still failing after 500 invocations"
        size = rng.randint(1, batch) if rng else batch
        taken, pending = pending[:size], pending[size:]
        event = ses.sqs_event(taken, QUEUE)
        by_id = {record["messageId"]: record["body"] for record in event["Records"]}
        fault = faults[invocations] if faults and invocations < len(faults) else None
        invocations += 1
        failed: list[str]
        with injector.armed(fault):
            try:
                result = lambdas.invoke_handler(function, event)
            except (Crash, lambdas.LambdaDied, Exception):  # a failed invocation: every record comes back
                failed = list(taken)
            else:
                failed = [by_id[f["itemIdentifier"]] for f in result["batchItemFailures"]]
        if rng:  # back in the queue, somewhere (SQS gives no order)
            for body in failed:
                pending.insert(rng.randint(0, len(pending)), body)
        else:
            pending += failed
    return invocations


# -- what must come out the same ---------------------------------------------------------------


def scan(stack, output: str) -> list[dict[str, Any]]:
    from campaign_engine.adapters.dynamo import from_item

    items: list[dict[str, Any]] = []
    for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.outputs[output]):
        items.extend(from_item(item) for item in page["Items"])
    return items


def outcome(stack) -> dict[str, Any]:
    """The suppression list, the run's counts (totals and per segment), the send evidence, and
    every engagement item with its claims by name (their owner tokens differ from run to run)."""
    from campaign_engine.adapters.engagement import EngagementStore
    from campaign_engine.domain.addresses import address_hash
    from campaign_engine.domain.engagement import CLAIM_PREFIX, links_report, timeline_report

    store = EngagementStore(stack.outputs["EngagementTableName"], dynamodb=stack.client("dynamodb"))
    counts = {run: store.run_counts(run) for run in RUNS}
    totals, segments = counts[RUN]
    items = []
    for item in scan(stack, "EngagementTableName"):
        if item["pk"].startswith("BATCH#") or item["sk"].startswith(("SEG#", "TL#", "LINK#")):
            continue  # commit records and counter shards: the counts above say what they add up to
        claims = sorted(name for name in item if name.startswith(CLAIM_PREFIX))
        plain = {name: value for name, value in item.items() if not name.startswith(CLAIM_PREFIX)}
        if item["pk"].startswith("SEND#"):
            # Two messages to one address in one run (the records hold such a pair): the send
            # item's TTL is the last written message's send time plus the retention, a matter of
            # seconds either way. Every other attribute must be order-independent.
            plain.pop("expires_at", None)
        items.append(json.dumps({**plain, "claims": claims}, sort_keys=True, default=sorted))
    suppression = {item["address"]: item for item in scan(stack, "SuppressionTableName")}
    return {
        "totals": {name: value for name, value in totals.items() if value},
        "segments": {seg: {n: v for n, v in counts.items() if v} for seg, counts in segments.items()},
        "others": {run: {n: v for n, v in counts[run][0].items() if v} for run in RUNS[1:]},
        "evidence": {run: store.send_evidence(run, [address_hash(a) for a in ADDRESSES]) for run in RUNS},
        "links": [row.model_dump() for row in links_report(store.run_items(RUN, "LINK#"), totals)],
        "timeline": [row.model_dump() for row in timeline_report(store.run_items(RUN, "TL#"))],
        "engagement_items": sorted(items),
        "suppression": json.loads(json.dumps(suppression, sort_keys=True, default=sorted)),
    }


def empty_tables(stack) -> None:
    dynamodb = stack.client("dynamodb")
    for output, keys in (("EngagementTableName", ("pk", "sk")), ("SuppressionTableName", ("address",))):
        table = stack.outputs[output]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={k: item[k] for k in keys})


def ordered_fault_free(stack) -> dict[str, Any]:
    injector = Injector()
    for function in ("EngagementFunction", "SuppressionFunction"):
        deliver(function, bodies(for_function(function, RECORDS)), injector)
    return outcome(stack)


@pytest.fixture(scope="module")
def shared():
    """One local stack for the module (its tables are emptied between tests) and the outcome
    of one ordered, fault-free delivery of RECORDS."""
    from campaign_local.stack import LocalStack

    with LocalStack.start() as local:
        expected = ordered_fault_free(local)
        yield local, expected


@pytest.fixture
def feedback(shared):
    stack, expected = shared
    empty_tables(stack)
    return stack, expected


def test_the_fault_free_outcome_is_what_the_events_say(feedback):
    _, expected = feedback
    assert expected["totals"] == {
        "send": 6,
        "delivery": 4,
        "delivery_delay": 1,
        "bounce": 2,
        "hard_bounce": 1,
        "bounce_reason:Permanent/General": 1,
        "bounce_reason:Transient/MailboxFull": 1,
        "complaint": 1,
        "open": 3,
        "unique_open": 2,
        "click": 1,
        "unique_click": 1,
        "unsubscribe": 1,
    }
    assert expected["segments"]["a"]["send"] == 3 and expected["segments"]["b"]["send"] == 3
    soft = {"send": 1, "bounce": 1, "bounce_reason:Transient/MailboxFull": 1}
    assert expected["others"] == {RUNS[1]: soft, RUNS[2]: soft}
    assert len(expected["evidence"][RUN]) == 6  # every address SES accepted a message to in the run
    assert len(expected["evidence"][RUNS[1]]) == len(expected["evidence"][RUNS[2]]) == 1
    reasons = {address: record["reason"] for address, record in expected["suppression"].items()}
    status = {address: record["status"] for address, record in expected["suppression"].items()}
    assert reasons == {
        "bob@example.com": "BOUNCE",
        "cat@example.com": "COMPLAINT",
        "dan@example.com": "UNSUBSCRIBE",
        "eve@example.com": "SOFT_BOUNCE",
    }
    assert set(status.values()) == {"SUPPRESSED"}


@pytest.mark.parametrize("kind", ["crash_before", "crash_after", "lost_reply"])
def test_a_crash_between_the_message_writes_and_the_counter_write_loses_nothing(feedback, kind):
    """Finding 12: the old recorder lost a batch's increments when it died before its counter
    write, since the redelivered events were no longer new. Now the counter write is the
    commit: before it nothing counts, and the redelivery takes the claims over."""
    stack, expected = feedback
    injector = Injector()
    queue = bodies(RECORDS)  # one invocation for all: every message write, then the commit
    commit_call = Fault(call=_commit_call(stack, queue), kind=kind)
    deliver("EngagementFunction", queue, injector, faults=[commit_call], batch=len(queue))
    assert injector.fired and injector.fired[0][0] == "TransactWriteItems"
    deliver("SuppressionFunction", bodies(for_function("SuppressionFunction", RECORDS)), injector)
    assert outcome(stack) == expected


def _commit_call(stack, queue: list[str]) -> int:
    """Which DynamoDB call of one invocation over ``queue`` (into empty tables) is the commit."""
    seen: list[str] = []

    def note(model: Any, **_: Any) -> None:
        seen.append(model.name)

    from campaign_engine.adapters.aws import client

    events = client("dynamodb").meta.events
    events.register("before-call.dynamodb", note, unique_id="exact-note")
    try:
        lambdas.invoke_handler("EngagementFunction", ses.sqs_event(queue, QUEUE))
    finally:
        events.unregister("before-call.dynamodb", unique_id="exact-note")
    empty_tables(stack)
    transactions = [i for i, name in enumerate(seen, 1) if name == "TransactWriteItems"]
    return transactions[-1]  # the unsubscribe is a transaction too, then the commit


def test_an_invocation_aborted_by_a_redelivery_cannot_commit(feedback):
    """A slow invocation whose events were delivered again meanwhile: the redelivery aborts it
    and counts its claims; its own commit then fails, and its batch comes back as a no-op."""
    from campaign_engine.adapters.engagement import Aborted
    from campaign_engine.config import settings as load_settings
    from campaign_engine.domain.ses_events import parse
    from campaign_engine.services.engagement import EngagementRecorder

    stack, expected = feedback
    events = [event for event in map(parse, RECORDS) if event is not None]
    slow = EngagementRecorder(load_settings())
    for event in events:
        slow.record(event)  # claims written, not committed yet
    fast = EngagementRecorder(load_settings())
    for event in reversed(events):
        fast.record(event)
    fast.flush()
    with pytest.raises(Aborted):
        slow.flush()
    deliver("SuppressionFunction", bodies(for_function("SuppressionFunction", RECORDS)), Injector())
    deliver("EngagementFunction", bodies(RECORDS), Injector())  # the slow batch, back from the queue
    assert outcome(stack) == expected


def test_a_refused_write_fails_only_its_record_and_an_unknown_one_the_whole_batch(feedback):
    injector = Injector()
    queue = bodies(RECORDS[:3])
    with injector.armed(Fault(call=1, kind="refused")):
        result = lambdas.invoke_handler("EngagementFunction", ses.sqs_event(queue, QUEUE))
    assert len(result["batchItemFailures"]) == 1  # a throttle took no effect: that record alone
    with injector.armed(Fault(call=1, kind="lost_reply")), pytest.raises(RuntimeError, match="not committed"):
        lambdas.invoke_handler("EngagementFunction", ses.sqs_event(queue, QUEUE))


# -- the property --------------------------------------------------------------------------------

FAULT = st.one_of(
    st.none(),
    st.builds(
        Fault,
        call=st.integers(min_value=1, max_value=15),
        kind=st.sampled_from(["crash_before", "crash_after", "lost_reply", "refused"]),
    ),
)


@settings(
    # A longer sweep: FEEDBACK_PROPERTY_EXAMPLES=200 pytest tests/handlers/test_feedback_exactly_once.py
    max_examples=int(os.environ.get("FEEDBACK_PROPERTY_EXAMPLES", "6")),
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing example is printed as drawn
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    order=st.permutations(range(len(RECORDS))),
    repeats=st.lists(st.integers(min_value=0, max_value=len(RECORDS) - 1), max_size=len(RECORDS)),
    faults=st.lists(FAULT, min_size=1, max_size=12),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_any_order_repeats_and_crashes_give_one_ordered_fault_free_outcome(feedback, order, repeats, faults, seed):
    """Every SES event delivered at least once, in any order, some twice, with a fault at a
    random DynamoDB call of the first invocations and redelivery until each record went
    through: the suppression list, the counts, the send evidence and every engagement item
    equal one ordered, fault-free delivery's."""
    stack, expected = feedback
    empty_tables(stack)
    rng = random.Random(seed)
    records = [RECORDS[i] for i in order]
    for index in repeats:
        records.insert(rng.randint(0, len(records)), RECORDS[index])
    assert Counter(json.dumps(r) for r in records).keys() == Counter(json.dumps(r) for r in RECORDS).keys()
    injector = Injector()
    for function in ("EngagementFunction", "SuppressionFunction"):
        deliver(function, bodies(for_function(function, records)), injector, faults=faults, rng=rng)
    assert outcome(stack) == expected


# -- faults at each HTTP attempt, under the SDK's own retries -------------------------------------

# The harness's faults (campaign_local.faults) act per HTTP attempt, where the network would be:
# a write that took effect and lost its reply (a 5xx after it, a read timeout) is retried by
# botocore, and the retries may end in a throttle, a 5xx or success. The hooks above act once
# per call, after botocore's retries, so they never see a landed attempt followed by a 4xx.
ATTEMPT_FAULT_SEEDS = (100005, 100189)  # two mixes of every kind; the sequence itself is below


@pytest.mark.parametrize("seed", ATTEMPT_FAULT_SEEDS)
def test_faults_at_each_attempt_under_sdk_retries_give_one_ordered_fault_free_outcome(feedback, seed):
    """The chaos sweep's random schedules, on the feedback functions alone (seconds, not a
    campaign): every SES event at least once, shuffled, some twice, every DynamoDB attempt of
    the feedback functions failing at random (crash, timeout, throttle, 5xx before; crash,
    timeout, 5xx, lost reply after) under the SDK's retries, redelivered until each record went
    through: the outcome equals one ordered, fault-free delivery's. (The sweep's 13 short
    counters most likely came from worker processes that imported the engagement code before
    its last changes: none of 90 reruns reproduces them. The test below is the sequence that
    loses a count when a 4xx after SDK retries is read as a refusal.)"""
    from campaign_local.faults import INJECTOR, RandomFaults, Schedule, fast_clock, install, uninstall

    stack, expected = feedback
    rng = random.Random(seed)
    records = rng.sample(RECORDS, k=len(RECORDS))
    for record in rng.sample(RECORDS, k=len(RECORDS) // 3):  # delivered twice, anywhere
        records.insert(rng.randint(0, len(records)), record)
    install()
    INJECTOR.arm(Schedule(random=RandomFaults(rate=0.15, seed=seed)))
    try:
        with fast_clock():
            for function in ("EngagementFunction", "SuppressionFunction"):
                deliver(function, bodies(for_function(function, records)), Injector(), rng=rng)
        fired = list(INJECTOR.fired)
    finally:
        uninstall()
    assert fired, "no fault fired: the schedule tested nothing"
    assert outcome(stack) == expected


def test_a_write_that_landed_then_a_throttle_to_every_retry_blocks_the_commit(feedback, monkeypatch):
    """The exact sequence: the first UpdateItem of the batch takes effect and its 5xx reply is
    lost; botocore retries and every retry is throttled (a 4xx, RetryAttempts > 0). The claim
    the first attempt wrote is this token's, unseen: the batch must not commit (else the claim
    sits under a committed token, never counted); redelivered, the event counts once."""
    from campaign_local.faults import (
        INJECTOR,
        CallSite,
        Fault,
        FaultKind,
        Schedule,
        When,
        fast_clock,
        install,
        uninstall,
    )

    stack, expected = feedback
    site = CallSite(function="EngagementFunction", service="dynamodb", operation="UpdateItem")
    landed = Fault(site=site, nth=1, when=When.AFTER, kind=FaultKind.SERVER_ERROR, times=1)
    throttled = Fault(site=site, nth=2, when=When.BEFORE, kind=FaultKind.THROTTLE, times=None)
    queue = bodies(RECORDS)
    install()
    try:
        with fast_clock():
            INJECTOR.arm(Schedule(fault=landed))
            # Arm the landed attempt, then switch to throttling every later attempt of the call.
            original = INJECTOR._decide

            def decide(call: CallSite) -> Any:
                found = original(call)
                if call == site and INJECTOR.calls[site] == 1:
                    INJECTOR.schedule = Schedule(fault=throttled)
                return found

            monkeypatch.setattr(INJECTOR, "_decide", decide)
            with pytest.raises(RuntimeError, match="not committed"):
                lambdas.invoke_handler("EngagementFunction", ses.sqs_event(queue, QUEUE))
            INJECTOR.disarm()
        assert [f.kind for f in INJECTOR.fired][:2] == [FaultKind.SERVER_ERROR, FaultKind.THROTTLE]
    finally:
        uninstall()
    deliver("EngagementFunction", queue, Injector())  # the batch, back from the queue
    deliver("SuppressionFunction", bodies(for_function("SuppressionFunction", RECORDS)), Injector())
    assert outcome(stack) == expected


# -- send evidence -------------------------------------------------------------------------------


def test_send_evidence_names_the_message_of_each_address_ses_accepted(feedback):
    from campaign_engine.adapters.engagement import EngagementStore
    from campaign_engine.domain.addresses import address_hash

    stack, _ = feedback
    deliver("EngagementFunction", bodies(RECORDS), Injector())
    store = EngagementStore(stack.outputs["EngagementTableName"], dynamodb=stack.client("dynamodb"))
    sent = {
        address_hash(record["mail"]["destination"][0]): record["mail"]["messageId"]
        for record in RECORDS
        if record["eventType"] == "Send" and record["mail"]["tags"]["run"] == [RUN]
    }
    never_sent = address_hash("zed@example.com")
    found = store.send_evidence(RUN, [*sent, never_sent])
    assert found == sent and never_sent not in found
    assert store.send_evidence("another-run", list(sent)) == {}
    many = [address_hash(f"person{i}@example.com") for i in range(250)]  # over BatchGetItem's 100 keys
    assert store.send_evidence(RUN, [*many, *sent]) == sent


def test_two_messages_to_one_address_in_one_run_are_two_sends_and_the_evidence_is_stable(feedback):
    """A double send (what the send path must never do) shows in the counts; the evidence
    names the first message id in order, whatever order the Send events came in."""
    from campaign_engine.adapters.engagement import EngagementStore
    from campaign_engine.domain.addresses import address_hash

    stack, _ = feedback
    twice = [ses.send_record(message("gus", "a", offset=offset)) for offset in (0.0, 1.0)]
    deliver("EngagementFunction", bodies(twice[::-1]), Injector())
    store = EngagementStore(stack.outputs["EngagementTableName"], dynamodb=stack.client("dynamodb"))
    gus = address_hash("gus@example.com")
    assert store.send_evidence(RUN, [gus]) == {gus: min(r["mail"]["messageId"] for r in twice)}
    assert store.run_counts(RUN)[0]["send"] == 2


def test_a_batch_of_more_runs_and_segments_than_one_transaction_takes_commits_in_parts(feedback):
    """A commit is one transaction of at most 100 items: past 99 counter items the recorder
    commits what it has and goes on under a new token."""
    from campaign_engine.adapters.engagement import EngagementStore

    stack, _ = feedback
    runs = [f"many-{i:03d}" for i in range(120)]
    records = [
        ses.send_record(
            ses.Message(
                to=(f"p{i}@example.com",), timestamp=T0, tags={"campaign": CAMPAIGN, "run": run, "segment": "s"}
            )
        )
        for i, run in enumerate(runs)
    ]
    assert deliver("EngagementFunction", bodies(records), Injector(), batch=len(records)) == 1
    store = EngagementStore(stack.outputs["EngagementTableName"], dynamodb=stack.client("dynamodb"))
    assert all(store.run_counts(run)[0]["send"] == 1 for run in runs)
    commits = [i for i in scan(stack, "EngagementTableName") if i["pk"].startswith("BATCH#")]
    assert len(commits) == 2 and {c["status"] for c in commits} == {"COMMITTED"}


@pytest.mark.parametrize(
    "status, retries, took_no_effect",
    [(400, 0, True), (400, 2, False), (500, 0, False), (None, 0, False)],
)
def test_only_a_4xx_to_the_only_attempt_is_a_refusal(status, retries, took_no_effect):
    """A 4xx after SDK retries may follow an attempt that landed and lost its reply."""
    from campaign_engine.adapters.dynamo import refused

    metadata = {"RetryAttempts": retries} | ({"HTTPStatusCode": status} if status else {})
    error = ClientError({"Error": {"Code": "X", "Message": "x"}, "ResponseMetadata": metadata}, "UpdateItem")
    assert refused(error) is took_no_effect
    assert refused(TimeoutError("read timed out")) is False
