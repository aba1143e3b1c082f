"""IAM audit: every AWS call each function (and the state machine) makes on the local stack,
checked against that principal's own policy in template.yaml.

One local stack runs a representative set of runs (an upload with suppressions and SES
feedback through SNS, a one-click unsubscribe, a Finalize refresh, a run that waits for the
daily quota, a run the breaker pauses and a resume, a scheduled run), with a recorder on every
botocore client (campaign_local/iam_audit.py). Each call is mapped to the IAM actions and ARNs
AWS authorises, including what moto leaves out: S3 events carry a versionId on a versioned
bucket (so Prepare reads by VersionId), and SES authorises a send against the sending
identity, the configuration set and the template. The report (also in docs/iam-audit.md) lists
what only a wildcard resource allows and, where the action has a resource type, the ARN a
narrower statement could name.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.s3 import notifications as s3_notifications

from campaign_local import cfn, iam_audit, lambdas
from campaign_local.iam_audit import (
    ApiCall,
    AwsNames,
    CallRecorder,
    Decision,
    Principal,
    Requirement,
    RolePolicies,
    Verdict,
    Via,
)
from campaign_local.stack import LocalStack

# One local stack serves every test of this module: keep them on one xdist worker (--dist loadgroup).
pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("iam-audit")]
ROOT = Path(__file__).resolve().parents[2]
SENDER_IDENTITY = "example.com"  # the template's default SenderIdentity, verified in the local SES
SIM = "simulator.amazonses.com"
DAY = 86_400
REPORT = ROOT / "build" / "iam" / "audit.md"
STATE_MACHINE = "CampaignStateMachine"


# --------------------------------------------------------------------------- what AWS adds


def _versioned_s3_event(original: Any) -> Any:
    """moto's S3 notification without what AWS sends for a versioned bucket: the object's
    versionId (and a sequencer). S3 event message structure:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"""

    def event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        body = original(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        if bucket.is_versioned and version and version != "null":
            for record in body["Records"]:
                record["s3"]["object"].setdefault("versionId", version)
                record["s3"]["object"].setdefault("sequencer", f"{int(time.time() * 1e6):016X}")
        return body

    return event


# ------------------------------------------------------------------------------- scenarios


class Clock:
    """The local SES's clock: a day passes when the quota scenario says so."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _put_definition(stack: LocalStack, campaign_id: str, **changes: Any) -> None:
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    definition.update(campaign_id=campaign_id, **changes)
    stack.put_json(f"campaigns/{campaign_id}.json", definition)


def _rows(*locals_: str, segment: str = "new_customers") -> list[dict[str, str]]:
    return [
        {"email": local if "@" in local else f"{local}@{SIM}", "name": f"Person {i}", "segment": segment}
        for i, local in enumerate(locals_)
    ]


def _upload_and_wait(stack: LocalStack, campaign_id: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    before = {e["executionArn"] for e in stack.executions()}
    stack.upload(f"incoming/{campaign_id}/subscribers.json", json.dumps(rows).encode())
    (new,) = [e for e in stack.executions() if e["executionArn"] not in before]
    execution = stack.wait_for_execution(new["executionArn"], timeout=120)
    return _refresh(stack, campaign_id, execution["name"])


def _refresh(stack: LocalStack, campaign_id: str, run_id: str) -> dict[str, Any]:
    """Finalize's refresh after the feedback landed (as `campaign report --refresh` does)."""
    stack.drain_feedback()
    lambdas.invoke_handler("FinalizeFunction", {"campaign_id": campaign_id, "run_id": run_id})
    return stack.report(campaign_id, run_id)


def _complaint(address: str) -> str:
    return json.dumps(
        {
            "eventType": "Complaint",
            "mail": {"messageId": "before-the-run", "timestamp": "2026-01-01T00:00:00.000Z", "destination": [address]},
            "complaint": {
                "complainedRecipients": [{"emailAddress": address}],
                "timestamp": "2026-01-01T00:00:05.000Z",
                "feedbackId": "iam-audit",
                "complaintFeedbackType": "abuse",
            },
        }
    )


def _one_click(stack: LocalStack, address: str) -> int:
    (message,) = [m for m in stack.sent_messages() if m["to"] == [address]]
    url = message["headers"]["List-Unsubscribe"].strip("<>")
    request = urllib.request.Request(
        url,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def _send_with_feedback_and_unsubscribe(stack: LocalStack) -> None:
    # An address complained before the run (published through the SES events topic, so the
    # suppression function records it); the run then drops it as suppressed.
    stack.publish_ses_records([_complaint("complained@example.com")])
    stack.drain_feedback()
    rows = _rows("success", "bounce", "complaint", "success+open", "success+click", "ooto", "complained@example.com")
    rows += _rows(*[f"reader{i}@example.com" for i in range(3)], segment="loyal_customers")
    report = _upload_and_wait(stack, "recipe", rows)
    assert report["status"] == "COMPLETED" and report["suppressed"] == 1, report
    assert _one_click(stack, "reader1@example.com") == 200
    report = _refresh(stack, "recipe", report["run_id"])
    assert report["feedback"]["unsubscribed"] == 1 and report["feedback"]["bounced"] >= 1, report["feedback"]


def _lost_reply_reconciled(stack: LocalStack) -> None:
    # One SendBulkEmail's reply is lost after SES accepted it: its entries end unknown until
    # Finalize finds SES's Send events (send evidence: a BatchGetItem on the engagement table).
    from botocore.exceptions import ReadTimeoutError
    from campaign_engine.adapters import aws

    lost: list[int] = []

    def lose(request: Any, event_name: str, **_: Any) -> None:
        if event_name.endswith(".SendBulkEmail") and not lost:
            lost.append(1)
            raise ReadTimeoutError(endpoint_url=request.url)

    events = aws.client(aws.SES_SEND).meta.events
    events.register_last("before-send", lose)
    try:
        report = _upload_and_wait(stack, "reconciled", _rows(*[f"lost{i}@example.com" for i in range(3)]))
    finally:
        events.unregister("before-send", lose)
    assert lost and report["sent"] == 3 and report["unknown"] == 0, report


def _quota_wait(stack: LocalStack, clock: Clock) -> None:
    # 20 of the 40 fit in what is left of the day's quota; the run waits, a day passes, it goes on.
    # No SES events: the feedback path is audited by the other runs.
    stack.configure_ses(max_24_hour_send=len(stack.sent_messages()) + 20, publish_events=False)

    def a_day_passes_while_waiting(logical_id: str, payload: Any) -> None:
        if logical_id == "QuotaCheckFunction":
            clock.offset += DAY + 1  # yesterday's sends age out of the rolling 24 hours

    lambdas.REGISTRY.hooks.append(a_day_passes_while_waiting)
    try:
        _put_definition(stack, "quota")
        report = _upload_and_wait(stack, "quota", _rows(*[f"q{i}@example.com" for i in range(40)]))
    finally:
        lambdas.REGISTRY.hooks.remove(a_day_passes_while_waiting)
        stack.configure_ses(max_24_hour_send=1_000_000, publish_events=True)
    assert report["status"] == "COMPLETED" and report["sent"] == 40 and report["quota_waits"], report


def _breaker_pause_and_resume(stack: LocalStack) -> None:
    _put_definition(stack, "breaker", breaker={"min_sends": 20, "min_events": 3})

    def let_events_land(logical_id: str, payload: Any) -> None:
        if logical_id == "SendBatchFunction":
            stack.drain_feedback()  # MaxConcurrencyCap 1: batches run one at a time

    lambdas.REGISTRY.hooks.append(let_events_land)
    try:
        # Batch 0 (50 recipients) all bounce; the breaker pauses the run before batch 1.
        rows = _rows(*[f"bounce+{i}" for i in range(50)], "success")
        report = _upload_and_wait(stack, "breaker", rows)
    finally:
        lambdas.REGISTRY.hooks.remove(let_events_land)
    assert report["status"] == "PAUSED", report
    before = {e["executionArn"] for e in stack.executions()}
    lambdas.invoke_handler(
        "StartCampaignFunction", {"action": "resume", "campaign_id": "breaker", "run_id": report["run_id"]}
    )
    # What the resumed execution reports is the workflow tests' business; the audit needs its
    # calls (StartCampaign's resume, Prepare and the state machine once more).
    (resumed,) = [e for e in stack.executions() if e["executionArn"] not in before]
    stack.wait_for_execution(resumed["executionArn"])
    _refresh(stack, "breaker", report["run_id"])


def _scheduled_run(stack: LocalStack) -> None:
    # audiences/ is outside the notification's incoming/ prefix: only the schedule starts it,
    # and StartCampaign pins the audience's current version (HeadObject) for Prepare.
    stack.upload("audiences/scheduled.json", json.dumps(_rows("success", "success+open")).encode())
    _put_definition(stack, "scheduled", audience_key="audiences/scheduled.json")
    before = {e["executionArn"] for e in stack.executions()}
    event = {"source": "schedule", "campaign_id": "scheduled", "scheduled_time": "2026-12-07T09:00:00Z"}
    lambdas.invoke_handler("StartCampaignFunction", event)
    (new,) = [e for e in stack.executions() if e["executionArn"] not in before]
    report = _refresh(stack, "scheduled", stack.wait_for_execution(new["executionArn"])["name"])
    assert report["status"] == "COMPLETED" and report["sent"] == 2, report


# ------------------------------------------------------------------------------- the audit


@dataclass
class Audit:
    calls: list[ApiCall]
    names: AwsNames
    policies: dict[str, RolePolicies]
    verdicts: dict[Principal, list[Verdict]]
    resolver: cfn.Resolver
    unmapped: list[str]  # calls campaign_local/iam_audit.py cannot map to IAM actions yet

    def verdicts_of(self, role_of: str) -> list[Verdict]:
        return [v for p, vs in self.verdicts.items() if p.role_of == role_of for v in vs]


def _aws_names(stack: LocalStack, resolver: cfn.Resolver) -> AwsNames:
    resources = resolver.template["Resources"]
    secret_keys = {}
    for logical, resource in resources.items():
        if resource["Type"] == "AWS::SecretsManager::Secret" and "KmsKeyId" in resource.get("Properties", {}):
            key = str(resolver.resolve(resource["Properties"]["KmsKeyId"]))
            key_logical = next(k for k, v in resolver.physical.items() if v == key)
            secret_keys[resolver.physical[logical]] = resolver.attributes[(key_logical, "Arn")]
    identities = {i["IdentityName"] for i in stack.client("sesv2").list_email_identities()["EmailIdentities"]}
    return AwsNames(resolver.region, resolver.account, identities, secret_keys)


def _audit_resolver(stack: LocalStack) -> cfn.Resolver:
    """The local stack's names, with KMS keys given real key ARNs (the local stack creates none)."""
    base = stack.resolver
    resolver = cfn.Resolver(
        base.template, base.region, base.account, base.stack_name, dict(base.parameters), dict(base.physical)
    )
    resolver.attributes = dict(base.attributes)
    for logical, resource in base.template["Resources"].items():
        if resource["Type"] == "AWS::KMS::Key":
            key_id = f"local-{logical.lower()}"
            resolver.physical[logical] = key_id
            resolver.attributes[(logical, "Arn")] = f"arn:aws:kms:{base.region}:{base.account}:key/{key_id}"
    return resolver


def _evaluate(
    calls: list[ApiCall], names: AwsNames, policies: dict[str, RolePolicies]
) -> tuple[dict[Principal, list[Verdict]], list[str]]:
    unmapped: set[str] = set()
    needed: dict[Principal, set[Requirement]] = defaultdict(set)
    for call in calls:
        if not iam_audit.audited(call):
            continue
        try:
            needed[call.principal].update(iam_audit.requirements(call, names))
        except iam_audit.UnmappedCall as exc:
            unmapped.add(str(exc))
    verdicts = {
        principal: [policies[principal.role_of].evaluate(r) for r in sorted(reqs, key=lambda r: (r.action, r.resource))]
        for principal, reqs in sorted(needed.items(), key=lambda kv: str(kv[0]))
    }
    return verdicts, sorted(unmapped)


@pytest.fixture(scope="module")
def audit() -> Audit:
    recorder = CallRecorder(state_machine=STATE_MACHINE)
    clock = Clock()
    parameters = {"QuotaRecheckSeconds": "1", "MaxConcurrencyCap": "1"}
    with pytest.MonkeyPatch.context() as patch, recorder.installed():
        patch.setattr(s3_notifications, "_get_s3_event", _versioned_s3_event(s3_notifications._get_s3_event))
        with LocalStack.start(parameters=parameters) as stack:
            from campaign_engine.adapters import secrets as engine_secrets

            # Every function runs in its own sandbox on AWS, so each reads the secret itself; in
            # the one local process the first reader's cache would hide the others' reads.
            lambdas.REGISTRY.hooks.append(lambda logical_id, payload: engine_secrets.reset())
            stack.verify_sender(SENDER_IDENTITY)
            stack.configure_ses(max_send_rate=500, max_24_hour_send=1_000_000, clock=clock)
            for path in (ROOT / "templates").glob("*.json"):
                stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
            _put_definition(stack, "recipe")
            _send_with_feedback_and_unsubscribe(stack)
            _put_definition(stack, "reconciled")
            _lost_reply_reconciled(stack)
            _quota_wait(stack, clock)
            _breaker_pause_and_resume(stack)
            _scheduled_run(stack)
            stack.drain_feedback()
            resolver = _audit_resolver(stack)
            names = _aws_names(stack, resolver)
            template = resolver.template
            roles = {
                logical
                for logical, r in template["Resources"].items()
                if r["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
            }
            policies = {logical: RolePolicies.from_template(template, logical, resolver) for logical in roles}
            calls = list(recorder.calls)
    verdicts, unmapped = _evaluate(calls, names, policies)
    result = Audit(calls, names, policies, verdicts, resolver, unmapped)
    _write_report(result)
    return result


# ---------------------------------------------------------------------------------- report


def _report_rows(verdicts: list[Verdict]) -> list[str]:
    """One row per action and granting statement and pattern (runs make many keys alike)."""
    groups: dict[tuple[str, str, str, str, str], list[str]] = defaultdict(list)
    for v in verdicts:
        r = v.requirement
        condition = "".join(f" when {k}={value}" for k, value in r.context)
        granted = v.pattern if v.decision is Decision.ALLOWED and v.pattern else r.resource
        source = v.statement.source if v.statement else "-"
        groups[(r.action, granted + condition, str(v.decision), source, r.why)].append(r.resource)
    rows = []
    for (action, granted, decision, source, why), resources in sorted(groups.items()):
        example = min(resources)
        seen = f"{example}" + (f" and {len(resources) - 1} more" if len(resources) > 1 else "")
        rows.append(f"| `{action}` | `{granted}` | {seen} ({why}) | {decision} | {source} |")
    return rows


def _wildcard_rows(audit: Audit) -> list[str]:
    rows = []
    for principal, verdicts in audit.verdicts.items():
        for v in verdicts:
            if v.decision is Decision.ALLOWED and v.wildcard_only:
                r = v.requirement
                narrower = (
                    f"could name `{r.resource}`"
                    if r.has_resource_type
                    else "no resource type in the Service Authorization Reference: `*` is the only valid resource"
                )
                rows.append(
                    f"| {principal} | `{r.action}` | {v.statement.source if v.statement else '-'} | {narrower} |"
                )
    return sorted(set(rows))


def _unused_rows(audit: Audit) -> list[str]:
    """Allowed actions no recorded call needed: candidates for trimming (SAM's CRUD templates
    grant more than the code uses by design; the managed policies SAM attaches are left out)."""
    rows = []
    for logical_id, role in sorted(audit.policies.items()):
        needed = [v.requirement for v in audit.verdicts_of(logical_id)]
        for statement in role.statements:
            if statement.effect is not iam_audit.Effect.ALLOW or "SAM attaches" in statement.source:
                continue
            for action in statement.actions:
                if not any(iam_audit.action_matches(action, r.action) for r in needed):
                    rows.append(f"| {logical_id} | `{action}` | {statement.source} |")
    return rows


def _write_report(audit: Audit) -> None:
    lines = ["# IAM audit (generated by tests/iam/test_iam_audit.py)", ""]
    for principal, verdicts in audit.verdicts.items():
        lines += [f"## {principal}", "", "| action | allowed resource | called on | decision | statement |"]
        lines += ["|---|---|---|---|---|", *_report_rows(verdicts)]
        lines.append("")
    lines += ["## Allowed only through a wildcard resource", "", "| principal | action | statement | ARN |"]
    lines += ["|---|---|---|---|", *_wildcard_rows(audit), ""]
    lines += ["## Allowed but not used by these runs", "", "| role | action | statement |", "|---|---|---|"]
    lines += [*_unused_rows(audit), ""]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))  # shown with -s or -rP; the file keeps it either way


# ----------------------------------------------------------------------------------- tests


def test_every_call_of_every_function_is_allowed_by_its_own_policy(audit: Audit) -> None:
    assert not audit.unmapped, "calls without an IAM mapping:\n" + "\n".join(audit.unmapped)
    missing = [
        f"{principal}: {v.requirement.action} on {v.requirement.resource} ({v.requirement.why}): {v.decision}"
        + (f" [{v.statement.source}]" if v.statement else "")
        for principal, verdicts in audit.verdicts.items()
        for v in verdicts
        if v.decision is not Decision.ALLOWED
    ]
    assert not missing, "missing permissions in template.yaml:\n" + "\n".join(missing)


def test_the_scenarios_exercised_every_function_and_the_state_machine(audit: Audit) -> None:
    seen = {p.role_of for p in audit.verdicts}
    assert seen == set(audit.policies), f"never called AWS: {sorted(set(audit.policies) - seen)}"
    assert Principal("SuppressionFunction", Via.EVENT_SOURCE) in audit.verdicts
    assert Principal(STATE_MACHINE, Via.STATE_MACHINE) in audit.verdicts
    finalize = {v.requirement.action for p, vs in audit.verdicts.items() if p.role_of == "FinalizeFunction" for v in vs}
    assert "dynamodb:BatchGetItem" in finalize  # reconcile's send evidence, as a run with unknowns closes


def test_what_moto_leaves_out_is_audited(audit: Audit) -> None:
    prepare = {
        (v.requirement.action, v.requirement.resource.split("/", 1)[-1].split("/")[0])
        for v in audit.verdicts_of("PrepareFunction")
    }
    # Finding 5: the upload (S3 event versionId) and the scheduled audience (HeadObject's
    # VersionId) are read by version.
    assert ("s3:GetObjectVersion", "incoming") in prepare
    assert ("s3:GetObjectVersion", "audiences") in prepare
    send = {
        v.requirement.resource.split(":", 5)[-1]
        for v in audit.verdicts_of("SendBatchFunction")
        if v.requirement.action == "ses:SendBulkEmail"
    }
    assert f"identity/{SENDER_IDENTITY}" in send
    assert "configuration-set/campaign-local-campaigns" in send
    assert {"template/welcome-campaign", "template/product-promotion"} <= send
    decrypts = {p.role_of for p, vs in audit.verdicts.items() for v in vs if v.requirement.action == "kms:Decrypt"}
    assert decrypts == {"SendBatchFunction", "UnsubscribeFunction"}


def test_a_sender_outside_sender_identity_is_denied(audit: Audit) -> None:
    """Finding 5: SendBatch may send only through SenderIdentity. A campaign whose From address
    is another identity is refused by SES on AWS (AccessDenied) while the local SES sends it."""
    sends = [c for c in audit.calls if c.principal.role_of == "SendBatchFunction" and c.operation == "SendBulkEmail"]
    assert sends, "no SendBulkEmail recorded"
    policy = audit.policies["SendBatchFunction"]
    for sender in ("News <news@other.example.org>", "someone@example.net"):
        call = ApiCall(sends[0].principal, "sesv2", "SendBulkEmail", {**sends[0].params, "FromEmailAddress": sender})
        verdicts = [policy.evaluate(r) for r in iam_audit.requirements(call, audit.names)]
        denied = [v.requirement.resource for v in verdicts if v.decision is not Decision.ALLOWED]
        domain = sender.rstrip(">").rpartition("@")[2]
        assert denied == [f"arn:aws:ses:{audit.names.region}:{audit.names.account}:identity/{domain}"], verdicts
    # ... while an address of the SenderIdentity domain, and the domain itself, are allowed.
    call = ApiCall(
        sends[0].principal, "sesv2", "SendBulkEmail", {**sends[0].params, "FromEmailAddress": "x@example.com"}
    )
    assert all(policy.evaluate(r).decision is Decision.ALLOWED for r in iam_audit.requirements(call, audit.names))


def test_wildcard_only_permissions_are_listed_with_the_arn_they_could_name(audit: Audit) -> None:
    rows = _wildcard_rows(audit)
    # The SQS event source polls through AWSLambdaSQSQueueExecutionRole ("*"), narrowed by the
    # PollOnlyOwnQueue deny; ses:GetAccount has no resource type.
    assert any("sqs:ReceiveMessage" in r and "could name" in r for r in rows), rows
    assert any("ses:GetAccount" in r and "only valid resource" in r for r in rows), rows


def test_the_audit_fails_when_a_permission_is_missing(audit: Audit) -> None:
    """The check can fail: without the statement finding 5 added, Prepare's reads by VersionId
    (the S3 event's upload and the scheduled audience) are refused, as they were on AWS."""
    prepare = audit.policies["PrepareFunction"]
    without = RolePolicies(
        prepare.logical_id, [s for s in prepare.statements if "ReadTheAudienceVersionTheRunStartedWith" not in s.source]
    )
    assert len(without.statements) == len(prepare.statements) - 1
    refused = {
        v.requirement.resource.split(":::", 1)[1].split("/")[1]
        for v in audit.verdicts_of("PrepareFunction")
        if without.evaluate(v.requirement).decision is not Decision.ALLOWED
    }
    assert refused == {"incoming", "audiences"}


def _variant(audit: Audit, logical_id: str, **parameters: str) -> RolePolicies:
    base = audit.resolver
    resolver = cfn.Resolver(
        base.template, base.region, base.account, base.stack_name, {**base.parameters, **parameters}, base.physical
    )
    resolver.attributes = base.attributes
    return RolePolicies.from_template(base.template, logical_id, resolver)


@pytest.mark.parametrize("logical_id", ["SuppressionFunction", "UnsubscribeFunction"])
def test_the_account_suppression_list_is_writable_only_when_the_stack_syncs_it(audit: Audit, logical_id: str) -> None:
    put = Requirement("ses:PutSuppressedDestination", "*", "SyncAccountSuppressionList")
    assert _variant(audit, logical_id, SyncAccountSuppressionList="true").evaluate(put).decision is Decision.ALLOWED
    assert (
        _variant(audit, logical_id, SyncAccountSuppressionList="false").evaluate(put).decision is not Decision.ALLOWED
    )


def test_recipient_identities_are_allowed_only_in_the_sandbox(audit: Audit) -> None:
    """In the sandbox SES also authorises each recipient's (verified) identity."""
    recipient = Requirement(
        "ses:SendBulkEmail", f"arn:aws:ses:{audit.names.region}:{audit.names.account}:identity/reader@example.org", "to"
    )
    assert _variant(audit, "SendBatchFunction", SesSandbox="true").evaluate(recipient).decision is Decision.ALLOWED
    assert _variant(audit, "SendBatchFunction", SesSandbox="false").evaluate(recipient).decision is not Decision.ALLOWED
