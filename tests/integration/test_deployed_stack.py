"""A small campaign to the SES mailbox simulator on a deployed stack, through the `campaign`
command: the run completes, the report counts every row, and the bounce and complaint
addresses end up suppressed. It creates its own campaign id, templates and addresses, and
deletes only those (engagement items expire by their TTL).

    AWS_SAM_STACK_NAME=campaign-engine-dev AWS_PROFILE=... .venv/bin/python -m pytest tests/integration
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = Path(sys.executable).parent / "campaign"
STACK = os.environ.get("AWS_SAM_STACK_NAME", "")
FEEDBACK_TIMEOUT = float(os.environ.get("INTEGRATION_FEEDBACK_TIMEOUT", "600"))


def cli(*args: str, check: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(CAMPAIGN), "--stack-name", STACK, "--json", *args], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def stack():
    outputs = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


@pytest.fixture(scope="module")
def campaign(stack, tmp_path_factory):
    """A campaign of our own: definition, two templates and a run, all deleted afterwards."""
    tag = secrets.token_hex(4)
    campaign_id = f"it-{tag}"
    work = tmp_path_factory.mktemp("integration")
    identity = stack["SenderIdentity"]
    sender = identity if "@" in identity else f"campaign-test@{identity}"
    templates = {}
    for name in ("welcome-campaign", "product-promotion"):
        templates[name] = f"{campaign_id}-{name}"
        (work / f"{templates[name]}.json").write_text((ROOT / "templates" / f"{name}.json").read_text())
    definition = json.loads((ROOT / "examples/recipe/campaign.json").read_text())
    definition.update(campaign_id=campaign_id, sender={"address": sender, "name": "Integration test"})
    definition["default_template"] = templates["welcome-campaign"]
    for segment in definition["segments"]:
        segment["template"] = templates[segment["template"]]
    (work / f"{campaign_id}.json").write_text(json.dumps(definition))
    addresses = {kind: f"{kind}+{tag}@simulator.amazonses.com" for kind in ("success", "bounce", "complaint", "ooto")}
    audience = work / "simulator.csv"
    audience.write_text(
        "email,name,segment\n"
        + "".join(f"{a},Sim {k},new_customers\n" for k, a in addresses.items())
        + "not-an-address,Broken,new_customers\n"
    )
    cli("push", str(work / f"{campaign_id}.json"), *(str(work / f"{t}.json") for t in templates.values()))
    yield {"id": campaign_id, "audience": audience, "addresses": addresses, "templates": templates}
    _clean_up(stack, campaign_id, templates.values(), addresses.values())


def _clean_up(stack, campaign_id, templates, addresses):
    s3, dynamodb, ses = boto3.client("s3"), boto3.client("dynamodb"), boto3.client("sesv2")
    bucket = stack["CampaignBucketName"]
    keys = [f"campaigns/{campaign_id}.json"] + [f"templates/{t}.json" for t in templates]
    for prefix in (f"incoming/{campaign_id}/", f"runs/{campaign_id}/"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    for template in templates:
        with contextlib.suppress(ses.exceptions.NotFoundException):
            ses.delete_email_template(TemplateName=template)
    runs = stack["RunsTableName"]
    for item in dynamodb.query(
        TableName=runs,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CAMPAIGN#{campaign_id}"}},
    )["Items"]:
        run_id = item["sk"]["S"].removeprefix("RUN#")
        for batch in dynamodb.query(
            TableName=runs, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}}
        )["Items"]:
            dynamodb.delete_item(TableName=runs, Key={"pk": batch["pk"], "sk": batch["sk"]})
        dynamodb.delete_item(TableName=runs, Key={"pk": item["pk"], "sk": item["sk"]})
    for address in addresses:
        dynamodb.delete_item(TableName=stack["SuppressionTableName"], Key={"address": {"S": address}})
        dynamodb.delete_item(TableName=stack["LedgerTableName"], Key={"pk": {"S": f"{campaign_id}#once#{address}"}})


def test_a_simulator_campaign_runs_and_feeds_back(campaign):
    sent = json.loads(cli("send", campaign["id"], str(campaign["audience"]), "--interval", "5").stdout)
    report = sent["report"]
    assert sent["progress"]["status"] == "COMPLETED"
    assert report["rows"] == 5 == report["outcomes_total"]
    assert report["sent"] == 4 and report["invalid"] == 1

    deadline = time.monotonic() + FEEDBACK_TIMEOUT
    wanted = {campaign["addresses"]["bounce"]: "BOUNCE", campaign["addresses"]["complaint"]: "COMPLAINT"}
    while True:
        listed = json.loads(cli("suppression", "list", "--all").stdout)["addresses"]
        found = {r["address"]: r["reasons"] for r in listed if r["address"] in wanted}
        if all(wanted[a] in found.get(a, "") for a in wanted):
            break
        assert time.monotonic() < deadline, f"not suppressed after {FEEDBACK_TIMEOUT:.0f} s: {found}"
        time.sleep(15)
    assert campaign["addresses"]["success"] not in {r["address"] for r in listed}

    refreshed = json.loads(cli("report", sent["progress"]["run_id"], "--refresh").stdout)
    assert refreshed["feedback"]["delivered"] >= 2 and refreshed["feedback"]["complained"] >= 1
