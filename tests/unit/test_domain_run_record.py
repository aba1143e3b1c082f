"""The run record and the run report as models, and Finalize's report arithmetic, without AWS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from campaign_engine.domain.outcomes import OUTCOMES, empty_counts
from campaign_engine.domain.report import BatchCounts, RunReport
from campaign_engine.domain.run_record import RunError, RunRecord, RunStatus, Tally, iso_utc
from campaign_engine.services.finalize import build_report
from pydantic import ValidationError


def counts(**values: int) -> dict[str, int]:
    return {**empty_counts(), **values}


def record(**fields) -> RunRecord:
    return RunRecord.model_validate(
        {
            "campaign_id": "recipe",
            "run_id": "recipe-u-0123456789abcdef0123",
            "status": "RUNNING",
            "started_at": 1_796_000_000,
            "batch_count": 2,
            "prepare": {
                "rows": 103,
                "segments": {"(unsegmented)": counts(invalid=3)},
                "queued": {"new_customers": 60, "loyal_customers": 40},
            },
            **fields,
        }
    )


BOTH_DONE = [
    BatchCounts(segment="new_customers", counts=counts(sent=59, failed=1), state="DONE"),
    BatchCounts(segment="loyal_customers", counts=counts(sent=39, unknown=1), state="DONE"),
]


def test_a_stored_record_reads_into_the_model_and_keeps_fields_it_does_not_know() -> None:
    stored = {
        "pk": "CAMPAIGN#recipe",
        "sk": "RUN#recipe-u-0123456789abcdef0123",
        "campaign_id": "recipe",
        "run_id": "recipe-u-0123456789abcdef0123",
        "status": "PAUSED",
        "breaker": {"enabled": True},
        "error": {"code": "template_error", "message": "no such template", "where": "campaigns/recipe.json"},
        "counts": {"sent": 4},
        "resumes": 2,
        "retries": 1,
    }
    run = RunRecord.model_validate(stored)
    assert run.status is RunStatus.PAUSED and not run.status.final and not run.active
    assert run.error == RunError(code="template_error", message="no such template", where="campaigns/recipe.json")
    assert run.outcome_counts() == counts(sent=4)
    assert run.model_extra == {"pk": stored["pk"], "sk": stored["sk"], "breaker": {"enabled": True}}
    assert run.execution_names() == [
        "recipe-u-0123456789abcdef0123",
        "recipe-u-0123456789abcdef0123-resume-1",
        "recipe-u-0123456789abcdef0123-resume-2",
        "recipe-u-0123456789abcdef0123-retry-1",
    ]
    assert run.to_store()["status"] == "PAUSED"


def test_a_status_outside_the_life_cycle_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="status"):
        RunRecord.model_validate({"campaign_id": "c", "run_id": "r", "status": "DONE"})


def test_a_record_without_a_status_is_the_running_run_of_an_execution() -> None:
    assert RunRecord(campaign_id="c", run_id="r").status is RunStatus.RUNNING


def test_finalize_adds_prepare_and_the_batches_up_to_the_rows() -> None:
    report = build_report(record(), BOTH_DONE, {})
    assert report.status is RunStatus.COMPLETED and report.error is None
    assert report.counts == counts(sent=98, failed=1, unknown=1, invalid=3)
    assert report.adds_up and report.rows == report.outcomes_total == 103
    document = report.to_json()
    assert document["status"] == "COMPLETED" and document["sent"] == 98 and document["error"] is None
    assert RunReport.model_validate(document) == report


def test_a_running_run_with_rows_never_sent_did_not_complete() -> None:
    """moto's Distributed Map succeeds when a child failed on every attempt: the run must still
    not be reported COMPLETED with rows that were never sent."""
    report = build_report(record(), BOTH_DONE[:1], {})
    assert report.status is RunStatus.FAILED and report.not_sent == 40
    assert report.error is not None and report.error.code == "batches_unfinished"
    assert "1 of 2 batches" in report.error.message and "campaign retry" in report.error.message
    assert report.adds_up


def test_a_stopped_run_keeps_its_status_and_its_not_sent_rows() -> None:
    report = build_report(record(status="PAUSED", reason="paused by an operator"), BOTH_DONE[:1], {})
    assert report.status is RunStatus.PAUSED and report.error is None and report.not_sent == 40


def test_the_error_caught_by_the_state_machine_is_the_reports_error() -> None:
    state = {
        "error": {
            "Error": "Sandbox.Timedout",
            "Cause": '{"errorMessage": "Task timed out after 900.00 seconds", "errorType": "Sandbox.Timedout"}',
        }
    }
    report = build_report(record(), BOTH_DONE, state)
    assert report.status is RunStatus.FAILED
    assert report.to_json()["error"] == {"code": "Sandbox.Timedout", "message": "Task timed out after 900.00 seconds"}


def test_the_record_error_comes_before_prepare_and_the_state() -> None:
    run = record(error={"code": "template_error", "message": "bad", "where": "templates/x.json"})
    state = {"prepare": {"status": "FAILED", "error": {"code": "other", "message": "m"}}, "error": {"Error": "E"}}
    report = build_report(run, [], state)
    assert report.status is RunStatus.FAILED and report.error is not None and report.error.code == "template_error"
    assert set(report.counts) == set(OUTCOMES)


# The tally `campaign status` shows (issue 11: "done 700 of 1,803" next to "sent 300") --------------


def test_a_cancelled_runs_tally_counts_skipped_batches_as_not_sent_not_done() -> None:
    """After a cancel, batches that found the run CANCELLED record their rows as not_sent and go
    DONE: those rows are not "done", and the queued rows no batch reached are not_sent too, so
    the tally is Finalize's report to the row."""
    run = record(status="CANCELLED")
    batches = [
        ("new_customers", counts(sent=30)),  # sent before the cancel
        ("new_customers", counts(sent=20, unknown=1)),  # in flight at the cancel
        ("loyal_customers", counts(not_sent=25)),  # found the run cancelled: sent nothing, went DONE
    ]
    tally = Tally.of(run.prepare, [c for _, c in batches], stopped=True)
    assert (tally.rows, tally.queued, tally.done, tally.not_sent) == (103, 100, 51, 49)
    assert tally.counts == counts(sent=50, unknown=1, invalid=3, not_sent=49)
    assert sum(tally.counts.values()) == tally.rows
    report = build_report(
        run,
        [BatchCounts(segment=segment, counts=c, state="DONE") for segment, c in batches],
        {},
    )
    assert report.counts == tally.counts  # what status shows is what the report will say


def test_a_running_runs_tally_counts_only_what_the_batches_recorded() -> None:
    tally = Tally.of(record().prepare, [counts(sent=10)], stopped=False)
    assert (tally.queued, tally.done, tally.not_sent) == (100, 10, 0)
    assert tally.counts == counts(sent=10, invalid=3)
    assert Tally.of(None, [], stopped=False).queued is None  # still preparing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_796_000_000, "2026-11-30T00:53:20Z"),
        (1_796_000_000.9, "2026-11-30T00:53:20Z"),
        (1_796_000_000_000, "2026-11-30T00:53:20Z"),  # milliseconds
        ("2026-11-30T00:53:20.123456+00:00", "2026-11-30T00:53:20Z"),
        ("2026-11-30T01:53:20+01:00", "2026-11-30T00:53:20Z"),
        ("2026-11-30T00:53:20.123Z", "2026-11-30T00:53:20Z"),
        ("2026-11-30 00:53:20", "2026-11-30T00:53:20Z"),  # no offset: UTC, as every writer here
        (datetime(2026, 11, 30, 0, 53, 20, tzinfo=UTC), "2026-11-30T00:53:20Z"),
        (86_400, None),  # a duration, not a time
        (True, None),
        ("soon", None),
        (None, None),
    ],
)
def test_iso_utc_is_the_one_time_form_of_the_clis_json(value, expected) -> None:
    assert iso_utc(value) == expected
