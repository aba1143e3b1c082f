"""What tests/fuzz found in the real handlers, pinned as tests on the local stack: the crashes
it found (each failed before its fix), and a promise it checks that held (poison records)."""

from __future__ import annotations

import base64

import pytest

from campaign_local import lambdas
from tests.conftest import load_event
from tests.fuzz.targets import GOOD_BODIES, _sqs_event


def _post(body: str, *, base64_encoded: bool, content_type: str) -> dict:
    event = load_event("unsubscribe/post-one-click.json")
    event["body"], event["isBase64Encoded"] = body, base64_encoded
    event["headers"]["content-type"] = content_type
    event["rawQueryString"], event["queryStringParameters"] = "token=x.y", {"token": "x.y"}
    return event


@pytest.mark.parametrize(
    ("body", "base64_encoded", "content_type"),
    [
        ("abc", True, "application/x-www-form-urlencoded"),  # binascii.Error: incorrect padding
        ("\x86\U000f5f78", True, "multipart/form-data; boundary=b"),  # ValueError: not ASCII
        (base64.b64encode(b"--b\r\n\r\n--b--").decode(), True, "multipart/form-data; boundary=\u4e2d"),
        ("List-Unsubscribe=One-Click\ud800", False, "application/x-www-form-urlencoded"),
    ],
)
def test_unsubscribe_refuses_an_unreadable_body_with_a_4xx(quiet_stack, body, base64_encoded, content_type):
    # Before: each raised out of the handler; a function URL answers that with a 502.
    event = _post(body, base64_encoded=base64_encoded, content_type=content_type)
    response = lambdas.invoke_handler("UnsubscribeFunction", event)
    assert 400 <= response["statusCode"] < 500


@pytest.mark.parametrize("function", ["SuppressionFunction", "EngagementFunction"])
def test_a_poison_nested_too_deeply_fails_alone_in_its_batch(quiet_stack, function):
    # Held before the fix too (the batch processor fails one record whatever it raises); since
    # the fix it fails as a MalformedEvent instead of a RecursionError.
    poison = '{"Type": "Notification", "Message": "' + "[" * 50_000 + "]" * 50_000 + '"}'
    event = _sqs_event([GOOD_BODIES[0], poison, GOOD_BODIES[1]], function)
    response = lambdas.invoke_handler(function, event)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
