"""Prepare (the real handler, on the local stack) with the columns people's files really have:
rules and templates written against their own spellings (issue 11).

Every test writes its own campaign, templates and audience; the bucket's S3 notification is
off, so putting the audience under incoming/ does not start a run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from campaign_engine.adapters import ses
from campaign_engine.adapters.runs import RunStore

from campaign_local.lambdas import invoke_handler as call
from campaign_local.stack import LocalStack
from tests.conftest import load_event

CAMPAIGN = "columns"
SENDER = {"address": "news@example.com", "name": "News"}


@pytest.fixture
def quiet(stack: LocalStack):
    stack.client("s3").put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    yield stack
    assert stack.executions() == [], "a handler test started an execution"


def prepare(
    stack: LocalStack,
    definition: dict[str, Any],
    templates: dict[str, dict[str, str]],
    name: str,
    body: bytes,
    run: str = "1",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Prepare of run ``columns-<run>`` on ``body``, uploaded as incoming/columns/<name>."""
    for template, content in templates.items():
        stack.put_json(f"templates/{template}.json", content)
    stack.put_json(f"campaigns/{CAMPAIGN}.json", {"sender": SENDER, **definition})
    key = f"incoming/{CAMPAIGN}/{name}"
    stack.upload(key, body)
    event = {**load_event("prepare/run_input.json"), "campaign_id": CAMPAIGN, "run_id": f"{CAMPAIGN}-{run}"}
    event["audience"] = {"key": key}
    return event, call("PrepareFunction", event)


def recipients(stack: LocalStack, output: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    batches = stack.get_lines(output["context"]["batches_key"])
    return {r["email"]: (b["segment"], r["data"]) for b in batches for r in b["recipients"]}


def rejects(stack: LocalStack, event: dict[str, Any]) -> list[dict[str, Any]]:
    return stack.get_lines(f"runs/{CAMPAIGN}/{event['run_id']}/rejects.jsonl")


def record(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    found = RunStore(stack.environment["RUNS_TABLE"]).get_run(CAMPAIGN, event["run_id"])
    assert found is not None
    return found


SENDY = "Name,Email\nDr. Ada Lovelace,ada@example.com\nZoë Martin,zoe@example.com\n,anon@example.com\n"


def test_sendy_name_column_meets_rules_and_templates_written_for_name(quiet: LocalStack) -> None:
    definition = {
        "segments": [{"name": "doctors", "rule": {"field": "name", "contains": "Dr."}, "template": "formal"}],
        "unmatched": "default",
        "default_template": "hello",
    }
    templates = {
        "formal": {"Subject": "Dear {{name}}", "Text": "Dear {{name}}. {{unsubscribe_url}}"},
        "hello": {"Subject": "Hello {{NAME}}", "Text": "Hello {{NAME}}. {{unsubscribe_url}}"},
    }
    event, output = prepare(quiet, definition, templates, "sendy.csv", SENDY.encode())

    assert output["status"] == "READY", output["error"]
    queued = recipients(quiet, output)
    # The rule on 'name' found Sendy's 'Name'; the data carries the template's spelling and the row's own.
    assert queued["ada@example.com"] == (
        "doctors",
        {"Name": "Dr. Ada Lovelace", "Email": "ada@example.com", "name": "Dr. Ada Lovelace"},
    )
    assert queued["zoe@example.com"] == (
        "default",
        {"Name": "Zoë Martin", "Email": "zoe@example.com", "NAME": "Zoë Martin"},
    )
    # An empty name with no default is never sent as "Hello ": invalid, naming the variable and line.
    (reject,) = rejects(quiet, event)
    assert (reject["line"], reject["outcome"], reject["field"]) == (4, "invalid", "NAME")
    assert "template 'hello'" in reject["reason"] and "empty" in reject["reason"]

    # SendBatch renders the batch as it is: SES finds {{name}} and {{NAME}}.
    items = quiet.get_json(output["items_key"])
    for item in items:
        sent = call("SendBatchFunction", {"context": output["context"], "item": item})
        assert sent["counts"]["sent"] == item["count"]
    subjects = sorted(message["subject"] for message in quiet.sent_messages())
    assert subjects == ["Dear Dr. Ada Lovelace", "Hello Zoë Martin"]


LISTMONK = (
    "email,name,attributes\n"
    'user1@example.com,User One,"{""planet"": ""Mars"", ""plan"": ""pro""}"\n'
    'user2@example.com,User Two,"{""plan"": ""pro""}"\n'
    "user3@example.com,User Three,Mars\n"
    'user4@example.com,User Four,"{""Planet"": ""Venus"", ""plan"": ""free""}"\n'
)


def test_listmonk_json_attributes_reach_rules_and_templates_and_a_blank_is_never_sent(quiet: LocalStack) -> None:
    definition = {
        "segments": [{"name": "pro", "rule": {"field": "attributes.plan", "eq": "pro"}, "template": "planet"}],
        "unmatched": "default",
        "default_template": "planet",
    }
    templates = {"planet": {"Subject": "Hello {{name}} on {{attributes.planet}}", "Text": "{{unsubscribe_url}}"}}
    event, output = prepare(quiet, definition, templates, "listmonk.csv", LISTMONK.encode())

    assert output["status"] == "READY", output["error"]
    queued = recipients(quiet, output)
    assert sorted(queued) == ["user1@example.com", "user4@example.com"]
    assert queued["user1@example.com"][0] == "pro"
    # 'Planet' inside the object answers {{attributes.planet}}, added under the template's spelling.
    assert queued["user4@example.com"][1]["attributes"] == {"Planet": "Venus", "plan": "free", "planet": "Venus"}
    found = {r["line"]: r for r in rejects(quiet, event)}
    assert sorted(found) == [3, 4]
    assert all(r["outcome"] == "invalid" and r["field"] == "attributes.planet" for r in found.values())
    assert "not in this row" in found[3]["reason"]
    assert "'attributes' is text, not an object" in found[4]["reason"]


def test_sample_render_uses_the_first_complete_row_and_an_empty_optional_field_does_not_stop_the_run(
    quiet: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mailchimp: TIMEZONE is optional (used only inside #if); FNAME is required and empty on line 2.
    rendered: list[dict[str, Any]] = []
    real = ses.test_render

    def spy(template: str, data: str) -> str:
        rendered.append(json.loads(data))
        return real(template, data)

    monkeypatch.setattr(ses, "test_render", spy)
    body = (
        "Email Address,First Name,TIMEZONE\n"
        "first@example.com,,\n"
        "second@example.com,Ann,\n"
        "third@example.com,Bob,Europe/Berlin\n"
    )
    templates = {
        "mc": {
            "Subject": "Hi {{first_name}}",
            "Text": "{{#if TIMEZONE}}Your time zone: {{TIMEZONE}}{{/if}} {{unsubscribe_url}}",
        }
    }
    definition = {"unmatched": "default", "default_template": "mc"}
    event, output = prepare(quiet, definition, templates, "members.csv", body.encode())

    assert output["status"] == "READY", output["error"]
    assert sorted(recipients(quiet, output)) == ["second@example.com", "third@example.com"]
    assert [(r["line"], r["field"]) for r in rejects(quiet, event)] == [(2, "first_name")]
    (sample,) = rendered
    assert sample["first_name"] == "Ann" and sample["Email Address"] == "second@example.com"


def test_the_run_stops_only_when_no_row_of_a_segment_can_render(quiet: LocalStack) -> None:
    definition = {
        "segments": [
            {"name": "vip", "rule": {"field": "tier", "eq": "vip"}, "template": "vip"},
            {"name": "rest", "rule": {"always": True}, "template": "rest"},
        ]
    }
    templates = {
        "vip": {"Subject": "Hi {{nickname}}", "Text": "{{unsubscribe_url}}"},
        "rest": {"Subject": "Hi {{name}}", "Text": "{{unsubscribe_url}}"},
    }
    body = "email,name,tier,nickname\na@example.com,Ann,basic,\nb@example.com,Bob,vip,\nc@example.com,Cy,vip,\n"
    event, output = prepare(quiet, definition, templates, "tiers.csv", body.encode())

    assert output["status"] == "FAILED"
    error = output["error"]
    assert error["code"] == "template_error"
    for part in ("segment 'vip'", "template 'vip'", "'nickname'"):
        assert part in error["message"], error
    assert error["where"] == f"s3://{quiet.bucket}/incoming/{CAMPAIGN}/tiers.csv: line 3"
    assert record(quiet, event)["error"] == error
    assert quiet.sent_messages() == []

    # One vip row with a nickname is enough: the others are invalid, the run goes ahead.
    fixed = body.replace("c@example.com,Cy,vip,", "c@example.com,Cy,vip,Cyrus")
    event, output = prepare(quiet, definition, templates, "tiers.csv", fixed.encode(), run="2")
    assert output["status"] == "READY", output["error"]
    assert sorted(recipients(quiet, output)) == ["a@example.com", "c@example.com"]
    assert [(r["line"], r["field"]) for r in rejects(quiet, event)] == [(3, "nickname")]


def test_prepare_records_how_the_file_was_read_and_what_no_column_provides(quiet: LocalStack) -> None:
    definition = {
        "segments": [
            {"name": "de", "rule": {"field": "country", "eq": "DE"}, "template": "t"},
            {"name": "fans", "rule": {"field": "Lieblingsband", "exists": True}, "template": "t"},
        ],
        "default_template_data": {"edition": "May"},
    }
    templates = {"t": {"Subject": "{{first_name}}: the {{edition}} issue", "Text": "{{city}} {{unsubscribe_url}}"}}
    body = "E-Mail;First Name;Country\nann@example.com;Ann;DE\n"
    event, output = prepare(quiet, definition, templates, "semicolons.csv", body.encode())

    prepared = record(quiet, event)["prepare"]
    assert prepared["audience"]["delimiter"] == ";"
    assert prepared["audience"]["columns"] == ["E-Mail", "First Name", "Country"]
    assert prepared["audience"]["format"] == "csv"
    warnings = prepared["warnings"]
    assert len(warnings) == 2, warnings
    assert "rule field 'Lieblingsband'" in warnings[0] and "segment 'fans'" in warnings[0]
    assert "'city'" in warnings[1] and "template 't'" in warnings[1]
    # country and first_name are columns under other spellings; edition has a default.
    assert not any("'country'" in w or "first_name" in w or "edition" in w for w in warnings)
    # The row has no city: invalid, and no segment can render, so the run stops too.
    assert output["status"] == "FAILED" and "'city'" in output["error"]["message"]


def test_email_in_a_template_is_the_address_whatever_the_column_is_called(quiet: LocalStack) -> None:
    """Mailchimp's column is "Email Address" (alias email_address): {{email}} still renders."""
    definition = {"segments": [], "unmatched": "default", "default_template": "mine"}
    templates = {"mine": {"Subject": "For {{email}}", "Text": "Sent to {{email}}. {{unsubscribe_url}}"}}
    audience = "Email Address,First Name\nAnn@Example.com,Ann\n"
    event, output = prepare(quiet, definition, templates, "members.csv", audience.encode())

    assert output["status"] == "READY", output["error"]
    assert recipients(quiet, output)["ann@example.com"][1]["email"] == "ann@example.com"
    assert rejects(quiet, event) == []
