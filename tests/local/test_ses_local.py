"""campaign_local.ses: the SES v2 operations the local stack adds to moto.

Every call goes through a real boto3 ``sesv2`` client. The client fixture checks each raw
response body against botocore's service model before botocore parses it (botocore's parser
silently drops members it does not know, so a misspelt member would otherwise pass).
"""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sesv2.responses import SESV2Response

from campaign_local import ses

REGION = "us-east-1"
SENDER = "News <news@example.com>"
DEFAULT_DATA = {"name": "friend", "signature": ""}
SESV2_MODEL = botocore.session.get_session().get_service_model("sesv2")

TEMPLATE = {
    "Subject": "Hello {{name}}",
    "Html": "<p>Hi {{name}}, {{{signature}}}</p>"
    "{{#if vip}}<b>VIP</b>{{else}}<i>regular</i>{{/if}}"
    "<ul>{{#each items}}<li>{{@index}}:{{title}}</li>{{/each}}</ul>",
    "Text": "Hi {{name}}{{#if vip}} (VIP){{/if}}",
}


# --------------------------------------------------------------------------- model checks


def shape_problems(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Differences between a JSON value and a botocore shape: unknown or missing required
    members, wrong types, values outside an enum."""
    if value is None:
        return [f"{path}: null is never sent by AWS"]
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object for {shape.name}"]
        problems = [f"{path}.{key}: not a member of {shape.name}" for key in value if key not in shape.members]
        problems += [
            f"{path}.{key}: required member of {shape.name} missing"
            for key in shape.required_members
            if key not in value
        ]
        for key, member in value.items():
            if key in shape.members:
                problems += shape_problems(member, shape.members[key], f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [p for k, v in value.items() for p in shape_problems(v, shape.value, f"{path}.{k}")]
    return _scalar_problems(value, shape, path)


def _scalar_problems(value: Any, shape: Any, path: str) -> list[str]:
    kind = shape.type_name
    expected: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "timestamp": lambda v: isinstance(v, (int, float, str)) and not isinstance(v, bool),
        "blob": lambda v: isinstance(v, str),
    }
    if not expected[kind](value):
        return [f"{path}: {value!r} is not a {kind}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} not in enum {shape.enum}"]
    return []


def response_problems(operation: str, status: int, body: bytes) -> list[str]:
    model = SESV2_MODEL.operation_model(operation)
    payload = json.loads(body) if body else {}
    if status >= 300:
        code = payload.get("__type", "").split("#")[-1]
        declared = {shape.name: shape.metadata["error"]["httpStatusCode"] for shape in model.error_shapes}
        if code not in declared:
            return [f"{operation}: error {code!r} is not declared by the model"]
        if declared[code] != status:
            return [f"{operation}: {code} answered {status}, model says {declared[code]}"]
        return []
    if model.output_shape is None:
        return [] if payload == {} else [f"{operation}: model has no output, got {payload!r}"]
    return shape_problems(payload, model.output_shape)


# The operations campaign_local.ses adds; moto's own answers are moto's business.
ADDED_OPERATIONS = {
    "CreateEmailTemplate",
    "GetEmailTemplate",
    "UpdateEmailTemplate",
    "DeleteEmailTemplate",
    "ListEmailTemplates",
    "TestRenderEmailTemplate",
    "SendBulkEmail",
    "GetAccount",
    "PutSuppressedDestination",
    "GetSuppressedDestination",
    "DeleteSuppressedDestination",
    "ListSuppressedDestinations",
    "CreateConfigurationSetEventDestination",
    "GetConfigurationSetEventDestinations",
    "UpdateConfigurationSetEventDestination",
    "DeleteConfigurationSetEventDestination",
}


class ModelChecker:
    """botocore event handler: fails the call if the raw response breaks the model."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def __call__(self, http_response: Any, model: Any, **_: Any) -> None:
        if model.name not in ADDED_OPERATIONS:
            return
        problems = response_problems(model.name, http_response.status_code, http_response.content)
        assert not problems, problems
        self.checked.append(model.name)


# --------------------------------------------------------------------------- fixtures


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def checker() -> ModelChecker:
    return ModelChecker()


def make_client(checker: ModelChecker, region: str = REGION) -> Any:
    # One attempt: injected throttling must reach the test, not botocore's retry loop.
    client = boto3.client("sesv2", region_name=region, config=Config(retries={"total_max_attempts": 1}))
    client.meta.events.register("after-call.sesv2", checker)
    return client


@pytest.fixture
def client(aws: Any, checker: ModelChecker) -> Any:
    sesv2 = make_client(checker)
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.create_email_template(TemplateName="welcome", TemplateContent=TEMPLATE)
    return sesv2


@pytest.fixture
def clock(aws: Any) -> FakeClock:
    fake = FakeClock()
    ses.configure(clock=fake)
    return fake


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def entry(address: str, data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"Destination": {"ToAddresses": [address]}, **extra}
    if data is not None:
        item["ReplacementEmailContent"] = {"ReplacementTemplate": {"ReplacementTemplateData": json.dumps(data)}}
    return item


def send(client: Any, entries: list[dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "FromEmailAddress": SENDER,
        "DefaultContent": {"Template": {"TemplateName": "welcome", "TemplateData": json.dumps(DEFAULT_DATA)}},
        "BulkEmailEntries": entries,
        **params,
    }
    return client.send_bulk_email(**request)["BulkEmailEntryResults"]


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [result["Status"] for result in results]


# --------------------------------------------------------------------------- the model checker itself


def test_model_checker_catches_a_misspelt_member() -> None:
    assert response_problems("SendBulkEmail", 200, b'{"BulkEmailEntryResults": [{"Status": "SUCCESS"}]}') == []
    assert response_problems("SendBulkEmail", 200, b'{"BulkEmailEntryResults": [{"Statuss": "SUCCESS"}]}')
    assert response_problems("SendBulkEmail", 200, b'{"BulkEmailEntryResults": [{"Status": "OK"}]}')
    assert response_problems("SendBulkEmail", 200, b"{}")  # required member missing
    assert response_problems("GetAccount", 200, b'{"SendQuota": {"MaxSendRate": "14"}}')
    assert response_problems("GetEmailTemplate", 404, b'{"__type": "NotFoundException"}') == []
    assert response_problems("GetEmailTemplate", 400, b'{"__type": "NotFoundException"}')
    assert response_problems("CreateEmailTemplate", 200, b'{"Extra": 1}')


def test_every_response_in_a_session_is_checked(client: Any, checker: ModelChecker) -> None:
    client.get_account()
    assert checker.checked == ["CreateEmailTemplate", "GetAccount"]


def test_added_operations_are_the_installed_ones(aws: Any) -> None:
    assert ses.is_installed()
    installed = {name for name in ADDED_OPERATIONS if hasattr(SESV2Response, _snake(name))}
    assert installed == ADDED_OPERATIONS
    assert all(name in SESV2_MODEL.operation_names for name in ADDED_OPERATIONS)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


# --------------------------------------------------------------------------- installation and reset


def test_install_is_explicit_idempotent_and_reversible(aws: Any) -> None:
    ses.install()
    ses.install()
    assert ses.is_installed()
    try:
        ses.uninstall()
        assert not ses.is_installed()
        assert "send_bulk_email" not in SESV2Response.__dict__
    finally:
        ses.install()
    assert ses.is_installed()


def test_state_resets_with_moto(client: Any, checker: ModelChecker, aws: Any) -> None:
    send(client, [entry("a@example.org")])
    client.put_suppressed_destination(EmailAddress="x@example.org", Reason="BOUNCE")
    assert len(ses.sent_messages()) == 1

    aws.reset()  # what a fresh mock_aws() or POST /moto-api/reset does

    fresh = make_client(checker)
    assert fresh.list_email_templates()["TemplatesMetadata"] == []
    assert fresh.list_suppressed_destinations()["SuppressedDestinationSummaries"] == []
    assert ses.sent_messages() == []
    assert ses.behaviour() == ses.SesBehaviour()


def test_module_reset_forgets_this_modules_state_only(client: Any) -> None:
    ses.configure(max_send_rate=1)
    send(client, [entry("a@example.org")])
    ses.reset()
    assert ses.behaviour().max_send_rate == 14.0
    assert ses.sent_messages() == []
    assert client.list_email_templates()["TemplatesMetadata"] == []
    assert client.get_email_identity(EmailIdentity="example.com")["IdentityType"] == "DOMAIN"


def test_configure_validates(aws: Any) -> None:
    with pytest.raises(ValueError):
        ses.configure(throttle_share=1.5)
    with pytest.raises(TypeError):
        ses.configure(no_such_setting=True)
    with pytest.raises(ValueError):
        ses.fail_next_send(code="NoSuchError")


def test_accounts_and_regions_are_isolated(client: Any, checker: ModelChecker) -> None:
    ses.configure(region="eu-west-1", max_send_rate=3)
    other = make_client(checker, "eu-west-1")
    assert other.list_email_templates()["TemplatesMetadata"] == []
    assert other.get_account()["SendQuota"]["MaxSendRate"] == 3.0
    assert client.get_account()["SendQuota"]["MaxSendRate"] == 14.0
    assert ses.sent_messages(DEFAULT_ACCOUNT_ID, "eu-west-1") == []


# --------------------------------------------------------------------------- templates


def test_template_crud(client: Any) -> None:
    got = client.get_email_template(TemplateName="welcome")
    assert got["TemplateName"] == "welcome"
    assert got["TemplateContent"] == TEMPLATE

    with pytest.raises(ClientError) as excinfo:
        client.create_email_template(TemplateName="welcome", TemplateContent=TEMPLATE)
    assert error_of(excinfo)[:2] == ("AlreadyExistsException", 400)

    client.update_email_template(TemplateName="welcome", TemplateContent={"Subject": "New", "Text": "t"})
    assert client.get_email_template(TemplateName="welcome")["TemplateContent"] == {"Subject": "New", "Text": "t"}

    client.delete_email_template(TemplateName="welcome")
    for call in (
        lambda: client.get_email_template(TemplateName="welcome"),
        lambda: client.update_email_template(TemplateName="welcome", TemplateContent={"Subject": "x"}),
        lambda: client.delete_email_template(TemplateName="welcome"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[:2] == ("NotFoundException", 404)


def test_template_tags_are_returned(client: Any) -> None:
    tags = [{"Key": "team", "Value": "growth"}]
    client.create_email_template(TemplateName="tagged", TemplateContent={"Subject": "s"}, Tags=tags)
    assert client.get_email_template(TemplateName="tagged")["Tags"] == tags


def test_template_name_is_validated(client: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        client.create_email_template(TemplateName="bad name!", TemplateContent={"Subject": "s"})
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)


def test_list_email_templates_pages(client: Any) -> None:
    for name in ("t3", "t1", "t4", "t2"):
        client.create_email_template(TemplateName=name, TemplateContent={"Subject": name})
    names, token, pages = [], None, 0
    while True:
        page = client.list_email_templates(PageSize=2, **({"NextToken": token} if token else {}))
        names += [item["TemplateName"] for item in page["TemplatesMetadata"]]
        assert all(item["CreatedTimestamp"] for item in page["TemplatesMetadata"])
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["t1", "t2", "t3", "t4", "welcome"]
    assert pages == 3
    assert [p["TemplateName"] for p in client.list_email_templates()["TemplatesMetadata"]] == names

    with pytest.raises(ClientError) as excinfo:
        client.list_email_templates(NextToken="not-a-token")
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)


def render(client: Any, data: dict[str, Any], name: str = "welcome") -> email.message.Message:
    raw = client.test_render_email_template(TemplateName=name, TemplateData=json.dumps(data))["RenderedTemplate"]
    return email.message_from_string(raw)


def parts(message: email.message.Message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }


def test_render_escapes_html_and_runs_helpers(client: Any) -> None:
    message = render(
        client,
        {
            "name": "Ann & <Bob>",
            "signature": "<em>Team</em>",
            "vip": True,
            "items": [{"title": "one"}, {"title": "two"}],
        },
    )
    assert message["Subject"] == "Hello Ann &amp; &lt;Bob&gt;"
    bodies = parts(message)
    assert message.get_content_type() == "multipart/alternative"
    assert bodies["text/plain"].strip() == "Hi Ann &amp; &lt;Bob&gt; (VIP)"
    html = bodies["text/html"]
    assert "Hi Ann &amp; &lt;Bob&gt;, <em>Team</em>" in html  # {{ }} escapes, {{{ }}} does not
    assert "<b>VIP</b>" in html and "regular" not in html
    assert "<li>0:one</li><li>1:two</li>" in html


def test_render_if_else_and_empty_each(client: Any) -> None:
    html = parts(render(client, {"name": "A", "signature": "", "vip": False, "items": []}))["text/html"]
    assert "<i>regular</i>" in html and "<ul></ul>" in html
    # A missing attribute is falsy in {{#if}} and empty in {{#each}}, as in Handlebars.
    html = parts(render(client, {"name": "A", "signature": ""}))["text/html"]
    assert "<i>regular</i>" in html and "<ul></ul>" in html


def test_render_html_only_template(client: Any) -> None:
    client.create_email_template(TemplateName="html-only", TemplateContent={"Subject": "S", "Html": "<b>{{x}}</b>"})
    message = render(client, {"x": 1}, "html-only")
    assert message.get_content_type() == "text/html"
    assert message.get_payload(decode=True).decode().strip() == "<b>1</b>"


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({"signature": ""}, "name"),
        ({"name": None, "signature": ""}, "name"),  # null counts as missing
        ({"name": "A"}, "signature"),  # raw {{{ }}} too
        ({"name": "A", "signature": "", "items": [{"title": "t"}, {}]}, "title"),
    ],
)
def test_render_missing_attribute_names_it(client: Any, data: dict[str, Any], missing: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        render(client, data)
    assert error_of(excinfo) == (
        "BadRequestException",
        400,
        f"Attribute '{missing}' is not present in the rendering data.",
    )


def test_render_missing_nested_attribute(client: Any) -> None:
    client.create_email_template(TemplateName="nested", TemplateContent={"Subject": "{{user.first}}", "Text": "x"})
    assert render(client, {"user": {"first": "Zoe"}}, "nested")["Subject"] == "Zoe"
    with pytest.raises(ClientError) as excinfo:
        render(client, {"user": {}}, "nested")
    assert "Attribute 'user.first' is not present" in error_of(excinfo)[2]


def test_render_errors(client: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        client.test_render_email_template(TemplateName="nope", TemplateData="{}")
    assert error_of(excinfo)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        client.test_render_email_template(TemplateName="welcome", TemplateData="{not json")
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)


# --------------------------------------------------------------------------- SendBulkEmail


def test_send_bulk_records_each_message(client: Any, clock: FakeClock) -> None:
    client.create_configuration_set(ConfigurationSetName="tracking")
    header_template = {
        "TemplateName": "welcome",
        "TemplateData": json.dumps({"name": "friend", "signature": "S"}),
        "Headers": [{"Name": "X-Campaign", "Value": "spring"}, {"Name": "List-Unsubscribe", "Value": "<default>"}],
    }
    results = client.send_bulk_email(
        FromEmailAddress=SENDER,
        ReplyToAddresses=["help@example.com"],
        DefaultEmailTags=[{"Name": "campaign", "Value": "spring"}, {"Name": "segment", "Value": "all"}],
        DefaultContent={"Template": header_template},
        ConfigurationSetName="tracking",
        BulkEmailEntries=[
            entry(
                "ann@example.org",
                {"name": "Ann", "signature": "<i>S</i>", "vip": True},
                ReplacementTags=[{"Name": "segment", "Value": "vip"}],
                ReplacementHeaders=[
                    {"Name": "list-unsubscribe", "Value": "<https://u.example/ann>"},
                    {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
                ],
            ),
            {"Destination": {"ToAddresses": ["bob@example.org"], "CcAddresses": ["cc@example.org"]}},
        ],
    )["BulkEmailEntryResults"]

    assert statuses(results) == ["SUCCESS", "SUCCESS"]
    assert len({r["MessageId"] for r in results}) == 2
    first, second = ses.sent_messages()
    assert first["message_id"] == results[0]["MessageId"]
    assert first["to"] == ["ann@example.org"]
    assert first["from"] == SENDER
    assert first["reply_to"] == ["help@example.com"]
    assert first["subject"] == "Hello Ann"
    assert "Hi Ann, <i>S</i>" in first["html"] and "<b>VIP</b>" in first["html"]
    assert first["text"] == "Hi Ann (VIP)"
    assert first["headers"] == {
        "X-Campaign": "spring",
        "list-unsubscribe": "<https://u.example/ann>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert first["tags"] == {"campaign": "spring", "segment": "vip"}
    assert first["template"] == "welcome"
    assert first["configuration_set"] == "tracking"
    assert first["timestamp"].startswith("2023-11-14T22:13:20.250")
    # No replacement data: the default TemplateData renders the entry.
    assert second["subject"] == "Hello friend"
    assert second["to"] == ["bob@example.org"] and second["cc"] == ["cc@example.org"]
    assert second["tags"] == {"campaign": "spring", "segment": "all"}
    assert second["headers"] == {"X-Campaign": "spring", "List-Unsubscribe": "<default>"}


def test_replacement_data_replaces_default_data_whole(client: Any) -> None:
    results = send(
        client,
        [entry("a@example.org", {}), entry("b@example.org", {"signature": "S"})],
        DefaultContent={
            "Template": {"TemplateName": "welcome", "TemplateData": json.dumps({"name": "D", "signature": "S"})}
        },
    )
    # Both accepted; the second entry's data lacks "name", which the default had: no merge.
    assert statuses(results) == ["SUCCESS", "SUCCESS"]
    assert [m["to"] for m in ses.sent_messages()] == [["a@example.org"]]
    assert ses.sent_messages()[0]["subject"] == "Hello D"
    (failure,) = ses.rendering_failures()
    assert failure["message_id"] == results[1]["MessageId"]
    assert failure["error"] == "Attribute 'name' is not present in the rendering data."


def test_rendering_failure_is_accepted_but_not_sent(client: Any) -> None:
    results = send(
        client,
        [entry("ok@example.org", {"name": "Ok", "signature": ""}), entry("bad@example.org", {"signature": ""})],
        DefaultEmailTags=[{"Name": "campaign", "Value": "c1"}],
    )
    assert statuses(results) == ["SUCCESS", "SUCCESS"]
    assert all("MessageId" in r for r in results)
    assert [m["to"] for m in ses.sent_messages()] == [["ok@example.org"]]
    (failure,) = ses.rendering_failures()
    assert failure["to"] == ["bad@example.org"]
    assert failure["template"] == "welcome"
    assert failure["tags"] == {"campaign": "c1"}
    assert "'name'" in failure["error"]
    # SES counted the accepted entry against the quota all the same.
    assert client.get_account()["SendQuota"]["SentLast24Hours"] == 2.0


def test_invalid_entry_data_is_a_per_entry_error(client: Any) -> None:
    bad = {"Destination": {"ToAddresses": ["b@example.org"]}}
    bad["ReplacementEmailContent"] = {"ReplacementTemplate": {"ReplacementTemplateData": "{oops"}}
    results = send(client, [entry("a@example.org", {"name": "A", "signature": ""}), bad])
    assert statuses(results) == ["SUCCESS", "INVALID_PARAMETER"]
    assert "Error" in results[1] and "MessageId" not in results[1]


def test_template_by_arn_and_inline_content(client: Any) -> None:
    arn = f"arn:aws:ses:{REGION}:{DEFAULT_ACCOUNT_ID}:template/welcome"
    by_arn = send(
        client,
        [entry("a@example.org", {"name": "A", "signature": ""})],
        DefaultContent={"Template": {"TemplateArn": arn, "TemplateData": "{}"}},
    )
    inline = send(
        client,
        [entry("b@example.org", {"name": "B"})],
        DefaultContent={
            "Template": {"TemplateContent": {"Subject": "Inline {{name}}", "Text": "t"}, "TemplateData": "{}"}
        },
    )
    assert statuses(by_arn + inline) == ["SUCCESS", "SUCCESS"]
    assert [(m["template"], m["subject"]) for m in ses.sent_messages()] == [("welcome", "Hello A"), (None, "Inline B")]


def test_more_than_50_entries_is_a_bad_request(client: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        send(client, [entry(f"r{i}@example.org") for i in range(51)])
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)
    assert statuses(send(client, [entry(f"r{i}@example.org") for i in range(50)])) == ["SUCCESS"] * 50


def test_entry_without_recipients_is_a_bad_request(client: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        send(client, [{"Destination": {}}])
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)


def test_missing_template_or_configuration_set_is_not_found(client: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        send(
            client,
            [entry("a@example.org")],
            DefaultContent={"Template": {"TemplateName": "nope", "TemplateData": "{}"}},
        )
    assert error_of(excinfo)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        send(client, [entry("a@example.org")], ConfigurationSetName="nope")
    assert error_of(excinfo)[:2] == ("NotFoundException", 404)
    assert ses.sent_messages() == []


def test_unverified_sender_is_rejected(client: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        send(client, [entry("a@example.org")], FromEmailAddress="Me <me@unverified.test>")
    assert error_of(excinfo) == (
        "MessageRejected",
        400,
        "Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: me@unverified.test",
    )
    client.create_email_identity(EmailIdentity="me@unverified.test")
    assert statuses(send(client, [entry("a@example.org")], FromEmailAddress="me@unverified.test")) == ["SUCCESS"]


def test_sandbox_rejects_unverified_recipients(client: Any) -> None:
    ses.configure(production_access=False, max_send_rate=1, max_24_hour_send=200)
    account = client.get_account()
    assert account["ProductionAccessEnabled"] is False
    assert "Details" not in account
    assert account["SendQuota"]["Max24HourSend"] == 200.0

    with pytest.raises(ClientError) as excinfo:
        send(client, [entry("success@simulator.amazonses.com"), entry("stranger@example.org")])
    code, status, message = error_of(excinfo)
    assert (code, status) == ("MessageRejected", 400)
    assert message.endswith("in region US-EAST-1: stranger@example.org")
    assert ses.sent_messages() == []

    client.create_email_identity(EmailIdentity="friend@example.org")
    results = send(client, [entry("bounce@simulator.amazonses.com"), entry("Friend <friend@example.org>")])
    assert statuses(results) == ["SUCCESS", "SUCCESS"]


def test_sending_paused(client: Any) -> None:
    ses.configure(sending_enabled=False)
    assert client.get_account()["SendingEnabled"] is False
    with pytest.raises(ClientError) as excinfo:
        send(client, [entry("a@example.org")])
    assert error_of(excinfo)[:2] == ("SendingPausedException", 400)

    ses.configure(sending_enabled=True)
    client.create_configuration_set(ConfigurationSetName="paused", SendingOptions={"SendingEnabled": False})
    with pytest.raises(ClientError) as excinfo:
        send(client, [entry("a@example.org")], ConfigurationSetName="paused")
    assert error_of(excinfo)[:2] == ("SendingPausedException", 400)


def test_throttle_share_is_deterministic(client: Any) -> None:
    def run() -> list[str]:
        ses.configure(throttle_share=0.25, throttle_seed=7)
        out: list[str] = []
        for batch in range(4):
            out += statuses(send(client, [entry(f"r{batch}-{i}@example.org") for i in range(50)]))
        return out

    first = run()
    throttled = first.count("ACCOUNT_THROTTLED")
    assert 30 <= throttled <= 70  # about a quarter of 200
    assert set(first) == {"SUCCESS", "ACCOUNT_THROTTLED"}
    assert run() == first  # same seed, same entries throttled
    assert len(ses.sent_messages()) == 2 * first.count("SUCCESS")


def test_throttle_and_reject_predicates(client: Any) -> None:
    ses.configure(
        throttle_when=lambda address: address.startswith("slow"),
        reject_when=lambda address: address.endswith("@blocked.example"),
    )
    results = send(
        client,
        [entry("slow@example.org"), entry("x@blocked.example"), entry("fine@example.org"), entry("not-an-address")],
    )
    assert statuses(results) == ["ACCOUNT_THROTTLED", "MESSAGE_REJECTED", "SUCCESS", "MESSAGE_REJECTED"]
    for refused in (results[0], results[1], results[3]):
        assert refused["Error"] and "MessageId" not in refused
    assert [m["to"] for m in ses.sent_messages()] == [["fine@example.org"]]


def test_send_rate_is_enforced_per_second_when_asked(client: Any, clock: FakeClock) -> None:
    five = [entry(f"r{i}@example.org") for i in range(5)]
    ses.configure(max_send_rate=3)
    assert statuses(send(client, five)) == ["SUCCESS"] * 5  # enforcement is off by default

    clock.now += 1
    ses.configure(enforce_send_rate=True)
    assert statuses(send(client, five)) == ["SUCCESS"] * 3 + ["ACCOUNT_THROTTLED"] * 2
    assert statuses(send(client, five[:1])) == ["ACCOUNT_THROTTLED"]  # same second
    clock.now += 1
    assert statuses(send(client, five[:3])) == ["SUCCESS"] * 3
    # An entry's recipients count together.
    clock.now += 1
    wide = {
        "Destination": {
            "ToAddresses": ["a@example.org", "b@example.org"],
            "BccAddresses": ["c@example.org", "d@example.org"],
        }
    }
    assert statuses(send(client, [wide])) == ["ACCOUNT_THROTTLED"]


def test_daily_quota(client: Any, clock: FakeClock) -> None:
    ses.configure(max_24_hour_send=4)
    results = send(client, [entry(f"r{i}@example.org") for i in range(6)])
    assert statuses(results) == ["SUCCESS"] * 4 + ["ACCOUNT_DAILY_QUOTA_EXCEEDED"] * 2
    assert results[4]["Error"] == "Daily message quota exceeded."
    quota = client.get_account()["SendQuota"]
    assert quota == {"Max24HourSend": 4.0, "MaxSendRate": 14.0, "SentLast24Hours": 4.0}

    clock.now += 86_400 + 1  # the rolling window moves on
    assert client.get_account()["SendQuota"]["SentLast24Hours"] == 0.0
    assert statuses(send(client, [entry("later@example.org")])) == ["SUCCESS"]


def test_fail_next_send(client: Any) -> None:
    ses.fail_next_send(code="TooManyRequestsException")
    with pytest.raises(ClientError) as excinfo:
        send(client, [entry("a@example.org")])
    assert error_of(excinfo) == ("TooManyRequestsException", 429, "Maximum sending rate exceeded.")
    assert statuses(send(client, [entry("a@example.org")])) == ["SUCCESS"]

    ses.fail_next_send(code="AccountSuspendedException", message="Suspended for testing", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            send(client, [entry("a@example.org")])
        assert error_of(excinfo) == ("AccountSuspendedException", 400, "Suspended for testing")
    assert statuses(send(client, [entry("a@example.org")])) == ["SUCCESS"]


def test_concurrent_sends_are_all_recorded(client: Any, checker: ModelChecker) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            local = make_client(checker)
            for batch in range(3):
                send(local, [entry(f"w{n}-{batch}-{i}@example.org") for i in range(10)])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    messages = ses.sent_messages()
    assert len(messages) == 120
    assert len({m["message_id"] for m in messages}) == 120
    ses.clear_sent_messages()
    assert ses.sent_messages() == []


# --------------------------------------------------------------------------- GetAccount


def test_get_account_defaults_and_configuration(client: Any) -> None:
    account = client.get_account()
    assert account["SendingEnabled"] is True
    assert account["ProductionAccessEnabled"] is True
    assert account["EnforcementStatus"] == "HEALTHY"
    assert account["SendQuota"] == {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0}
    assert account["SuppressionAttributes"] == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}
    assert account["Details"]["ReviewDetails"]["Status"] == "GRANTED"

    ses.configure(
        max_send_rate=50, max_24_hour_send=1000, enforcement_status="PROBATION", suppressed_reasons=("BOUNCE",)
    )
    wide = {"Destination": {"ToAddresses": ["a@example.org"], "CcAddresses": ["b@example.org"]}}
    send(client, [wide])
    account = client.get_account()
    assert account["SendQuota"] == {"Max24HourSend": 1000.0, "MaxSendRate": 50.0, "SentLast24Hours": 2.0}
    assert account["EnforcementStatus"] == "PROBATION"
    assert account["SuppressionAttributes"]["SuppressedReasons"] == ["BOUNCE"]


# --------------------------------------------------------------------------- suppression list


def test_suppression_list_crud(client: Any, clock: FakeClock) -> None:
    client.put_suppressed_destination(EmailAddress="Bounced@Example.org", Reason="BOUNCE")
    got = client.get_suppressed_destination(EmailAddress="bounced@example.org")["SuppressedDestination"]
    assert got["EmailAddress"] == "Bounced@Example.org"
    assert got["Reason"] == "BOUNCE"
    assert got["LastUpdateTime"].timestamp() == pytest.approx(clock.now)

    clock.now += 10
    client.put_suppressed_destination(EmailAddress="bounced@example.org", Reason="COMPLAINT")
    got = client.get_suppressed_destination(EmailAddress="bounced@example.org")["SuppressedDestination"]
    assert got["Reason"] == "COMPLAINT" and got["LastUpdateTime"].timestamp() == pytest.approx(clock.now)

    client.delete_suppressed_destination(EmailAddress="bounced@example.org")
    for call in (client.get_suppressed_destination, client.delete_suppressed_destination):
        with pytest.raises(ClientError) as excinfo:
            call(EmailAddress="bounced@example.org")
        assert error_of(excinfo)[:2] == ("NotFoundException", 404)

    with pytest.raises(ClientError) as excinfo:
        client.put_suppressed_destination(EmailAddress="a@example.org", Reason="UNSUBSCRIBE")
    assert error_of(excinfo)[:2] == ("BadRequestException", 400)


def test_list_suppressed_destinations_filters_and_pages(client: Any, clock: FakeClock) -> None:
    start = clock.now
    for i in range(5):
        clock.now = start + i * 100
        client.put_suppressed_destination(EmailAddress=f"b{i}@example.org", Reason="BOUNCE")
    client.put_suppressed_destination(EmailAddress="c@example.org", Reason="COMPLAINT")

    def listed(**params: Any) -> tuple[list[str], int]:
        found, token, pages = [], None, 0
        while True:
            page = client.list_suppressed_destinations(**params, **({"NextToken": token} if token else {}))
            found += [item["EmailAddress"] for item in page["SuppressedDestinationSummaries"]]
            pages += 1
            token = page.get("NextToken")
            if not token:
                return found, pages

    assert listed()[0] == [
        "b0@example.org",
        "b1@example.org",
        "b2@example.org",
        "b3@example.org",
        "b4@example.org",
        "c@example.org",
    ]
    assert listed(Reasons=["COMPLAINT"])[0] == ["c@example.org"]
    assert listed(Reasons=["BOUNCE"], PageSize=2) == ([f"b{i}@example.org" for i in range(5)], 3)
    window = {
        "StartDate": datetime.fromtimestamp(start + 100, tz=UTC),
        "EndDate": datetime.fromtimestamp(start + 300, tz=UTC),
    }
    assert listed(Reasons=["BOUNCE"], **window)[0] == ["b1@example.org", "b2@example.org", "b3@example.org"]

    with pytest.raises(ClientError) as excinfo:
        client.list_suppressed_destinations(NextToken="garbage")
    assert error_of(excinfo)[:2] == ("InvalidNextTokenException", 400)


def test_suppressed_recipients_are_accepted_but_dropped(client: Any) -> None:
    client.put_suppressed_destination(EmailAddress="gone@example.org", Reason="COMPLAINT")
    results = send(client, [entry("gone@example.org"), entry("here@example.org")])
    assert statuses(results) == ["SUCCESS", "SUCCESS"]
    assert [m["to"] for m in ses.sent_messages()] == [["here@example.org"]]
    (drop,) = ses.suppressed_drops()
    assert drop["message_id"] == results[0]["MessageId"]
    assert drop["address"] == "gone@example.org" and drop["reason"] == "COMPLAINT"

    # Only the reasons the account suppresses drop mail.
    ses.configure(suppressed_reasons=("BOUNCE",))
    send(client, [entry("gone@example.org")])
    assert [m["to"] for m in ses.sent_messages()][-1] == ["gone@example.org"]


def test_configuration_set_suppression_options_override_the_account(client: Any) -> None:
    client.put_suppressed_destination(EmailAddress="gone@example.org", Reason="BOUNCE")
    client.create_configuration_set(ConfigurationSetName="no-suppression", SuppressionOptions={"SuppressedReasons": []})
    assert statuses(send(client, [entry("gone@example.org")], ConfigurationSetName="no-suppression")) == ["SUCCESS"]
    assert [m["to"] for m in ses.sent_messages()] == [["gone@example.org"]]
    assert ses.suppressed_drops() == []
