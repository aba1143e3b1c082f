"""Prepare under faults (issue 10, findings 4, 5b and 7), on the local stack.

Faults are injected into the real boto3 client the layer uses, at botocore's ``before-call``
event: the call never reaches the local SES, as when SES answers with an error after the SDK's
own retries ran out (or the connection broke).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from campaign_engine.adapters import aws
from campaign_engine.adapters.runs import RunStore
from campaign_engine.domain.faults import TransientAwsError, is_transient
from campaign_engine.services.prepare import sender_covered

from campaign_cli.commands.push import run_push
from campaign_cli.commands.validate import run_validate
from campaign_cli.output import Out
from campaign_cli.target import Target
from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack
from tests.conftest import load_event

ROOT = Path(__file__).resolve().parents[2]
RECIPE = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
RENDER = "before-call.sesv2.TestRenderEmailTemplate"


def prepare(event: dict[str, Any]) -> dict[str, Any]:
    return call("PrepareFunction", event)


def answer(code: str, status: int) -> Callable[..., tuple[AWSResponse, dict[str, Any]]]:
    """A before-call handler: the operation returns ``code`` with HTTP ``status``."""

    def handler(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("https://email.us-east-1.amazonaws.com", status, {}, None), parsed

    return handler


def raising(exc: Exception) -> Callable[..., None]:
    def handler(**_: Any) -> None:
        raise exc

    return handler


@pytest.fixture
def inject(quiet_stack: LocalStack) -> Iterator[Callable[[str, Callable[..., Any]], None]]:
    """Register a fault on the layer's SES client; removed again after the test."""
    registered: list[tuple[str, Callable[..., Any]]] = []

    def add(event: str, handler: Callable[..., Any]) -> None:
        aws.client("sesv2").meta.events.register(event, handler, unique_id=f"fault-{len(registered)}")
        registered.append((event, handler))

    yield add
    for index, (event, _) in enumerate(registered):
        aws.client("sesv2").meta.events.unregister(event, unique_id=f"fault-{index}")


def run_record(stack: LocalStack, run_id: str) -> dict[str, Any] | None:
    return RunStore(stack.environment["RUNS_TABLE"]).get_run("recipe", run_id)


# -- finding 4: a transient failure of TestRenderEmailTemplate is not a template error ------------

# One of each kind on the stack (5xx, throttle, no answer); test_which_failures_are_transient has the rest.
TRANSIENT_RENDER_FAULTS = {
    "InternalServerError-500": answer("InternalServerError", 500),
    "TooManyRequests-429": answer("TooManyRequestsException", 429),
    "read-timeout": raising(ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")),
}


@pytest.mark.parametrize("fault", TRANSIENT_RENDER_FAULTS, ids=list(TRANSIENT_RENDER_FAULTS))
def test_a_transient_test_render_failure_is_retried_not_reported_as_a_template_error(
    quiet_stack: LocalStack, inject: Callable[[str, Callable[..., Any]], None], fault: str
) -> None:
    event = load_event("prepare/run_input.json")
    inject(RENDER, TRANSIENT_RENDER_FAULTS[fault])

    # TransientAwsError is the name the state machine's Retry on the Prepare task matches.
    with pytest.raises(TransientAwsError, match=r"test render of template .welcome-campaign.") as raised:
        prepare(event)
    assert "template_error" not in str(raised.value)
    record = run_record(quiet_stack, event["run_id"])
    assert record is not None and record["status"] == "RUNNING" and "error" not in record
    assert quiet_stack.sent_messages() == []

    # The retry, once the fault has passed, prepares the run as if nothing had happened.
    aws.client("sesv2").meta.events.unregister(RENDER, unique_id="fault-0")
    output = prepare(event)
    assert output["status"] == "READY" and output["batch_count"] == 2 and output["error"] is None
    assert "error" not in (run_record(quiet_stack, event["run_id"]) or {})


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_client_error("ThrottlingException", 400), True),
        (_client_error("TooManyRequestsException", 429), True),
        (_client_error("InternalServerError", 500), True),
        (_client_error("SomethingNew", 503), True),
        (_client_error("RequestTimeout", 400), True),
        (_client_error("BadRequestException", 400), False),
        (_client_error("AccessDeniedException", 403), False),
        (_client_error("NotFoundException", 404), False),
        (ReadTimeoutError(endpoint_url="https://s3"), True),
        (EndpointConnectionError(endpoint_url="https://s3"), True),
        (ConnectionResetError("reset by peer"), True),
        (NoCredentialsError(), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_failures_are_transient(exc: Exception, expected: bool) -> None:
    assert is_transient(exc) is expected


def test_a_bad_request_from_test_render_is_a_template_error(
    quiet_stack: LocalStack, inject: Callable[[str, Callable[..., Any]], None]
) -> None:
    event = load_event("prepare/run_input.json")
    inject(RENDER, answer("BadRequestException", 400))

    output = prepare(event)

    assert output["status"] == "FAILED" and output["error"]["code"] == "template_error"
    assert "does not render the sample row: injected BadRequestException" in output["error"]["message"]
    assert output["error"]["where"].endswith("incoming/recipe/subscribers.json: line 2")


def test_a_refusal_of_the_stack_is_neither_a_template_error_nor_retried(
    quiet_stack: LocalStack, inject: Callable[[str, Callable[..., Any]], None]
) -> None:
    # AccessDenied (a policy without ses:TestRenderEmailTemplate) would repeat on every retry and
    # says nothing about the template: it fails the task as itself.
    event = load_event("prepare/run_input.json")
    inject(RENDER, answer("AccessDeniedException", 403))

    with pytest.raises(ClientError) as raised:
        prepare(event)
    assert not isinstance(raised.value, TransientAwsError) and not is_transient(raised.value)
    assert "error" not in (run_record(quiet_stack, event["run_id"]) or {})


def test_any_transient_aws_failure_in_prepare_leaves_as_transient_aws_error(
    quiet_stack: LocalStack, inject: Callable[[str, Callable[..., Any]], None]
) -> None:
    event = load_event("prepare/run_input.json")
    inject("before-call.sesv2.GetAccount", answer("TooManyRequestsException", 429))

    with pytest.raises(TransientAwsError, match="GetAccount"):
        prepare(event)


# -- finding 5b: the sender must be one SendBatch may send as -------------------------------------


def test_the_local_stack_takes_sender_identity_from_the_template(quiet_stack: LocalStack) -> None:
    assert quiet_stack.environment["SENDER_IDENTITY"] == "example.com"  # the parameter's default


def test_prepare_refuses_a_sender_outside_the_stack_identity_before_anything_is_sent(quiet_stack: LocalStack) -> None:
    quiet_stack.put_json("campaigns/recipe.json", {**RECIPE, "sender": {"address": "news@elsewhere.org"}})
    event = load_event("prepare/run_input.json")

    output = prepare(event)

    assert output["status"] == "FAILED" and output["batch_count"] == 0
    error = output["error"]
    assert error["code"] == "invalid_campaign_definition"
    assert error["where"] == f"s3://{quiet_stack.bucket}/campaigns/recipe.json: sender.address"
    assert "elsewhere.org" in error["message"] and "SenderIdentity (example.com)" in error["message"]
    assert "news@" not in json.dumps(error)  # logs carry no address, not even the sender's
    assert (run_record(quiet_stack, event["run_id"]) or {}).get("error") == error
    assert quiet_stack.client("sesv2").list_email_templates()["TemplatesMetadata"] == []
    assert quiet_stack.sent_messages() == []


def test_prepare_accepts_a_sender_at_a_subdomain_of_the_identity(quiet_stack: LocalStack) -> None:
    # (Only while news.example.com is no identity of its own: SES authorises the most specific one.)
    quiet_stack.put_json("campaigns/recipe.json", {**RECIPE, "sender": {"address": "team@news.example.com"}})

    output = prepare(load_event("prepare/run_input.json"))

    assert output["status"] == "READY", output["error"]


@pytest.mark.parametrize(
    ("address", "identity", "covered"),
    [
        ("news@example.com", "example.com", True),
        ("news@EXAMPLE.com", "Example.COM.", True),
        ("news@mail.example.com", "example.com", True),
        ("news@a.b.example.com", "example.com", True),
        ("news@badexample.com", "example.com", False),
        ("news@example.com.evil.org", "example.com", False),
        ("news@example.com", "mail.example.com", False),
        ("news@example.com", "news@example.com", True),
        ("News@Example.com", "news@example.com", True),
        ("other@example.com", "news@example.com", False),
        ("news@mail.example.com", "news@example.com", False),
    ],
)
def test_which_senders_an_identity_covers(address: str, identity: str, covered: bool) -> None:
    assert sender_covered(address, identity) is covered


def _campaign_file(tmp_path: Path, sender: str) -> Path:
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps({**RECIPE, "sender": {"address": sender}}, indent=2))
    return path


def test_validate_names_a_sender_outside_the_identity_when_it_is_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _campaign_file(tmp_path, "news@elsewhere.org")
    offline = argparse.Namespace(files=[str(path)], kind=None, templates=None)
    assert run_validate(offline, None, Out(as_json=True)) == 0  # offline, no identity: nothing to judge
    capsys.readouterr()

    flagged = argparse.Namespace(files=[str(path)], kind=None, templates=None, sender_identity="example.com")
    assert run_validate(flagged, None, Out(as_json=True)) != 0
    (problem,) = json.loads(capsys.readouterr().out)["files"][0]["problems"]
    assert problem["field"] == "sender.address" and "elsewhere.org" in problem["message"]
    assert problem["line"] == path.read_text().splitlines().index('    "address": "news@elsewhere.org"') + 1

    # A target stack's SenderIdentity output counts as the flag does.
    target = Target(stack_name="s", region="us-east-1", outputs={"SenderIdentity": "example.com"}, endpoint_url=None)
    assert run_validate(offline, target, Out(as_json=True)) != 0
    capsys.readouterr()
    good = argparse.Namespace(files=[str(_campaign_file(tmp_path, "news@example.com"))], kind=None, templates=None)
    assert run_validate(good, target, Out(as_json=True)) == 0


def test_push_refuses_a_sender_outside_the_stack_identity_and_pushes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _campaign_file(tmp_path, "news@elsewhere.org")
    # No bucket is touched: the refusal comes before any upload (no AWS here at all).
    target = Target(
        stack_name="s",
        region="us-east-1",
        outputs={"SenderIdentity": "example.com", "CampaignBucketName": "no-such-bucket"},
        endpoint_url=None,
    )
    assert run_push(argparse.Namespace(paths=[str(path)]), target, Out(as_json=True)) != 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["pushed"] == []
    assert "sender.address" in captured.err and "elsewhere.org" in captured.err


# -- finding 7: a retried or resumed Prepare uses the run's snapshot ------------------------------


def test_a_second_prepare_rebuilds_the_same_batches_from_the_snapshot(quiet_stack: LocalStack) -> None:
    event = load_event("prepare/run_input.json")
    first = prepare(event)
    batches = quiet_stack.get_lines(first["context"]["batches_key"])
    ses = quiet_stack.client("sesv2")

    # Meanwhile the team changes the definition (every row one segment now) and a template.
    changed = {
        **RECIPE,
        "segments": [{**RECIPE["segments"][0], "rule": {"field": "segment", "exists": True}}],
    }
    quiet_stack.put_json("campaigns/recipe.json", changed)
    promotion = ses.get_email_template(TemplateName="product-promotion")["TemplateContent"]
    edited = {**promotion, "Subject": "A new subject"}
    ses.update_email_template(TemplateName="product-promotion", TemplateContent=edited)

    again = prepare(event)

    assert quiet_stack.get_lines(again["context"]["batches_key"]) == [
        {**batch, "template": again["context"]["segments"][batch["segment"]]["template"]} for batch in batches
    ]
    assert again["batch_count"] == first["batch_count"] and again["items_key"] == first["items_key"]
    templates = {name: plan["template"] for name, plan in again["context"]["segments"].items()}
    # The unchanged template is used as it is; the changed one through a copy of the run's content,
    # and the shared template keeps the team's edit.
    assert templates["new_customers"] == "welcome-campaign"
    pinned = templates["loyal_customers"]
    assert pinned.startswith("product-promotion-run-") and len(pinned) < 64
    assert ses.get_email_template(TemplateName=pinned)["TemplateContent"] == promotion
    assert ses.get_email_template(TemplateName="product-promotion")["TemplateContent"] == edited
    assert quiet_stack.get_json(f"runs/recipe/{event['run_id']}/campaign.json")["segments"][1]["name"] == (
        "loyal_customers"
    )
    # A third attempt reuses the same copy.
    assert prepare(event)["context"]["segments"]["loyal_customers"]["template"] == pinned


def test_a_resumed_prepare_reads_the_audience_bytes_the_run_started_with(quiet_stack: LocalStack) -> None:
    event = load_event("prepare/run_input.json")
    first = prepare(event)
    batches = quiet_stack.get_lines(first["context"]["batches_key"])
    quiet_stack.upload(event["audience"]["key"], b'[{"email": "someone@example.com", "segment": "new_customers"}]')

    # The bucket is versioned: the snapshot names the version the run read, which is read again.
    snapshot_key = f"runs/recipe/{event['run_id']}/snapshot.json"
    assert quiet_stack.get_json(snapshot_key)["audience"]["version_id"]
    assert prepare(event) == first
    assert quiet_stack.get_lines(first["context"]["batches_key"]) == batches

    # Without a version (an unversioned bucket) the ETag pins it: a replaced file is refused.
    snapshot = quiet_stack.get_json(snapshot_key)
    quiet_stack.put_json(snapshot_key, {**snapshot, "audience": {**snapshot["audience"], "version_id": None}})
    output = prepare(event)
    assert output["status"] == "FAILED" and output["error"]["code"] == "audience_error"
    assert "replaced since the run started" in output["error"]["message"]
    assert output["error"]["where"] == f"s3://{quiet_stack.bucket}/{event['audience']['key']}"


def test_a_prepare_that_failed_before_its_snapshot_starts_afresh(quiet_stack: LocalStack) -> None:
    # A run that failed before its batches existed sent nothing: fixed files are used on a retry.
    event = load_event("prepare/run_input.json")
    quiet_stack.put_json("campaigns/recipe.json", {**RECIPE, "sender": {"address": "news@elsewhere.org"}})
    assert prepare(event)["status"] == "FAILED"
    assert (
        not quiet_stack.client("s3")
        .list_objects_v2(Bucket=quiet_stack.bucket, Prefix=f"runs/recipe/{event['run_id']}/snapshot.json")
        .get("Contents")
    )

    quiet_stack.put_json("campaigns/recipe.json", RECIPE)
    assert prepare(event)["status"] == "READY"


def test_the_prepare_of_a_resumed_run_keeps_the_breaker_the_resume_set(quiet_stack: LocalStack) -> None:
    # `campaign resume --breaker ...` writes new settings before the resumed execution's Prepare:
    # that Prepare must not put the definition's back.
    event = load_event("prepare/run_input.json")
    assert prepare(event)["status"] == "READY"
    store = RunStore(quiet_stack.environment["RUNS_TABLE"])
    override = {"enabled": True, "bounce_rate": 0.08, "complaint_rate": 0.001, "min_sends": 10, "min_events": 3}
    assert store.update_run("recipe", event["run_id"], {"breaker": override})

    assert prepare(event)["status"] == "READY"

    breaker = (run_record(quiet_stack, event["run_id"]) or {})["breaker"]
    assert {k: float(v) for k, v in breaker.items() if k != "enabled"} == {
        k: float(v) for k, v in override.items() if k != "enabled"
    }
