"""SES v2: templates, test rendering, quota and bulk sends."""

from __future__ import annotations

from typing import Any

from ..domain.templates import TemplateContent
from .aws import client, error_code


def get_account() -> dict[str, Any]:
    return client("sesv2").get_account()


def ensure_template(name: str, content: TemplateContent) -> str:
    """Create or update the SES template when its content changed; returns what it did."""
    ses = client("sesv2")
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


def test_render(name: str, data_json: str) -> str:
    return client("sesv2").test_render_email_template(TemplateName=name, TemplateData=data_json)["RenderedTemplate"]


def send_bulk(request: dict[str, Any]) -> dict[str, Any]:
    return client("sesv2").send_bulk_email(**request)


def put_suppressed_destination(address: str, reason: str) -> None:
    """Add the address to the SES account-level suppression list (reason BOUNCE or COMPLAINT)."""
    client("sesv2").put_suppressed_destination(EmailAddress=address, Reason=reason)
