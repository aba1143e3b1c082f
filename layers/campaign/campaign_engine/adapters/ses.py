"""SES v2: templates, test rendering, quota and bulk sends."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as NeverConnected
from pydantic import ValidationError

from ..domain.sending import CallFate, SendResult, classify_error, parse_results
from ..domain.templates import TemplateContent
from .aws import SES_SEND, client, error_code


def get_account(*, sesv2: Any = None) -> dict[str, Any]:
    return (sesv2 or client("sesv2")).get_account()


def get_template(name: str, *, sesv2: Any = None) -> TemplateContent | None:
    """The content SES holds under ``name``: None when there is none, or it is not one of ours
    (a shape our TemplateContent does not accept)."""
    try:
        current = (sesv2 or client("sesv2")).get_email_template(TemplateName=name)["TemplateContent"]
    except Exception as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise
    try:
        return TemplateContent.model_validate({k: v for k, v in current.items() if v})
    except ValidationError:
        return None


def ensure_template(name: str, content: TemplateContent, *, sesv2: Any = None) -> str:
    """Create or update the SES template when its content changed; returns what it did."""
    ses = sesv2 or client("sesv2")
    wanted = content.model_dump(exclude_none=True)
    try:
        current = ses.get_email_template(TemplateName=name)["TemplateContent"]
    except Exception as exc:
        if error_code(exc) != "NotFoundException":
            raise
        ses.create_email_template(TemplateName=name, TemplateContent=wanted)
        return "created"
    if {k: v for k, v in current.items() if v} == wanted:
        return "unchanged"
    ses.update_email_template(TemplateName=name, TemplateContent=wanted)
    return "updated"


def test_render(name: str, data_json: str, *, sesv2: Any = None) -> str:
    rendered = (sesv2 or client("sesv2")).test_render_email_template(TemplateName=name, TemplateData=data_json)
    return str(rendered["RenderedTemplate"])


def send_bulk(request: dict[str, Any], *, sesv2: Any = None) -> SendResult:
    """One SendBulkEmail, classified by whether SES can have accepted it. Never raises for an
    SES or transport error: the caller decides per entry from the fate."""
    entries = len(request["BulkEmailEntries"])
    try:
        # The default client makes exactly one HTTP request (adapters.aws): an injected one must too.
        response = (sesv2 or client(SES_SEND)).send_bulk_email(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.get("Code")
        return SendResult(classify_error(code, status), code=code, message=error.get("Message") or str(exc))
    except NeverConnected as exc:
        # The connection was never made: the request did not reach SES.
        return SendResult(CallFate.RETRY, code=type(exc).__name__, message=str(exc))
    except Exception as exc:
        # A read timeout, a reset or closed connection, a broken response: the request may have
        # reached SES and been accepted.
        return SendResult(CallFate.MAYBE_SENT, code=type(exc).__name__, message=str(exc))
    try:
        return SendResult(CallFate.ACCEPTED, tuple(parse_results(response, entries)))
    except ValueError as exc:  # a 200 whose results do not match the entries: who got what is unknown
        return SendResult(CallFate.MAYBE_SENT, code="MalformedReply", message=str(exc))


def put_suppressed_destination(address: str, reason: str, *, sesv2: Any = None) -> None:
    """Add the address to the SES account-level suppression list (reason BOUNCE or COMPLAINT)."""
    (sesv2 or client("sesv2")).put_suppressed_destination(EmailAddress=address, Reason=reason)
