"""Build SES v2 SendBulkEmail requests and interpret their per-entry results."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
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

# Call-level SES errors. SES answers each of these before it accepts anything, so none of the
# call's entries was sent. The configuration ones would refuse every later call too: the run
# stops with SES's message and the reservations are released.
ACCOUNT_LEVEL_ERRORS = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "MessageRejected",  # unverified sender, or a recipient outside the sandbox's verified list
        "NotFoundException",  # template or configuration set
        "LimitExceededException",
        "BadRequestException",  # the request's shape (template data, headers): every batch has it
        # Not in SendBulkEmail's model but what AWS answers a caller its policy does not allow (a
        # sender or configuration set outside SendBatch's policy) or whose credentials are wrong.
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)
# Refused before acceptance for the rate, or for credentials that a new attempt renews: try later.
RETRYABLE_ERRORS = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "RequestLimitExceeded", "ExpiredTokenException"}
)


class CallFate(str, Enum):
    """What one SendBulkEmail call did, as far as anyone can know."""

    ACCEPTED = "accepted"  # SES answered 200: each entry's result says what happened to it
    RETRY = "retry"  # refused before acceptance (throttled, never reached SES): nothing sent, try again
    REFUSED = "refused"  # another 4xx refusal of this call: nothing sent, the entries fail
    CONFIGURATION = "configuration"  # every call would be refused: stop the run, nothing sent
    MAYBE_SENT = "maybe_sent"  # timeout, lost connection, 5xx: SES may have accepted it


class EntryFate(str, Enum):
    SENT = "sent"
    RETRY = "retry"  # throttled or a transient failure: not sent, send again
    OVER_QUOTA = "over_quota"  # the daily quota is spent: not sent, send after the wait
    ACCOUNT_LEVEL = "account_level"  # not sent, and no later entry would be: stop the run
    REJECTED = "rejected"  # refused for good (bad address, rejected content, ...)


def classify_error(code: str | None, http_status: int | None) -> CallFate:
    """A call-level SES error answered over HTTP. Only a 4xx is a refusal before acceptance;
    a 5xx may come after SES accepted the message (SES has no idempotency token, so a call
    whose fate is unknown is never made again by this run)."""
    if code in RETRYABLE_ERRORS:
        return CallFate.RETRY
    if code in ACCOUNT_LEVEL_ERRORS:
        return CallFate.CONFIGURATION
    if http_status is not None and 400 <= http_status < 500:
        return CallFate.REFUSED
    return CallFate.MAYBE_SENT


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

    @property
    def fate(self) -> EntryFate:
        if self.sent:
            return EntryFate.SENT
        if self.retryable:
            return EntryFate.RETRY
        if self.status == QUOTA_EXCEEDED:
            return EntryFate.OVER_QUOTA
        if self.status in ACCOUNT_LEVEL:
            return EntryFate.ACCOUNT_LEVEL
        return EntryFate.REJECTED


@dataclass(frozen=True)
class SendResult:
    """The SES port's answer: the call's fate and, when SES answered, one result per entry."""

    fate: CallFate
    entries: tuple[EntryResult, ...] = ()
    code: str | None = None
    message: str = ""


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
