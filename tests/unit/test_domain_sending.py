"""SES v2 SendBulkEmail requests, per-entry results and backoff."""

from __future__ import annotations

import json
import random
from urllib.parse import quote

import botocore.session
import pytest
from botocore.validate import ParamValidator
from campaign_engine.domain.contracts import Batch, Recipient, SegmentPlan, SendContext
from campaign_engine.domain.sending import (
    ACCOUNT_LEVEL,
    ACCOUNT_LEVEL_ERRORS,
    MAX_ENTRIES,
    ONE_CLICK,
    RETRYABLE,
    RETRYABLE_ERRORS,
    CallFate,
    EntryResult,
    backoff_seconds,
    build_request,
    classify_error,
    parse_results,
)

SES = botocore.session.get_session().get_service_model("sesv2")
SEND_BULK = SES.operation_model("SendBulkEmail")


def context(**overrides) -> SendContext:
    values = {
        "campaign_id": "recipe",
        "run_id": "r-20260101T000000-abc123",
        "occurrence": "once",
        "from_address": "The Marketing Team <marketing@example.com>",
        "reply_to": ["support@example.com"],
        "configuration_set": "campaign-engine",
        "tags": {"source": "recipe"},
        "segments": {
            "loyal_customers": SegmentPlan(
                template="product-promotion",
                data={"name": "Valued Customer", "discount": "20", "product_name": "Smart Watch"},
            ),
            "new_customers": SegmentPlan(template="welcome-campaign", data={}),
        },
        "batches_key": "runs/recipe/r/batches.jsonl",
        "worker_rate": 10.0,
    }
    values.update(overrides)
    return SendContext(**values)


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(email=f"user{index}@example.com", line=index + 2, data={"name": f"User {index}", "orders": index})
        for index in range(count)
    ]


def batch(segment: str = "loyal_customers", people: list[Recipient] | None = None) -> Batch:
    template = context().segments[segment].template
    return Batch(batch=7, segment=segment, template=template, recipients=people or recipients(3))


def url_for(address: str) -> str:
    return f"https://unsub.example.com/?token=tok-{quote(address, safe='')}"


def request_for(count: int = 50, ctx: SendContext | None = None, segment: str = "loyal_customers") -> dict:
    people = recipients(count)
    return build_request(ctx or context(), batch(segment, people), people, url_for)


def headers_of(entry: dict) -> dict[str, str]:
    return {header["Name"]: header["Value"] for header in entry["ReplacementHeaders"]}


def test_request_validates_against_the_botocore_model():
    report = ParamValidator().validate(request_for(50), SEND_BULK.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_minimal_request_validates_against_the_botocore_model():
    ctx = context(reply_to=[], configuration_set=None, tags={})
    request = request_for(1, ctx, segment="new_customers")
    assert "ReplyToAddresses" not in request and "ConfigurationSetName" not in request
    report = ParamValidator().validate(request, SEND_BULK.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_one_destination_per_entry_in_order():
    request = request_for(50)
    entries = request["BulkEmailEntries"]
    assert len(entries) == 50
    assert [entry["Destination"] for entry in entries] == [
        {"ToAddresses": [f"user{index}@example.com"]} for index in range(50)
    ]
    assert all(set(entry["Destination"]) == {"ToAddresses"} for entry in entries)


def test_both_list_unsubscribe_headers_with_the_recipients_url():
    for index, entry in enumerate(request_for(50)["BulkEmailEntries"]):
        headers = headers_of(entry)
        assert headers == {
            "List-Unsubscribe": f"<{url_for(f'user{index}@example.com')}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    assert ONE_CLICK == "List-Unsubscribe=One-Click"


def test_unsubscribe_url_in_each_entrys_template_data():
    for index, entry in enumerate(request_for(50)["BulkEmailEntries"]):
        data = json.loads(entry["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"])
        assert data["unsubscribe_url"] == url_for(f"user{index}@example.com")
        assert data["name"] == f"User {index}"  # the row overrides the segment's default
        assert data["discount"] == "20" and data["product_name"] == "Smart Watch"  # segment data
        assert data["orders"] == index


def test_a_row_cannot_override_the_unsubscribe_url():
    people = [Recipient(email="a@example.com", line=2, data={"unsubscribe_url": "https://evil.example"})]
    request = build_request(context(), batch(people=people), people, url_for)
    data = json.loads(
        request["BulkEmailEntries"][0]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    )
    assert data["unsubscribe_url"] == url_for("a@example.com")


def test_unsubscribe_url_function_called_per_recipient():
    calls: list[str] = []

    def record(address: str) -> str:
        calls.append(address)
        return f"https://u.example/{len(calls)}"

    people = recipients(4)
    build_request(context(), batch(people=people), people, record)
    assert calls == [person.email for person in people]


def test_template_and_default_data():
    request = request_for(2)
    template = request["DefaultContent"]["Template"]
    assert template["TemplateName"] == "product-promotion"
    assert json.loads(template["TemplateData"]) == {
        "name": "Valued Customer",
        "discount": "20",
        "product_name": "Smart Watch",
    }
    assert json.loads(request_for(1, segment="new_customers")["DefaultContent"]["Template"]["TemplateData"]) == {}


def test_tags_campaign_run_segment_and_custom():
    tags = {tag["Name"]: tag["Value"] for tag in request_for(1)["DefaultEmailTags"]}
    assert tags == {
        "campaign": "recipe",
        "run": "r-20260101T000000-abc123",
        "segment": "loyal_customers",
        "source": "recipe",
    }


def test_engine_tags_win_over_custom_tags():
    ctx = context(tags={"campaign": "spoofed", "segment": "spoofed"})
    tags = {tag["Name"]: tag["Value"] for tag in request_for(1, ctx)["DefaultEmailTags"]}
    assert tags["campaign"] == "recipe" and tags["segment"] == "loyal_customers"
    assert len(request_for(1, ctx)["DefaultEmailTags"]) == 3


def test_sender_reply_to_and_configuration_set():
    request = request_for(1)
    assert request["FromEmailAddress"] == "The Marketing Team <marketing@example.com>"
    assert request["ReplyToAddresses"] == ["support@example.com"]
    assert request["ConfigurationSetName"] == "campaign-engine"


def test_template_data_with_non_json_values_is_serialised():
    import datetime

    people = [Recipient(email="a@example.com", line=2, data={"joined": datetime.date(2026, 1, 2)})]
    request = build_request(context(), batch(people=people), people, url_for)
    data = json.loads(
        request["BulkEmailEntries"][0]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    )
    assert data["joined"] == "2026-01-02"


@pytest.mark.parametrize("count", [0, MAX_ENTRIES + 1])
def test_wrong_number_of_recipients_rejected(count):
    people = recipients(count)
    with pytest.raises(ValueError, match="1 to 50"):
        build_request(context(), batch(people=recipients(1)), people, url_for)


def test_max_entries_is_the_ses_limit():
    assert MAX_ENTRIES == 50


# --- results -------------------------------------------------------------------------------------


def test_parse_results_in_order():
    response = {
        "BulkEmailEntryResults": [
            {"Status": "SUCCESS", "MessageId": "m1"},
            {"Status": "ACCOUNT_THROTTLED", "Error": "Maximum sending rate exceeded."},
            {"Status": "MESSAGE_REJECTED", "Error": "Email address is not verified."},
            {"Status": "TRANSIENT_FAILURE"},
            {},
        ]
    }
    results = parse_results(response, 5)
    assert results[0] == EntryResult("SUCCESS", "m1", None)
    assert [r.sent for r in results] == [True, False, False, False, False]
    assert [r.retryable for r in results] == [False, True, False, True, False]
    assert results[2].error == "Email address is not verified."
    assert results[4].status == "FAILED"


@pytest.mark.parametrize(("answered", "expected"), [(2, 3), (3, 2), (0, 1)])
def test_parse_results_length_mismatch_raises(answered, expected):
    response = {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "m"}] * answered}
    with pytest.raises(ValueError, match=f"{answered} entry results for {expected}"):
        parse_results(response, expected)


def test_parse_results_missing_key_is_a_mismatch():
    with pytest.raises(ValueError):
        parse_results({}, 1)


def test_status_sets_are_ses_statuses_and_disjoint():
    statuses = set(SES.shape_for("BulkEmailStatus").enum)
    assert statuses >= RETRYABLE | ACCOUNT_LEVEL
    assert not RETRYABLE & ACCOUNT_LEVEL
    assert "SUCCESS" not in RETRYABLE | ACCOUNT_LEVEL
    assert "MESSAGE_REJECTED" not in RETRYABLE | ACCOUNT_LEVEL  # one bad recipient is not the account
    assert "ACCOUNT_THROTTLED" in RETRYABLE
    assert {"ACCOUNT_SUSPENDED", "ACCOUNT_SENDING_PAUSED", "MAIL_FROM_DOMAIN_NOT_VERIFIED"} <= ACCOUNT_LEVEL


def test_every_send_bulk_email_error_has_a_fate_and_only_a_5xx_or_unknown_error_is_maybe_sent():
    declared = {shape.name: shape.metadata.get("error", {}).get("httpStatusCode") for shape in SEND_BULK.error_shapes}
    assert "TooManyRequestsException" in RETRYABLE_ERRORS
    assert not ACCOUNT_LEVEL_ERRORS & RETRYABLE_ERRORS
    # Every error SES declares for SendBulkEmail is a 4xx, answered before acceptance: none of
    # them may leave entries maybe-sent.
    for code, status in declared.items():
        assert status is not None and 400 <= status < 500, code
        assert classify_error(code, status) in (CallFate.RETRY, CallFate.CONFIGURATION), code
    assert classify_error("AccessDeniedException", 400) is CallFate.CONFIGURATION
    assert classify_error("ValidationException", 400) is CallFate.REFUSED
    assert classify_error("InternalFailure", 500) is CallFate.MAYBE_SENT
    assert classify_error("ServiceUnavailable", 503) is CallFate.MAYBE_SENT
    assert classify_error(None, None) is CallFate.MAYBE_SENT
    assert classify_error("Throttling", 400) is CallFate.RETRY


# --- backoff -------------------------------------------------------------------------------------


def test_backoff_bounded_and_growing():
    rng = random.Random(42)
    for attempt in range(40):
        ceiling = min(5.0, 0.2 * 2**attempt)
        samples = [backoff_seconds(attempt, rng=rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples), attempt
        assert max(samples) > ceiling * 0.8, attempt  # full jitter uses the whole range


def test_backoff_custom_base_and_cap():
    rng = random.Random(1)
    assert all(0 <= backoff_seconds(a, base=1, cap=2, rng=rng) <= 2 for a in range(20) for _ in range(20))
    assert all(backoff_seconds(0, base=0.5, cap=10, rng=rng) <= 0.5 for _ in range(100))


def test_backoff_jitters():
    rng = random.Random(7)
    assert len({backoff_seconds(3, rng=rng) for _ in range(20)}) > 1
