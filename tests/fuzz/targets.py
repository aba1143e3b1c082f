"""The fuzz targets: each entry point that reads outside input, run the way production runs it.

Pure targets call the domain readers and parsers that Prepare, StartCampaign and the feedback
functions use. Stack targets call the real handlers on the local stack (moto): the unsubscribe
function URL, the SQS consumers with a batch holding one poison record, and StartCampaign.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from campaign_engine.domain.addresses import InvalidAddress, normalise
from campaign_engine.domain.audience import read_rows
from campaign_engine.domain.campaign import CampaignDefinition, parse_definition
from campaign_engine.domain.errors import CampaignError
from campaign_engine.domain.rules import Rule
from campaign_engine.domain.ses_events import MalformedEvent, parse, unwrap
from campaign_engine.domain.templates import TemplateContent, merge_data, missing_variables
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from campaign_local.ses_events import sns_envelope
from tests.fuzz import strategies as s
from tests.fuzz.harness import Broken, Target

RECIPE = CampaignDefinition.model_validate(s.RECIPE_CAMPAIGN)
TEMPLATES = {
    path.stem: TemplateContent.model_validate(json.loads(path.read_text(encoding="utf-8")))
    for path in sorted((s.ROOT / "templates").glob("*.json"))
}
RULE = TypeAdapter(Rule)

# ------------------------------------------------------------------------------ pure targets


def run_audience(drawn: tuple[str, bytes, dict[str, Any]]) -> None:
    """Prepare's reading of an upload: every row ends in a field set or a counted outcome."""
    name, data, options = drawn
    last_line = 0
    for row in read_rows(io.BytesIO(data), name=name, **options):
        if row.line < last_line or row.line < 1:
            raise Broken(f"row line {row.line} after line {last_line}")
        last_line = row.line
        if row.fields is None:
            if row.problem is None and row.outcome is None:
                raise Broken(f"line {row.line}: a row without fields has neither a problem nor an outcome")
            continue
        if row.email is None:
            continue
        try:
            normalise(row.email)
        except InvalidAddress:
            continue
        match = RECIPE.segment_for(row.fields)
        if match is not None:
            segment, template = match
            data_for = merge_data(RECIPE.segment_data(segment), row.fields, unsubscribe_url="https://u.example/x")
            missing_variables(TEMPLATES[template], data_for)
            json.dumps(data_for, default=str)  # what goes into the batch file and to SES


def run_definition(raw: bytes | str) -> None:
    definition = parse_definition(raw, source="s3://bucket/campaigns/recipe.json", campaign_id="recipe")
    definition.templates_used()
    definition.sender_header()
    for name in definition.segment_names():
        definition.segment_data(name)
    for row in s.RECIPE_SUBSCRIBERS:
        definition.segment_for(row)
    definition.model_dump_json()  # the snapshot Prepare keeps


def run_rule(drawn: tuple[Any, list[dict[str, Any]]]) -> None:
    document, rows = drawn
    rule = RULE.validate_python(document)
    for row in rows:
        rule.matches(row)  # a rule that validated must never raise on a row (finding 10)


def run_ses_record(body: Any) -> None:
    event = parse(unwrap(body))
    if event is not None:
        _ = (event.key, event.is_hard_bounce, event.campaign_id, event.run_id, event.segment)


# ------------------------------------------------------------------------------ stack targets


class _Stack:
    """The local stack the stack targets share, started once per target."""

    current: Any = None


@contextmanager
def local_stack() -> Iterator[Any]:
    import logging

    from campaign_local.stack import LocalStack
    from tests.conftest import ROOT, SENDER

    with LocalStack.start() as stack:
        stack.verify_sender(SENDER)
        for path in (ROOT / "templates").glob("*.json"):
            stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
        stack.put_json("campaigns/recipe.json", s.RECIPE_CAMPAIGN)
        # Uploads must not start runs of their own: each target calls its handler directly.
        stack.client("s3").put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
        # Thousands of refused inputs would log thousands of warnings: keep errors only.
        from campaign_engine.observability import logger

        previous = logger.log_level
        logger.setLevel(logging.ERROR)
        _Stack.current = stack
        try:
            yield stack
        finally:
            _Stack.current = None
            logger.setLevel(previous)


def _signing_key() -> bytes:
    from campaign_engine.adapters.secrets import signing_key
    from campaign_engine.config import settings

    return signing_key(settings().unsubscribe_secret_arn or "")


def _token(kind: str, value: Any) -> str | None:
    from campaign_engine.domain import tokens

    if kind == "none":
        return None
    if kind == "text":
        return str(value)
    claim = tokens.UnsubscribeClaim(**value)
    if kind == "forged":
        return tokens.sign(b"not the secret", claim)
    token = tokens.sign(_signing_key(), claim)
    return token if kind == "valid" else token[: len(token) // 2] + "." + token[len(token) // 2 :]


def run_unsubscribe(event: dict[str, Any]) -> None:
    """A function URL request: never an exception, never a 5xx (all of it is the client's doing)."""
    from urllib.parse import urlencode

    from campaign_local import lambdas

    event = dict(event)
    kind, value = event.pop("_token")
    query_kind = event.pop("_query")
    token = _token(kind, value)
    query: list[tuple[str, str]] = []
    if token is not None and query_kind != "none":
        query.append(("token", token))
        if query_kind == "duplicate":
            query.append(("token", "second"))
        if query_kind == "extra":
            query.append(("utm", "x"))
    event["rawQueryString"] = urlencode(query)
    params: dict[str, str] = {}
    for name, item in query:
        params[name] = f"{params[name]},{item}" if name in params else item  # how function URLs join repeats
    if params:
        event["queryStringParameters"] = params
    else:
        event.pop("queryStringParameters", None)
    response = lambdas.invoke_handler("UnsubscribeFunction", event)
    status = int(response.get("statusCode", 0))
    if status >= 500 or status < 200:
        raise Broken(f"status {status} for a client's request")


def _sqs_event(bodies: list[Any], function: str) -> dict[str, Any]:
    """The SQS event Lambda passes, built here without reading the bodies (a poison body is
    anything at all; campaign_local's sqs_event reads them for their timestamps)."""
    queue = "SuppressionQueue" if function == "SuppressionFunction" else "EngagementQueue"
    arn = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
    records = []
    for index, body in enumerate(bodies):
        text = body if isinstance(body, str) else s.dumps(body)
        records.append(
            {
                "messageId": f"00000000-0000-4000-8000-{index:012d}",
                "receiptHandle": f"handle-{index}",
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1772442003005",
                    "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
                    "ApproximateFirstReceiveTimestamp": "1772442003017",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


GOOD_BODIES = [json.dumps(sns_envelope(record, s.TOPIC_ARN)) for record in s.SES_SAMPLES[:3]]


def run_feedback_batch(drawn: tuple[str, int, Any]) -> None:
    """Good records and one poison in one SQS batch: only the poison may fail (partial batch
    response); the good ones must be applied whatever the poison is."""
    from campaign_local import lambdas

    function, position, poison = drawn
    at = position % (len(GOOD_BODIES) + 1)
    bodies: list[Any] = list(GOOD_BODIES)
    bodies.insert(at, poison)
    event = _sqs_event(bodies, function)
    poison_id = event["Records"][at]["messageId"]
    response = lambdas.invoke_handler(function, event)
    failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    if failed - {poison_id}:
        raise Broken(f"{function}: {len(failed - {poison_id})} good record(s) failed beside the poison")


def run_start(event: Any) -> None:
    """StartCampaign's reading of S3, scheduler and resume events, up to StartExecution
    (replaced by a check of the run input: a real start would run the whole state machine)."""
    from campaign_engine.config import settings
    from campaign_engine.domain.contracts import RunInput
    from campaign_engine.services import start

    def checked_start(_settings: Any, run: Any, name: str | None = None) -> dict[str, Any]:
        RunInput.model_validate_json(run.model_dump_json(exclude_none=True))
        return {"run_id": run.run_id, "started": True}

    with patch.object(start, "start_execution", checked_start):
        if not isinstance(event, dict):
            raise CampaignError("not an object", where="StartCampaign input")  # Lambda only passes objects
        if "Records" in event:
            start.s3_records(event)
        start.handle(event, settings())


_UPLOADS = iter(range(10**9))


def run_prepare(drawn: tuple[str, bytes, dict[str, Any]]) -> None:
    """The real Prepare handler on a fuzzed upload (the recipe definition, with the drawn
    audience options): a refused file ends FAILED with an error naming it, never an exception."""
    from campaign_engine.domain.contracts import PrepareOutput

    from campaign_local import lambdas

    name, data, options = drawn
    number = next(_UPLOADS)
    key = f"incoming/recipe/fuzz-{number}{name[name.rfind('.') :]}"
    stack = _Stack.current
    definition = {**s.RECIPE_CAMPAIGN, "audience": options}
    stack.put_json("campaigns/recipe.json", definition)
    stack.upload(key, data)
    run = {
        "campaign_id": "recipe",
        "run_id": f"recipe-u-{number:020x}",
        "occurrence": "once",
        "trigger": "upload",
        "audience": {"key": key},
    }
    output = PrepareOutput.model_validate(lambdas.invoke_handler("PrepareFunction", run))
    if output.status == "FAILED" and not (output.error or {}).get("message"):
        raise Broken(f"Prepare FAILED without saying why: {output.error}")


# ----------------------------------------------------------------------------------- the list


def targets() -> list[Target]:
    poison = st.one_of(s.ses_body(), s.json_values.map(s.dumps), st.text(max_size=40))
    return [
        Target("audience", s.audience_file(), run_audience, (CampaignError,), weight=30),
        Target("definition", s.definition_text(), run_definition, (CampaignError,), weight=15),
        Target("rule", st.tuples(s.rules(), st.lists(s.rows, max_size=4)), run_rule, (ValidationError,), weight=15),
        Target("ses_record", s.ses_body(), run_ses_record, (MalformedEvent,), weight=25),
        Target(
            "feedback_batch",
            st.tuples(st.sampled_from(["SuppressionFunction", "EngagementFunction"]), st.integers(0, 3), poison),
            run_feedback_batch,
            weight=5,
            context=local_stack,
        ),
        Target("unsubscribe", s.unsubscribe_request(), run_unsubscribe, weight=7, context=local_stack),
        Target("start_campaign", s.start_event(), run_start, (CampaignError,), weight=4, context=local_stack),
        Target("prepare", s.readable_audience_file(), run_prepare, weight=2, context=local_stack),
    ]


def by_name() -> dict[str, Target]:
    return {target.name: target for target in targets()}

