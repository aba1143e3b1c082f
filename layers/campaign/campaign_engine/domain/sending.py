"""Build SES v2 SendBulkEmail requests and interpret their per-entry results."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .contracts import Batch, Recipient, SendContext
from .templates import merge_data

MAX_ENTRIES = 50
ONE_CLICK = "List-Unsubscribe=One-Click"

# Per-entry statuses worth another attempt later; everything but SUCCESS and these is final.
RETRYABLE = frozenset({"ACCOUNT_THROTTLED", "TRANSIENT_FAILURE"})
# Per-entry statuses that every later entry would hit too: stop the run instead of burning batches.
ACCOUNT_LEVEL = frozenset(
    {
        "MAIL_FROM_DOMAIN_NOT_VERIFIED",
        "CONFIGURATION_SET_NOT_FOUND",
        "TEMPLATE_NOT_FOUND",
        "ACCOUNT_SUSPENDED",
        "ACCOUNT_SENDING_PAUSED",
        "CONFIGURATION_SET_SENDING_PAUSED",
        "INVALID_SENDING_POOL_NAME",
    }
)
# The rolling 24-hour quota is spent: the run waits for it (the state machine's CheckQuota loop)
# instead of failing; the entries were not sent and go out after the wait.
QUOTA_EXCEEDED = "ACCOUNT_DAILY_QUOTA_EXCEEDED"
# Call-level SES errors that mean the same.
ACCOUNT_LEVEL_ERRORS = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "MessageRejected",  # unverified sender, or a recipient outside the sandbox's verified list
        "NotFoundException",  # template or configuration set
        "LimitExceededException",
    }
)
RETRYABLE_ERRORS = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})


@dataclass(frozen=True)
class EntryResult:
    status: str
    message_id: str | None = None
    error: str | None = None

    @property
    def sent(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE


def template_data(context: SendContext, batch: Batch, recipient: Recipient, unsubscribe_url: str) -> dict[str, Any]:
    """Defaults, then the segment's data, then the row's own fields; the unsubscribe URL last,
    so no row can point it elsewhere."""
    return merge_data(context.segments[batch.segment].data, recipient.data, unsubscribe_url=unsubscribe_url)


def build_request(
    context: SendContext,
    batch: Batch,
    recipients: list[Recipient],
    unsubscribe_url_for: Callable[[str], str],
) -> dict[str, Any]:
    if not 1 <= len(recipients) <= MAX_ENTRIES:
        raise ValueError(f"a SendBulkEmail call takes 1 to {MAX_ENTRIES} entries, got {len(recipients)}")
    plan = context.segments[batch.segment]
    tags = {**context.tags, "campaign": context.campaign_id, "run": context.run_id, "segment": batch.segment}
    entries = []
    for recipient in recipients:
        url = unsubscribe_url_for(recipient.email)
        entries.append(
            {
                "Destination": {"ToAddresses": [recipient.email]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {
                        "ReplacementTemplateData": json.dumps(
                            template_data(context, batch, recipient, url), default=str
                        )
                    }
                },
                "ReplacementHeaders": [
                    {"Name": "List-Unsubscribe", "Value": f"<{url}>"},
                    {"Name": "List-Unsubscribe-Post", "Value": ONE_CLICK},
                ],
            }
        )
    request: dict[str, Any] = {
        "FromEmailAddress": context.from_address,
        "DefaultContent": {
            "Template": {
                "TemplateName": plan.template,
                # SES requires default data; per-entry data replaces it for each recipient.
                "TemplateData": json.dumps(plan.data or {}, default=str),
            }
        },
        "DefaultEmailTags": [{"Name": name, "Value": value} for name, value in sorted(tags.items())],
        "BulkEmailEntries": entries,
    }
    if context.reply_to:
        request["ReplyToAddresses"] = list(context.reply_to)
    if context.configuration_set:
        request["ConfigurationSetName"] = context.configuration_set
    return request


def parse_results(response: dict[str, Any], expected: int) -> list[EntryResult]:
    results = response.get("BulkEmailEntryResults", [])
    if len(results) != expected:
        raise ValueError(f"SES answered {len(results)} entry results for {expected} entries")
    return [EntryResult(r.get("Status", "FAILED"), r.get("MessageId"), r.get("Error")) for r in results]


def backoff_seconds(attempt: int, *, base: float = 0.2, cap: float = 5.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff (AWS Architecture Blog): spreads retries of many workers."""
    return (rng or random).uniform(0, min(cap, base * (2**attempt)))
