"""Issue 10's send-path findings, each reproduced on the local stack with the real state machine.

1. a lost SendBulkEmail reply never makes the SDK send the same call again;
2. an SES refusal that sent nothing (AccessDenied) stops the run, releases the reservations, and
   a corrected upload then sends everyone (nobody "duplicate");
11. a crash during the pacing wait, before the call, leaves nobody unknown; a lost reply's
   unknowns become sent once SES's Send events are in (reconcile), and an operator may release
   unknowns with no Send event after the window.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from campaign_engine.adapters import aws
from campaign_engine.config import Settings
from campaign_engine.domain.errors import RunStateError
from campaign_engine.services import reconcile

from campaign_local import lambdas
from tests.workflow.test_workflow_send import assert_adds_up, recipients, rows, upload_and_wait

pytestmark = pytest.mark.workflow


def settings_of(stack) -> Settings:
    return Settings.model_validate(stack.environment)


def lose_send_replies(times: int | None = None) -> list[int]:
    """After moto's SES (the local stack) has handled a SendBulkEmail, raise the read timeout
    botocore raises when the reply never arrives: the call took effect, its answer is lost."""
    lost: list[int] = []  # the entries of each call whose reply was lost

    def lose(request: Any, event_name: str, **_: Any) -> None:
        if event_name.endswith(".SendBulkEmail") and (times is None or len(lost) < times):
            lost.append(len(json.loads(request.body)["BulkEmailEntries"]))
            raise ReadTimeoutError(endpoint_url=request.url)

    # moto's stubber is a built-in "before-send" handler: registered last on the same event
    # (a more specific event name would run first), this runs after SES has accepted the call.
    aws.client(aws.SES_SEND).meta.events.register_last("before-send", lose)
    return lost


def refuse_sends(code: str, message: str, times: int | None = None) -> list[int]:
    """SES refuses SendBulkEmail before accepting anything, as AWS answers a caller its policy
    does not allow: the request never reaches the local SES."""
    refused: list[int] = []

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if times is not None and len(refused) >= times:
            return None
        refused.append(1)
        http = AWSResponse("https://email.us-east-1.amazonaws.com", 400, {}, None)
        return http, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}

    aws.client(aws.SES_SEND).meta.events.register("before-call.sesv2.SendBulkEmail", refuse)
    return refused


def stop_event_publishing(stack) -> None:
    ses = stack.client("sesv2")
    for name in [s for s in ses.list_configuration_sets()["ConfigurationSets"]]:
        for destination in ses.get_configuration_set_event_destinations(ConfigurationSetName=name)["EventDestinations"]:
            ses.delete_configuration_set_event_destination(
                ConfigurationSetName=name, EventDestinationName=destination["Name"]
            )


def test_the_sending_client_makes_exactly_one_http_request_per_call(stack) -> None:
    send_client = aws.client(aws.SES_SEND)
    assert send_client.meta.config.retries["total_max_attempts"] == 1
    # The management client (templates, test renders, GetAccount) keeps its SDK retries.
    assert aws.client("sesv2").meta.config.retries["total_max_attempts"] > 1


def test_a_lost_reply_after_ses_accepted_the_call_is_unknown_and_never_sent_again(recipe_stack) -> None:
    recipe_stack.configure_ses(max_send_rate=2500)  # one call per batch
    lost = lose_send_replies(times=1)
    audience = rows(120)

    _execution, report = upload_and_wait(recipe_stack, audience)

    assert len(lost) == 1
    sent = Counter(recipients(recipe_stack))
    assert len(sent) == 120 and max(sent.values()) == 1  # the SDK did not send the call again
    assert report["status"] == "COMPLETED"
    # Unknown, unless SES's Send events were already in when Finalize reconciled the run.
    assert report["unknown"] <= lost[0] and report["sent"] + report["unknown"] == 120
    assert_adds_up(report)


def test_access_denied_stops_the_run_releases_everyone_and_a_corrected_upload_sends_them(recipe_stack) -> None:
    recipe_stack.configure_ses(max_send_rate=10)  # concurrency 1: one batch meets the refusal
    refused = refuse_sends(
        "AccessDeniedException",
        "User is not authorized to perform ses:SendBulkEmail on resource identity/other.example",
        times=1,
    )
    audience = rows(120)

    execution, report = upload_and_wait(recipe_stack, audience)

    assert refused == [1]
    assert execution["status"] == "FAILED"
    assert report["status"] == "FAILED"
    assert "AccessDeniedException" in report["reason"] and "not authorized" in report["reason"]
    assert report["unknown"] == 0 and report["sent"] == 0 and report["not_sent"] == 120
    assert_adds_up(report)
    assert recipe_stack.sent_messages() == []

    # The operator fixes the policy and uploads a corrected file: everyone is sent, once.
    corrected = [*audience, {"email": "late@example.com", "name": "Late", "segment": "new_customers"}]
    _execution, report = upload_and_wait(recipe_stack, corrected)
    assert report["status"] == "COMPLETED"
    assert report["sent"] == 121 and report["duplicate"] == 0
    assert Counter(recipients(recipe_stack)) == Counter(r["email"] for r in corrected)


def test_a_retry_after_access_denied_sends_everyone_the_refusal_released(recipe_stack) -> None:
    from campaign_engine.services import control

    recipe_stack.configure_ses(max_send_rate=10)
    refuse_sends("AccessDeniedException", "User is not authorized to perform ses:SendBulkEmail", times=1)
    audience = rows(120)
    execution, report = upload_and_wait(recipe_stack, audience)
    assert report["status"] == "FAILED" and report["not_sent"] == 120

    control.retry(settings_of(recipe_stack), execution["name"], "recipe")  # the policy is fixed
    (arn,) = [e["executionArn"] for e in recipe_stack.executions() if e["name"] == f"{execution['name']}-retry-1"]
    retried = recipe_stack.wait_for_execution(arn)
    report = recipe_stack.report("recipe", execution["name"])

    assert retried["status"] == "SUCCEEDED" and report["status"] == "COMPLETED"
    assert report["sent"] == 120 and report["not_sent"] == 0 and report["duplicate"] == 0
    assert Counter(recipients(recipe_stack)) == Counter(r["email"] for r in audience)


def test_a_crash_during_the_pacing_wait_leaves_nobody_unknown(recipe_stack, monkeypatch) -> None:
    from campaign_engine.domain.pacing import Pacer

    original = Pacer.wait_turn
    crashed: list[int] = []

    def die_waiting(self: Pacer) -> None:
        if not crashed:
            crashed.append(1)
            raise TimeoutError("Task timed out while waiting for its send slot")
        original(self)

    monkeypatch.setattr(Pacer, "wait_turn", die_waiting)
    recipe_stack.configure_ses(max_send_rate=2500)
    audience = rows(120)

    _execution, report = upload_and_wait(recipe_stack, audience)

    assert crashed
    assert report["status"] == "COMPLETED"
    assert report["sent"] == 120 and report["unknown"] == 0
    assert Counter(recipients(recipe_stack)) == Counter(r["email"] for r in audience)


def test_reconcile_confirms_unknowns_with_a_send_event_and_releases_the_rest_only_when_asked(recipe_stack) -> None:
    recipe_stack.configure_ses(max_send_rate=2500)
    lost = lose_send_replies(times=1)
    execution, report = upload_and_wait(recipe_stack, rows(120))
    run_id = execution["name"]
    assert lost[0] > 0 and report["sent"] + report["unknown"] == 120
    settings = settings_of(recipe_stack)

    # Reconcile never releases unless asked.
    before = reconcile.reconcile(settings, "recipe", run_id)
    assert before.released == 0 and before.confirmed_sent + before.still_unknown == report["unknown"]

    recipe_stack.drain_feedback()
    after = reconcile.reconcile(settings, "recipe", run_id)
    assert after.still_unknown == 0 and after.released == 0
    states = Counter(
        state for batch in recipe_stack_batches(recipe_stack, run_id) for state in batch["entries"].values()
    )
    assert states == Counter({"SENT": 120})
    # The report, refreshed, agrees.
    lambdas.invoke_handler("FinalizeFunction", {"campaign_id": "recipe", "run_id": run_id})
    refreshed = recipe_stack.report("recipe", run_id)
    assert refreshed["sent"] == 120 and refreshed["unknown"] == 0


def test_an_operator_releases_unknowns_without_a_send_event_after_the_window(recipe_stack) -> None:
    recipe_stack.configure_ses(max_send_rate=2500)
    stop_event_publishing(recipe_stack)  # SES's Send events never arrive
    lost = lose_send_replies(times=1)
    execution, _report = upload_and_wait(recipe_stack, rows(120))
    run_id = execution["name"]
    settings = settings_of(recipe_stack)

    assert _report["unknown"] == lost[0]  # no Send event: Finalize could confirm nobody
    within = reconcile.reconcile(settings, "recipe", run_id, release_unknown_older_than_hours=24)
    assert within.released == 0 and within.still_unknown == lost[0]  # the window has not passed

    import time

    later = reconcile.reconcile(
        settings, "recipe", run_id, release_unknown_older_than_hours=24, now=time.time() + 25 * 3600
    )
    assert later.released == lost[0] and later.still_unknown == 0
    # Released addresses may be sent by a later run of the campaign: upload the same rows again.
    _execution, report = upload_and_wait(recipe_stack, rows(120), key="incoming/recipe/again.json")
    assert report["sent"] == lost[0] and report["duplicate"] == 120 - lost[0]


def test_an_operator_cannot_reconcile_a_running_run(recipe_stack) -> None:
    from campaign_engine.adapters.runs import RunStore

    settings = settings_of(recipe_stack)
    RunStore(settings.runs_table).start_run("recipe", "recipe-running", {"occurrence": "once"})
    for window in (None, 0):
        with pytest.raises(RunStateError, match="RUNNING"):
            reconcile.reconcile(settings, "recipe", "recipe-running", release_unknown_older_than_hours=window)


def recipe_stack_batches(stack, run_id: str) -> list[dict[str, Any]]:
    from campaign_engine.adapters.runs import RunStore

    return list(RunStore(stack.environment["RUNS_TABLE"]).iter_batches(run_id))
