"""CheckQuota on its event: DONE, WAIT or CONTINUE from the run record and the SES quota."""

from __future__ import annotations

from campaign_engine.adapters.runs import RunStore

from campaign_local import lambdas
from tests.conftest import load_event

EVENT = load_event("quota_check/after_map.json")


def runs(stack) -> RunStore:
    return RunStore(stack.outputs["RunsTableName"])


def test_no_wait_means_done(quiet_stack):
    runs(quiet_stack).start_run(EVENT["campaign_id"], EVENT["run_id"], {})
    assert lambdas.invoke_handler("QuotaCheckFunction", EVENT) == {"status": "DONE", "wait_seconds": 0}


def test_a_spent_quota_waits_and_counts_the_checks(quiet_stack):
    store = runs(quiet_stack)
    store.start_run(EVENT["campaign_id"], EVENT["run_id"], {})
    assert store.start_quota_wait(EVENT["campaign_id"], EVENT["run_id"], batch=3)
    assert not store.start_quota_wait(EVENT["campaign_id"], EVENT["run_id"], batch=4)  # one wait at a time
    quiet_stack.configure_ses(max_24_hour_send=0)
    answer = lambdas.invoke_handler("QuotaCheckFunction", EVENT)
    assert answer["status"] == "WAIT" and answer["wait_seconds"] == int(
        quiet_stack.environment["QUOTA_RECHECK_SECONDS"]
    )
    record = store.get_run(EVENT["campaign_id"], EVENT["run_id"])
    assert record["quota_wait"]["checks"] == 1 and record["quota_wait"]["batch"] == 3


def test_quota_back_continues_and_keeps_the_history(quiet_stack):
    store = runs(quiet_stack)
    store.start_run(EVENT["campaign_id"], EVENT["run_id"], {})
    store.start_quota_wait(EVENT["campaign_id"], EVENT["run_id"], batch=0)
    quiet_stack.configure_ses(max_24_hour_send=500)
    assert lambdas.invoke_handler("QuotaCheckFunction", EVENT) == {"status": "CONTINUE", "wait_seconds": 0}
    record = store.get_run(EVENT["campaign_id"], EVENT["run_id"])
    assert "quota_wait" not in record
    (wait,) = record["quota_waits"]
    assert wait["remaining_at_resume"] == 500 and wait["to"] >= wait["from"]


def test_a_stopped_run_does_not_wait(quiet_stack):
    store = runs(quiet_stack)
    store.start_run(EVENT["campaign_id"], EVENT["run_id"], {})
    store.start_quota_wait(EVENT["campaign_id"], EVENT["run_id"], batch=0)
    store.stop_run(EVENT["campaign_id"], EVENT["run_id"], "PAUSED", "breaker")
    quiet_stack.configure_ses(max_24_hour_send=0)
    assert lambdas.invoke_handler("QuotaCheckFunction", EVENT)["status"] == "DONE"
