"""Faults at the state machine's level, on the real state machine with the real handlers: what
each task retries, what it catches, and what the run record and the report then say
(issue 10, findings 3 and 6, and `campaign retry`).

A fault is injected in front of a function (``lambdas.REGISTRY.hooks``: the in-process Lambda
raises before the handler runs, so Step Functions sees the error name the exception's class
has, as with the Python runtime on AWS) or inside Finalize (its adapters replaced in the
in-process handler). Step Functions' retry waits are shortened; everything else is real.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from campaign_engine.adapters.runs import RunStore
from campaign_engine.config import settings as engine_settings
from campaign_engine.domain.errors import RunStateError
from campaign_engine.domain.outcomes import OUTCOMES
from campaign_engine.domain.run_record import RunRecord, RunStatus
from campaign_engine.services import control
from campaign_engine.services import finalize as finalize_service
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from campaign_local import lambdas
from campaign_local.lambdas import invoke_handler

pytestmark = pytest.mark.workflow

ROWS = [
    {"email": f"user{i}@example.com", "name": f"User {i}", "segment": "new_customers" if i % 3 else "loyal_customers"}
    for i in range(120)
]  # three batches: 80 new customers (two batches), 40 loyal ones


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step Functions waits IntervalSeconds x BackoffRate^n between attempts; moto waits it in real
    time. The waits are not what these tests are about: a tenth of a second each."""
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: __import__("time").sleep(0.01)))


def error_named(name: str) -> type[Exception]:
    """An exception class whose name is a Step Functions error name: the Python runtime reports
    an unhandled exception's class name as errorType, which Step Functions uses as the error
    (``Sandbox.Timedout`` and ``Lambda.Unknown`` are what AWS reports for a timeout or a crash)."""
    return type(name, (Exception,), {})


class Faults:
    """Make a function fail before its handler runs: ``times`` times (None: always)."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, type[Exception], int | None, Callable[[Any], bool]]] = []
        self.fired: Counter[str] = Counter()
        self._lock = threading.Lock()

    def fail(
        self, function: str, error: str, times: int | None = 1, when: Callable[[Any], bool] = lambda event: True
    ) -> None:
        self.rules.append((function, error_named(error), times, when))

    def hold(self, function: str, until: threading.Event) -> None:
        """Keep the function's invocations waiting (for at most 30 s) until ``until`` is set."""
        self.rules.append((function, Exception, 0, lambda event: not until.wait(30)))

    def clear(self) -> None:
        self.rules.clear()

    def __call__(self, logical_id: str, event: Any) -> None:
        for function, error, times, when in self.rules:
            if function != logical_id or not when(event):
                continue
            with self._lock:
                if times is not None and self.fired[function] >= times:
                    continue
                self.fired[function] += 1
            raise error(f"injected {error.__name__} in {function}")


@pytest.fixture
def fast_stack(recipe_stack):
    """The recipe stack with an SES account fast enough that a batch takes one second (the
    default 14/s would spend most of each test pacing)."""
    recipe_stack.configure_ses(max_send_rate=2500)
    return recipe_stack


@pytest.fixture
def faults(fast_stack) -> Iterator[Faults]:
    injected = Faults()
    lambdas.REGISTRY.hooks.append(injected)
    yield injected
    lambdas.REGISTRY.hooks.remove(injected)


def invocations(logical_id: str) -> int:
    return lambdas.REGISTRY.count(logical_id)


def upload_and_wait(stack, rows=ROWS, key="incoming/recipe/subscribers.json") -> tuple[dict, RunRecord]:
    before = {e["executionArn"] for e in stack.executions()}
    stack.upload(key, json.dumps(rows).encode())
    new = [e for e in stack.executions() if e["executionArn"] not in before]
    assert len(new) == 1, new
    execution = stack.wait_for_execution(new[0]["executionArn"])
    return execution, record_of(stack, execution["name"])


def record_of(stack, run_id: str) -> RunRecord:
    found = RunStore(stack.environment["RUNS_TABLE"]).get_run("recipe", run_id)
    assert found is not None, f"no run record for {run_id}"
    return RunRecord.model_validate(found)


def report_or_none(stack, run_id: str) -> dict | None:
    try:
        return stack.report("recipe", run_id)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchKey"
        return None


def assert_settled(stack, execution: dict, record: RunRecord) -> dict | None:
    """Once the execution has ended: the run is not RUNNING, and a report, if there is one,
    says what the record says and adds up."""
    assert execution["status"] != "RUNNING"
    assert record.status is not RunStatus.RUNNING, record
    assert record.finished_at is not None
    report = report_or_none(stack, record.run_id)
    if report is not None:
        assert report["status"] == record.status.value
        assert {name: report[name] for name in OUTCOMES} == record.outcome_counts()
        assert sum(report[name] for name in OUTCOMES) == report["rows"]
    return report


def sent_to(stack) -> Counter[str]:
    return Counter(m["to"][0] for m in stack.sent_messages())


# Finding 3: one transient fault in Prepare failed the whole run ----------------------------------


@pytest.mark.parametrize("error", ["TransientAwsError", "Sandbox.Timedout"])
def test_prepare_is_retried_after_a_transient_fault_or_a_crash(fast_stack, faults, error) -> None:
    faults.fail("PrepareFunction", error, times=1)

    execution, record = upload_and_wait(fast_stack)

    assert faults.fired["PrepareFunction"] == 1 and invocations("PrepareFunction") == 2
    assert execution["status"] == "SUCCEEDED"
    report = assert_settled(fast_stack, execution, record)
    assert report is not None and report["status"] == "COMPLETED" and report["sent"] == report["rows"] == len(ROWS)
    assert sent_to(fast_stack) == Counter(row["email"] for row in ROWS)


def test_prepare_failing_on_every_attempt_fails_the_run_with_the_error(fast_stack, faults) -> None:
    faults.fail("PrepareFunction", "TransientAwsError", times=None)

    execution, record = upload_and_wait(fast_stack)

    assert invocations("PrepareFunction") == 6  # the first attempt and five retries
    assert execution["status"] == "FAILED"
    report = assert_settled(fast_stack, execution, record)
    assert record.status is RunStatus.FAILED and record.error is not None
    assert record.error.code == "TransientAwsError"
    assert report is not None and report["rows"] == 0 and report["error"]["code"] == "TransientAwsError"
    assert fast_stack.sent_messages() == []


def test_a_send_batch_crash_is_retried_and_nobody_is_sent_twice(fast_stack, faults) -> None:
    faults.fail("SendBatchFunction", "Sandbox.Timedout", times=2, when=lambda event: event["item"]["batch"] == 1)

    execution, record = upload_and_wait(fast_stack)

    assert faults.fired["SendBatchFunction"] == 2
    report = assert_settled(fast_stack, execution, record)
    assert report is not None and report["status"] == "COMPLETED" and report["sent"] == len(ROWS)
    assert set(sent_to(fast_stack).values()) == {1}


# Finding 6: Finalize failing four times left the run RUNNING for ever ------------------------------


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected: throughput exceeded"}},
        operation,
    )


def test_finalize_failing_on_every_attempt_leaves_the_run_failed_not_running(fast_stack, monkeypatch) -> None:
    """A persistent DynamoDB throttle on Finalize's writes (14 of 20 runs stayed RUNNING, and two
    had a COMPLETED report next to a RUNNING record)."""
    attempts = Counter[str]()

    class ThrottledRunStore(RunStore):
        def update_run(self, *args: Any, **kwargs: Any) -> bool:
            attempts["update_run"] += 1
            raise _throttled("UpdateItem")

    monkeypatch.setattr(finalize_service, "RunStore", ThrottledRunStore)

    execution, record = upload_and_wait(fast_stack)

    assert invocations("FinalizeFunction") == 4 == attempts["update_run"]  # one attempt and three retries
    assert execution["status"] == "FAILED"
    assert record.status is RunStatus.FAILED
    assert record.reason is not None and "Finalize failed" in record.reason
    assert record.finalize_error is not None and record.finalize_error.code == "ClientError"
    assert "throughput exceeded" in record.finalize_error.message
    assert report_or_none(fast_stack, record.run_id) is None  # the record is closed first: no report said more
    assert_settled(fast_stack, execution, record)
    # Everyone was sent before Finalize ran; the report comes back once Finalize can run.
    monkeypatch.undo()
    invoke_handler("FinalizeFunction", {"campaign_id": "recipe", "run_id": record.run_id})
    refreshed = record_of(fast_stack, record.run_id)
    report = assert_settled(fast_stack, execution, refreshed)
    assert report is not None and report["sent"] == len(ROWS) and report["status"] == "FAILED"


def test_finalize_unable_to_write_the_report_keeps_the_closed_record_and_says_why(fast_stack, monkeypatch) -> None:
    """A persistent S3 fault: the record is closed (COMPLETED: everyone was sent) and notes that
    the report is missing; a refresh writes the report, which then agrees with the record."""

    def put_fails(bucket: str, key: str, document: Any) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "injected: reduce your request rate"}}, "PutObject")

    # Finalize's storage adapter only (Prepare writes with the same module).
    monkeypatch.setattr(finalize_service, "storage", SimpleNamespace(put_json=put_fails))

    execution, record = upload_and_wait(fast_stack)

    assert execution["status"] == "FAILED"
    assert record.status is RunStatus.COMPLETED and record.outcome_counts()["sent"] == len(ROWS)
    assert record.finalize_error is not None and "SlowDown" in record.finalize_error.message
    assert report_or_none(fast_stack, record.run_id) is None
    assert_settled(fast_stack, execution, record)

    monkeypatch.undo()
    invoke_handler("FinalizeFunction", {"campaign_id": "recipe", "run_id": record.run_id})
    refreshed = record_of(fast_stack, record.run_id)
    assert refreshed.finalize_error is None
    report = assert_settled(fast_stack, execution, refreshed)
    assert report is not None and report["status"] == "COMPLETED" and report["sent"] == len(ROWS)


# `campaign retry`: a FAILED run again, from the same upload ---------------------------------------


def test_retry_sends_what_a_failed_run_did_not_and_nobody_twice(fast_stack, faults) -> None:
    # Batch 2 is refused for a reason every batch would hit (never retried): the Map fails, the
    # run is FAILED with whatever the other batches sent.
    faults.fail("SendBatchFunction", "AccountLevelError", times=None, when=lambda event: event["item"]["batch"] == 2)
    execution, record = upload_and_wait(fast_stack)
    report = assert_settled(fast_stack, execution, record)
    assert record.status is RunStatus.FAILED and report is not None and report["not_sent"] > 0
    first_pass = sent_to(fast_stack)
    assert set(first_pass.values()) == {1} and len(first_pass) < len(ROWS)

    faults.clear()
    settings = engine_settings()
    started = control.retry(settings, record.run_id)

    assert started.execution_name == f"{record.run_id}-retry-1" and started.retries == 1
    assert record_of(fast_stack, record.run_id).status is RunStatus.RUNNING  # before the execution runs
    retried = fast_stack.wait_for_execution(started.execution_arn)
    after = record_of(fast_stack, record.run_id)
    report = assert_settled(fast_stack, retried, after)
    assert retried["status"] == "SUCCEEDED" and after.status is RunStatus.COMPLETED and after.error is None
    assert report is not None and report["sent"] == len(ROWS) and report["not_sent"] == 0 and report["duplicate"] == 0
    assert sent_to(fast_stack) == Counter(row["email"] for row in ROWS)  # each exactly once, over both executions

    with pytest.raises(RunStateError, match="only a FAILED run"):
        control.retry(settings, record.run_id)


def test_retry_of_a_run_that_failed_in_prepare_and_of_one_still_running(fast_stack, faults) -> None:
    faults.fail("PrepareFunction", "TransientAwsError", times=None)
    _, record = upload_and_wait(fast_stack)
    assert record.status is RunStatus.FAILED and record.prepare is None

    settings = engine_settings()
    # An execution of the run still running: the retry refuses rather than start a second one.
    release = threading.Event()
    faults.clear()
    faults.hold("PrepareFunction", until=release)
    started = control.retry(settings, record.run_id)
    with pytest.raises(RunStateError, match="still has a running execution"):
        control.retry(settings, record.run_id)
    release.set()

    retried = fast_stack.wait_for_execution(started.execution_arn)
    report = assert_settled(fast_stack, retried, record_of(fast_stack, record.run_id))
    assert report is not None and report["status"] == "COMPLETED" and report["sent"] == len(ROWS)
    assert sent_to(fast_stack) == Counter(row["email"] for row in ROWS)
