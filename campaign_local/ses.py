"""SES v2 operations that moto 5.2.5 lacks, so the pipeline's boto3 calls run unchanged locally.

moto routes every ``/v2/...`` request to ``moto.sesv2.responses.SESV2Response`` and calls the
method named after the botocore operation in snake_case. :func:`install` attaches the
operations below to that class; it is explicit (never at import) and idempotent:

- templates: ``CreateEmailTemplate``, ``GetEmailTemplate``, ``UpdateEmailTemplate``,
  ``DeleteEmailTemplate``, ``ListEmailTemplates``, ``TestRenderEmailTemplate``;
- ``SendBulkEmail`` with per-entry results, Handlebars rendering (pybars3) and an outbox;
- ``GetAccount`` (send quota, sandbox, sending enabled);
- the account-level suppression list: ``PutSuppressedDestination``,
  ``GetSuppressedDestination``, ``DeleteSuppressedDestination``, ``ListSuppressedDestinations``;
- configuration set event destinations: ``CreateConfigurationSetEventDestination``,
  ``GetConfigurationSetEventDestinations``, ``UpdateConfigurationSetEventDestination``,
  ``DeleteConfigurationSetEventDestination``.

Event publishing: a SendBulkEmail with a configuration set whose enabled event destinations
have an ``SnsDestination`` publishes the records real SES would (event-publishing format, one
record per SNS message) to those topics, only the destination's ``MatchingEventTypes``
(``SEND`` or ``send``, ...; ``Enabled`` defaults to false, as in AWS). Which records a message
gets follows the mailbox simulator and a deterministic open/click rule, described in
:mod:`campaign_local.ses_events`; recipients dropped by the suppression list bounce
(``OnAccountSuppressionList``) and rendering failures give a Rendering Failure. A background
thread per account and region publishes them (``publish_batch``), never under the account lock:
call :func:`flush_events` before looking at what the topic's subscribers received.

State lives on moto's ``SESV2Backend`` instance for the account and region, so a moto reset
or a fresh ``mock_aws()`` starts clean. Identities and configuration sets stay in moto's own
SES backend, where ``create_email_identity`` and ``create_configuration_set`` put them.

Typical use in a test::

    with mock_aws():
        ses.install()
        ses.configure(max_send_rate=2, enforce_send_rate=True, throttle_share=0.1)
        ...  # production code calls boto3 sesv2
        messages = ses.sent_messages()
        ses.flush_events()  # SES event records are on the configuration set's SNS topics

Responses follow botocore's ``sesv2`` model exactly (member names, types and error codes with
the model's HTTP status); the tests check every response against that model.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import logging
import random
import re
import threading
import time
import uuid
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

import boto3
import pybars
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from moto.core.models import botocore_stubber
from moto.core.utils import get_service_model
from moto.ses.models import ses_backends
from moto.sesv2.models import sesv2_backends
from moto.sesv2.responses import SESV2Response

from campaign_local import ses_events

__all__ = [
    "DEFAULT_REGION",
    "SesBehaviour",
    "behaviour",
    "clear_sent_messages",
    "configure",
    "event_publish_errors",
    "fail_next_send",
    "flush_events",
    "install",
    "is_installed",
    "published_events",
    "refusal_counts",
    "rendering_failures",
    "reset",
    "sent_messages",
    "suppressed_drops",
    "uninstall",
]

DEFAULT_REGION = "us-east-1"

logger = logging.getLogger(__name__)

# Limits documented for SES v2.
MAX_BULK_ENTRIES = 50
MAX_RECIPIENTS_PER_ENTRY = 50
MAX_HEADERS = 15
SIMULATOR_DOMAIN = "simulator.amazonses.com"
SUPPRESSION_REASONS = ("BOUNCE", "COMPLAINT")

_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Deliberately loose: SES rejects only what is clearly not an address.
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STATE_ATTR = "_campaign_local_ses_state"
_DAY_SECONDS = 86_400.0
_DEFAULT_PAGE_SIZE = {"templates": 10, "suppression": 100}
_EVENT_DESTINATION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_EVENT_DESTINATIONS = 10  # per configuration set
_DESTINATION_MEMBERS = (
    "KinesisFirehoseDestination",
    "CloudWatchDestination",
    "SnsDestination",
    "EventBridgeDestination",
    "PinpointDestination",
)
SNS_BATCH_SIZE = 10
# A publisher thread with nothing to do ends; the next send starts another.
_PUBLISHER_IDLE_SECONDS = 2.0


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SesBehaviour:
    """How the local SES account behaves. Change it with :func:`configure`.

    Defaults describe a healthy production account that never throttles, so pipelines work
    out of the box; tests switch on what they want to simulate.
    """

    #: ``SendQuota.MaxSendRate``: recipients per second.
    max_send_rate: float = 14.0
    #: ``SendQuota.Max24HourSend``: recipients per rolling 24 hours; entries past it get
    #: ``ACCOUNT_DAILY_QUOTA_EXCEEDED``.
    max_24_hour_send: float = 50_000.0
    #: False: ``SendBulkEmail`` fails with ``SendingPausedException``.
    sending_enabled: bool = True
    #: False: sandbox, every recipient must be a verified identity or a simulator address.
    production_access: bool = True
    #: ``GetAccount.EnforcementStatus``.
    enforcement_status: str = "HEALTHY"
    #: True: recipients beyond ``max_send_rate`` in the current 1-second window get
    #: ``ACCOUNT_THROTTLED`` (off by default, so slow test machines do not flake).
    enforce_send_rate: bool = False
    #: Share (0..1) of entries answered ``ACCOUNT_THROTTLED`` at random, seeded below.
    throttle_share: float = 0.0
    throttle_seed: int = 0
    #: Entries with a recipient for which this returns True get ``ACCOUNT_THROTTLED``.
    throttle_when: Callable[[str], bool] | None = None
    #: Entries with a recipient for which this returns True get ``MESSAGE_REJECTED``.
    reject_when: Callable[[str], bool] | None = None
    #: ``SuppressionAttributes.SuppressedReasons``: which suppression-list reasons drop mail.
    suppressed_reasons: tuple[str, ...] = SUPPRESSION_REASONS
    #: Time source (epoch seconds) for rate windows, quotas and timestamps.
    clock: Callable[[], float] = time.time
    #: False: no event records are published, whatever the configuration sets say.
    publish_events: bool = True
    #: Share (0..1) of delivered recipients that open / click, chosen by a hash of the
    #: address (see :mod:`campaign_local.ses_events`); a click implies an open.
    open_share: float = 0.0
    click_share: float = 0.0

    def __post_init__(self) -> None:
        for name in ("throttle_share", "open_share", "click_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.max_send_rate <= 0 or self.max_24_hour_send < 0:
            raise ValueError("max_send_rate must be > 0 and max_24_hour_send >= 0")
        unknown = set(self.suppressed_reasons) - set(SUPPRESSION_REASONS)
        if unknown:
            raise ValueError(f"unknown suppression reasons: {sorted(unknown)}")


@dataclass
class _Template:
    name: str
    content: dict[str, str]
    created: float
    tags: list[dict[str, str]]


@dataclass
class _Suppression:
    address: str
    reason: str
    updated: float


@dataclass
class _AccountState:
    """Everything this module keeps for one account and region."""

    behaviour: SesBehaviour = field(default_factory=SesBehaviour)
    lock: threading.RLock = field(default_factory=threading.RLock)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    templates: dict[str, _Template] = field(default_factory=dict)
    suppressed: dict[str, _Suppression] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    drops: list[dict[str, Any]] = field(default_factory=list)
    # (timestamp, recipients) of accepted entries, oldest first, for the rolling 24 hours.
    accepted: deque[tuple[float, int]] = field(default_factory=deque)
    window_second: int = -1
    window_recipients: int = 0
    pending_errors: deque[tuple[str, str]] = field(default_factory=deque)
    # Per-entry refusals by status, so tests can tell "paced under the limit" from "retried".
    refusals: Counter[str] = field(default_factory=Counter)
    # Configuration set name -> (moto's configuration set object, destinations by name). The
    # object tells a set deleted and created again (its old destinations are gone) from the same.
    event_destinations: dict[str, tuple[Any, dict[str, _EventDestination]]] = field(default_factory=dict)
    publisher: _Publisher = field(default_factory=lambda: _Publisher())

    def sent_last_24_hours(self, now: float) -> int:
        while self.accepted and self.accepted[0][0] <= now - _DAY_SECONDS:
            self.accepted.popleft()
        return sum(count for _, count in self.accepted)

    def recipients_this_second(self, now: float) -> int:
        return self.window_recipients if int(now) == self.window_second else 0

    def count_accepted(self, now: float, recipients: int) -> None:
        self.accepted.append((now, recipients))
        if int(now) != self.window_second:
            self.window_second, self.window_recipients = int(now), 0
        self.window_recipients += recipients


_state_creation_lock = threading.Lock()


def _state(account_id: str, region: str) -> _AccountState:
    # Hung on moto's backend instance: moto's reset clears the instance __dict__.
    backend = sesv2_backends[account_id][region]
    state = backend.__dict__.get(_STATE_ATTR)
    if state is None:
        with _state_creation_lock:
            state = backend.__dict__.get(_STATE_ATTR)
            if state is None:
                state = _AccountState()
                setattr(backend, _STATE_ATTR, state)
    return state


def configure(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION, **changes: Any) -> SesBehaviour:
    """Change fields of :class:`SesBehaviour` for one account and region; returns the result.

    Call it inside ``mock_aws()``: starting a mock resets moto's backends and this state.
    Setting ``throttle_share`` or ``throttle_seed`` reseeds the random throttle.
    """
    state = _state(account_id, region)
    with state.lock:
        state.behaviour = dataclasses.replace(state.behaviour, **changes)
        if {"throttle_share", "throttle_seed"} & changes.keys():
            state.rng = random.Random(state.behaviour.throttle_seed)
        return state.behaviour


def behaviour(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> SesBehaviour:
    """The current :class:`SesBehaviour` of one account and region."""
    return _state(account_id, region).behaviour


def reset(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> None:
    """Forget everything this module holds for the account and region: behaviour, templates,
    suppression list, outbox, counters, pending failures, event destinations and event records
    not yet published (the publisher thread stops). moto's identities stay."""
    backend = sesv2_backends[account_id][region]
    with _state_creation_lock:
        old = backend.__dict__.get(_STATE_ATTR)
        setattr(backend, _STATE_ATTR, _AccountState())
    if old is not None:
        old.publisher.stop()


def flush_events(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION, timeout: float = 30.0) -> None:
    """Wait until every event record queued so far is published (or failed: see
    :func:`event_publish_errors`). TimeoutError after ``timeout`` seconds."""
    _state(account_id, region).publisher.flush(timeout)


def published_events(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> list[dict[str, Any]]:
    """The event records published so far (a snapshot), in publish order; a record published
    to two topics is in it twice. Call :func:`flush_events` first."""
    return _state(account_id, region).publisher.published()


def event_publish_errors(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> int:
    """Event records that could not be published (missing topic, SNS error, ...)."""
    return _state(account_id, region).publisher.errors


def fail_next_send(
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
    *,
    code: str = "TooManyRequestsException",
    message: str | None = None,
    times: int = 1,
) -> None:
    """Make the next ``times`` SendBulkEmail calls fail with the error ``code``.

    ``code`` must be one of the errors botocore's model lists for SendBulkEmail, so the
    HTTP status is the model's.
    """
    allowed = _operation_errors("SendBulkEmail")
    if code not in allowed:
        raise ValueError(f"{code} is not a SendBulkEmail error; use one of {sorted(allowed)}")
    text = message or _DEFAULT_ERROR_MESSAGES.get(code, code)
    state = _state(account_id, region)
    with state.lock:
        state.pending_errors.extend([(code, text)] * times)


def sent_messages(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> list[dict[str, Any]]:
    """Messages SES accepted and rendered, in send order (a snapshot copy).

    Each is ``{"message_id", "from", "to", "cc", "bcc", "reply_to", "subject", "html",
    "text", "headers": {name: value}, "tags": {name: value}, "template", "template_data",
    "configuration_set", "timestamp"}``. Recipients on the suppression list are not in it.
    """
    state = _state(account_id, region)
    with state.lock:
        return [dict(message) for message in state.sent]


def rendering_failures(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> list[dict[str, Any]]:
    """Entries SES accepted (SUCCESS + MessageId) but could not render, as real SES reports
    later in a Rendering Failure event: ``{"message_id", "to", "cc", "bcc", "template",
    "error", "tags", "configuration_set", "timestamp"}``."""
    state = _state(account_id, region)
    with state.lock:
        return [dict(failure) for failure in state.failures]


def suppressed_drops(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> list[dict[str, Any]]:
    """Recipients SES accepted but dropped because they are on the account-level suppression
    list (real SES reports them as a Bounce): ``{"message_id", "address", "reason",
    "timestamp"}``."""
    state = _state(account_id, region)
    with state.lock:
        return [dict(drop) for drop in state.drops]


def refusal_counts(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> dict[str, int]:
    """Per-entry refusals so far, by status (ACCOUNT_THROTTLED, MESSAGE_REJECTED, ...)."""
    state = _state(account_id, region)
    with state.lock:
        return dict(state.refusals)


def clear_sent_messages(account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> None:
    """Empty the outbox: sent messages, rendering failures and suppressed drops."""
    state = _state(account_id, region)
    with state.lock:
        state.sent.clear()
        state.failures.clear()
        state.drops.clear()


# --------------------------------------------------------------------------- errors


_DEFAULT_ERROR_MESSAGES = {
    "TooManyRequestsException": "Maximum sending rate exceeded.",
    "LimitExceededException": "Limit exceeded.",
    "AccountSuspendedException": "Your account has been suspended.",
    "SendingPausedException": "Sending is paused for this account.",
    "MessageRejected": "Message rejected.",
    "MailFromDomainNotVerifiedException": "The MAIL FROM domain is not verified.",
    "NotFoundException": "Resource not found.",
    "BadRequestException": "Bad request.",
}


@functools.cache
def _operation_errors(operation: str) -> dict[str, int]:
    """Error code -> HTTP status, as botocore's model declares them for the operation."""
    operation_model = get_service_model("sesv2").operation_model(operation)
    return {
        shape.name: shape.metadata.get("error", {}).get("httpStatusCode", 400) for shape in operation_model.error_shapes
    }


@functools.cache
def _error_status(code: str) -> int:
    model = get_service_model("sesv2")
    return model.shape_for(code).metadata.get("error", {}).get("httpStatusCode", 400)


class _SesV2Error(JsonRESTError):
    """An SES v2 error with the HTTP status botocore's model gives its code."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(error_code, message)
        self.code = _error_status(error_code)


def _bad_request(message: str) -> _SesV2Error:
    return _SesV2Error("BadRequestException", message)


def _not_found(message: str) -> _SesV2Error:
    return _SesV2Error("NotFoundException", message)


# --------------------------------------------------------------------------- request helpers


def _body(response: SESV2Response) -> dict[str, Any]:
    raw = response.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw) if raw else {}


def _path_param(response: SESV2Response, name: str) -> str:
    return response.uri_match[name]


def _query_values(response: SESV2Response, name: str) -> list[str]:
    return list(response.querystring.get(name) or [])


def _query_value(response: SESV2Response, name: str) -> str | None:
    values = _query_values(response, name)
    return values[0] if values else None


def _page_size(response: SESV2Response, default: int, maximum: int) -> int:
    raw = _query_value(response, "PageSize")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise _bad_request("PageSize must be an integer.") from None
    if not 1 <= size <= maximum:
        raise _bad_request(f"PageSize must be between 1 and {maximum}.")
    return size


def _encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _decode_token(token: str | None) -> str | None:
    """The sort key after which the page starts; None for the first page.

    Raises ValueError for a token this module did not issue."""
    if not token:
        return None
    try:
        return str(json.loads(base64.urlsafe_b64decode(token.encode()))["after"])
    except (ValueError, KeyError, TypeError) as exc:  # binascii.Error is a ValueError
        raise ValueError("invalid token") from exc


def _page(keys: list[str], after: str | None, size: int) -> tuple[list[str], str | None]:
    """Keys (sorted) of one page, and the token of the next page if there is one."""
    start = 0 if after is None else next((i for i, k in enumerate(keys) if k > after), len(keys))
    chunk = keys[start : start + size]
    more = start + size < len(keys)
    return chunk, (_encode_token(chunk[-1]) if more and chunk else None)


def _parse_time(raw: str | None) -> float | None:
    """Query-string timestamps: botocore sends ISO 8601, other clients may send epoch."""
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad_request(f"Invalid timestamp: {raw}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


def _message_id(now: float) -> str:
    # Shaped like SES v2 message ids: time-ordered hex prefix, uuid, sequence suffix.
    return f"{int(now * 1000):016x}-{uuid.uuid4()}-000000"


def _address_of(value: str) -> str:
    return parseaddr(value)[1]


# --------------------------------------------------------------------------- rendering


class _RenderingError(Exception):
    """A template could not be rendered; the message is the one SES uses."""


class _Missing:
    """What a lookup of an absent (or null) attribute yields while rendering.

    Falsy and empty, so ``{{#if}}``, ``{{#unless}}`` and ``{{#each}}`` treat it as Handlebars
    treats undefined; turning it into text (``{{x}}``, ``{{{x}}}``) fails the rendering,
    which is what SES does for a referenced attribute that is not in the data.
    """

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        self._path = path

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __getitem__(self, key: object) -> _Missing:
        return _Missing(f"{self._path}.{key}")

    def __str__(self) -> str:
        raise _RenderingError(f"Attribute '{self._path}' is not present in the rendering data.")


class _RenderData:
    """A JSON object as pybars sees it: absent keys give :class:`_Missing` instead of None.

    Lookups never raise KeyError, so pybars never falls back to ``getattr`` (where dict methods
    such as ``items`` or ``values`` would pose as template variables); no dict subclass either,
    for the same reason. ``prefix`` is the object's dotted path from the data root, so ``{{user.first}}`` reports
    ``user.first``; objects inside lists start afresh, as ``{{#each}}`` bodies name them.
    """

    __slots__ = ("_prefix", "_values")

    def __init__(self, values: dict[str, Any], prefix: str = "") -> None:
        self._prefix = prefix
        self._values = {key: _to_render_data(value, f"{prefix}{key}.") for key, value in values.items()}

    def __getitem__(self, key: str) -> Any:
        value = self._values.get(key)
        return _Missing(f"{self._prefix}{key}") if value is None else value

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> Any:  # pybars iterates objects in {{#each}} when they have keys()
        return self._values.keys()

    def __str__(self) -> str:
        return "[object Object]"  # what Handlebars prints for an object


def _to_render_data(value: Any, prefix: str = "") -> Any:
    if isinstance(value, dict):
        return _RenderData(value, prefix)
    if isinstance(value, list):
        return [_to_render_data(item) for item in value]
    return value


_compile_lock = threading.Lock()


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Callable[..., str]:
    # pybars' compiler keeps its code builder in shared class state: compile one at a time.
    with _compile_lock:
        return pybars.Compiler().compile(source)


def _render_part(source: str, data: _RenderData) -> str:
    try:
        return str(_compiled(source)(data))
    except _RenderingError:
        raise
    except Exception as exc:  # pybars syntax errors and helper failures
        raise _RenderingError(f"Template rendering failed: {exc}") from exc


def _render_content(content: dict[str, str], data: dict[str, Any]) -> dict[str, str]:
    """Render Subject, Html and Text with Handlebars semantics, as SES does for all three."""
    wrapped = _RenderData(data)
    return {part: _render_part(source, wrapped) for part, source in content.items()}


def _parse_template_data(raw: str | None) -> dict[str, Any]:
    if raw is None or raw.strip() == "":
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("template data must be a JSON object")
    return data


def _mime(rendered: dict[str, str], now: float) -> str:
    """The rendered template as the MIME message TestRenderEmailTemplate returns."""
    message = EmailMessage()
    message["Date"] = formatdate(now, usegmt=True)
    message["Subject"] = rendered.get("Subject", "")
    text, html = rendered.get("Text"), rendered.get("Html")
    if text is not None:
        message.set_content(text)
    if html is not None and text is None:
        message.set_content(html, subtype="html")
    elif html is not None:
        message.add_alternative(html, subtype="html")
        for part in message.iter_parts():
            del part["MIME-Version"]  # the email package repeats it on the added part
    return message.as_string()


# --------------------------------------------------------------------------- templates


def _template_content(raw: Any) -> dict[str, str]:
    # The model makes every part optional and so does this: no stricter than SES.
    if not isinstance(raw, dict):
        raise _bad_request("TemplateContent is required.")
    return {part: raw[part] for part in ("Subject", "Html", "Text") if raw.get(part) is not None}


def _valid_template_name(name: Any) -> str:
    if not isinstance(name, str) or not _TEMPLATE_NAME.match(name):
        raise _bad_request("TemplateName must be 1-64 letters, digits, underscores or dashes.")
    return name


def _stored_template(state: _AccountState, name: str) -> _Template:
    template = state.templates.get(name)
    if template is None:
        raise _not_found(f"Template {name} does not exist.")
    return template


def _create_email_template(self: SESV2Response) -> str:
    params = _body(self)
    name = _valid_template_name(params.get("TemplateName"))
    content = _template_content(params.get("TemplateContent"))
    state = _state(self.current_account, self.region)
    with state.lock:
        if name in state.templates:
            raise _SesV2Error("AlreadyExistsException", f"Template {name} already exists.")
        state.templates[name] = _Template(name, content, state.behaviour.clock(), list(params.get("Tags") or []))
    return "{}"


def _get_email_template(self: SESV2Response) -> str:
    state = _state(self.current_account, self.region)
    with state.lock:
        template = _stored_template(state, _path_param(self, "TemplateName"))
        result: dict[str, Any] = {
            "TemplateName": template.name,
            "TemplateContent": dict(template.content),
        }
        if template.tags:
            result["Tags"] = list(template.tags)
    return json.dumps(result)


def _update_email_template(self: SESV2Response) -> str:
    content = _template_content(_body(self).get("TemplateContent"))
    state = _state(self.current_account, self.region)
    with state.lock:
        _stored_template(state, _path_param(self, "TemplateName")).content = content
    return "{}"


def _delete_email_template(self: SESV2Response) -> str:
    state = _state(self.current_account, self.region)
    with state.lock:
        template = _stored_template(state, _path_param(self, "TemplateName"))
        del state.templates[template.name]
    return "{}"


def _list_email_templates(self: SESV2Response) -> str:
    size = _page_size(self, _DEFAULT_PAGE_SIZE["templates"], 100)
    try:
        after = _decode_token(_query_value(self, "NextToken"))
    except ValueError:
        raise _bad_request("Invalid NextToken.") from None
    state = _state(self.current_account, self.region)
    with state.lock:
        names, next_token = _page(sorted(state.templates), after, size)
        metadata = [{"TemplateName": name, "CreatedTimestamp": state.templates[name].created} for name in names]
    result: dict[str, Any] = {"TemplatesMetadata": metadata}
    if next_token:
        result["NextToken"] = next_token
    return json.dumps(result)


def _test_render_email_template(self: SESV2Response) -> str:
    state = _state(self.current_account, self.region)
    with state.lock:
        content = dict(_stored_template(state, _path_param(self, "TemplateName")).content)
        now = state.behaviour.clock()
    try:
        data = _parse_template_data(_body(self).get("TemplateData"))
    except ValueError as exc:
        raise _bad_request(f"Invalid TemplateData: {exc}") from None
    try:
        rendered = _render_content(content, data)
    except _RenderingError as exc:
        raise _bad_request(str(exc)) from None
    return json.dumps({"RenderedTemplate": _mime(rendered, now)})


# --------------------------------------------------------------------------- account


def _get_account(self: SESV2Response) -> str:
    state = _state(self.current_account, self.region)
    with state.lock:
        current = state.behaviour
        sent = state.sent_last_24_hours(current.clock())
    result: dict[str, Any] = {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": current.enforcement_status,
        "ProductionAccessEnabled": current.production_access,
        "SendQuota": {
            "Max24HourSend": float(current.max_24_hour_send),
            "MaxSendRate": float(current.max_send_rate),
            "SentLast24Hours": float(sent),
        },
        "SendingEnabled": current.sending_enabled,
        "SuppressionAttributes": {"SuppressedReasons": list(current.suppressed_reasons)},
    }
    if current.production_access:
        # Only accounts that asked for production access have Details.
        result["Details"] = {
            "MailType": "MARKETING",
            "WebsiteURL": "https://example.com",
            "ContactLanguage": "EN",
            "UseCaseDescription": "Local campaign engine stack.",
            "AdditionalContactEmailAddresses": [],
            "ReviewDetails": {"Status": "GRANTED", "CaseId": "local-stack"},
        }
    return json.dumps(result)


# --------------------------------------------------------------------------- suppression list


def _suppression_key(address: str) -> str:
    return address.strip().lower()


def _put_suppressed_destination(self: SESV2Response) -> str:
    params = _body(self)
    address, reason = params.get("EmailAddress"), params.get("Reason")
    if not isinstance(address, str) or not _ADDRESS.match(address.strip()):
        raise _bad_request("Invalid EmailAddress.")
    if reason not in SUPPRESSION_REASONS:
        raise _bad_request(f"Reason must be one of {', '.join(SUPPRESSION_REASONS)}.")
    state = _state(self.current_account, self.region)
    with state.lock:
        state.suppressed[_suppression_key(address)] = _Suppression(address.strip(), reason, state.behaviour.clock())
    return "{}"


def _suppressed(state: _AccountState, address: str) -> _Suppression:
    entry = state.suppressed.get(_suppression_key(address))
    if entry is None:
        raise _not_found(f"Email address {address} does not exist on your suppression list.")
    return entry


def _get_suppressed_destination(self: SESV2Response) -> str:
    state = _state(self.current_account, self.region)
    with state.lock:
        entry = _suppressed(state, _path_param(self, "EmailAddress"))
    destination = {
        "EmailAddress": entry.address,
        "Reason": entry.reason,
        "LastUpdateTime": entry.updated,
    }
    return json.dumps({"SuppressedDestination": destination})


def _delete_suppressed_destination(self: SESV2Response) -> str:
    state = _state(self.current_account, self.region)
    with state.lock:
        entry = _suppressed(state, _path_param(self, "EmailAddress"))
        del state.suppressed[_suppression_key(entry.address)]
    return "{}"


def _list_suppressed_destinations(self: SESV2Response) -> str:
    reasons = set(_query_values(self, "Reason")) or set(SUPPRESSION_REASONS)
    start = _parse_time(_query_value(self, "StartDate"))
    end = _parse_time(_query_value(self, "EndDate"))
    size = _page_size(self, _DEFAULT_PAGE_SIZE["suppression"], 1000)
    try:
        after = _decode_token(_query_value(self, "NextToken"))
    except ValueError:
        raise _SesV2Error("InvalidNextTokenException", "The NextToken is invalid.") from None
    state = _state(self.current_account, self.region)
    with state.lock:
        matching = {
            key: entry
            for key, entry in state.suppressed.items()
            if entry.reason in reasons
            and (start is None or entry.updated >= start)
            and (end is None or entry.updated <= end)
        }
    keys, next_token = _page(sorted(matching), after, size)
    summaries = [
        {
            "EmailAddress": matching[key].address,
            "Reason": matching[key].reason,
            "LastUpdateTime": matching[key].updated,
        }
        for key in keys
    ]
    result: dict[str, Any] = {"SuppressedDestinationSummaries": summaries}
    if next_token:
        result["NextToken"] = next_token
    return json.dumps(result)


# --------------------------------------------------------------------------- event destinations


@dataclass
class _EventDestination:
    name: str
    enabled: bool
    matching: list[str]  # SES v2 EventType values
    targets: dict[str, Any]  # the one destination member (SnsDestination, ...) as given

    def describe(self) -> dict[str, Any]:
        return {"Name": self.name, "Enabled": self.enabled, "MatchingEventTypes": list(self.matching), **self.targets}


def _destinations(state: _AccountState, config_set: Any, name: str) -> dict[str, _EventDestination]:
    """The event destinations of the configuration set ``name`` (moto's ``config_set``)."""
    held = state.event_destinations.get(name)
    if held is None or held[0] is not config_set:
        held = (config_set, {})
        state.event_destinations[name] = held
    return held[1]


def _event_destination(raw: Any) -> tuple[bool, list[str], dict[str, Any]]:
    """Enabled, MatchingEventTypes (v2 names) and the destination member of a request's
    ``EventDestination``; BadRequestException when SES would refuse it."""
    if not isinstance(raw, dict):
        raise _bad_request("EventDestination is required.")
    types = raw.get("MatchingEventTypes")
    if not isinstance(types, list) or not types:
        raise _bad_request("MatchingEventTypes must list at least one event type.")
    try:
        # CloudFormation and SES v1 spell them send, renderingFailure, ...: accepted too.
        matching = list(dict.fromkeys(ses_events.api_event_type(str(name)) for name in types))
    except ValueError as exc:
        raise _bad_request(f"Invalid MatchingEventTypes: {exc}") from None
    targets = {member: raw[member] for member in _DESTINATION_MEMBERS if raw.get(member) is not None}
    if len(targets) != 1:
        raise _bad_request(f"Specify exactly one of {', '.join(_DESTINATION_MEMBERS)}.")
    sns = targets.get("SnsDestination")
    if sns is not None and not (isinstance(sns, dict) and isinstance(sns.get("TopicArn"), str)):
        raise _bad_request("SnsDestination.TopicArn is required.")
    enabled = raw.get("Enabled", False)  # AWS's default
    if not isinstance(enabled, bool):
        raise _bad_request("Enabled must be a boolean.")
    return enabled, matching, targets


def _create_configuration_set_event_destination(self: SESV2Response) -> str:
    params = _body(self)
    set_name = _path_param(self, "ConfigurationSetName")
    name = params.get("EventDestinationName")
    if not isinstance(name, str) or not _EVENT_DESTINATION_NAME.match(name):
        raise _bad_request("EventDestinationName must be 1-64 letters, digits, underscores or dashes.")
    enabled, matching, targets = _event_destination(params.get("EventDestination"))
    state = _state(self.current_account, self.region)
    core = ses_backends[self.current_account][self.region]
    with state.lock:
        destinations = _destinations(state, _configuration_set(core, set_name), set_name)
        if name in destinations:
            raise _SesV2Error("AlreadyExistsException", f"Event destination {name} already exists.")
        if len(destinations) >= MAX_EVENT_DESTINATIONS:
            raise _SesV2Error(
                "LimitExceededException",
                f"A configuration set can have at most {MAX_EVENT_DESTINATIONS} event destinations.",
            )
        destinations[name] = _EventDestination(name, enabled, matching, targets)
    return "{}"


def _get_configuration_set_event_destinations(self: SESV2Response) -> str:
    set_name = _path_param(self, "ConfigurationSetName")
    state = _state(self.current_account, self.region)
    core = ses_backends[self.current_account][self.region]
    with state.lock:
        destinations = _destinations(state, _configuration_set(core, set_name), set_name)
        described = [destination.describe() for destination in destinations.values()]
    return json.dumps({"EventDestinations": described})


def _stored_destination(self: SESV2Response, state: _AccountState) -> tuple[dict[str, _EventDestination], str]:
    set_name = _path_param(self, "ConfigurationSetName")
    name = _path_param(self, "EventDestinationName")
    core = ses_backends[self.current_account][self.region]
    destinations = _destinations(state, _configuration_set(core, set_name), set_name)
    if name not in destinations:
        raise _not_found(f"Event destination {name} does not exist.")
    return destinations, name


def _update_configuration_set_event_destination(self: SESV2Response) -> str:
    # The request's definition replaces the destination's, as in SES.
    enabled, matching, targets = _event_destination(_body(self).get("EventDestination"))
    state = _state(self.current_account, self.region)
    with state.lock:
        destinations, name = _stored_destination(self, state)
        destinations[name] = _EventDestination(name, enabled, matching, targets)
    return "{}"


def _delete_configuration_set_event_destination(self: SESV2Response) -> str:
    state = _state(self.current_account, self.region)
    with state.lock:
        destinations, name = _stored_destination(self, state)
        del destinations[name]
    return "{}"


def _sns_targets(state: _AccountState, config_set: Any, name: str | None) -> list[tuple[str, frozenset[str]]]:
    """(topic ARN, event types) of the configuration set's enabled SNS destinations."""
    if name is None or not state.behaviour.publish_events:
        return []
    return [
        (destination.targets["SnsDestination"]["TopicArn"], frozenset(destination.matching))
        for destination in _destinations(state, config_set, name).values()
        if destination.enabled and "SnsDestination" in destination.targets
    ]


# --------------------------------------------------------------------------- event publishing


@dataclass
class _Accepted:
    """An entry SES accepted, as the event records need it."""

    message: dict[str, Any]  # shaped like a sent_messages() item, with every recipient
    dropped: list[str]  # recipients the suppression list dropped
    error: str | None  # rendering error


@dataclass
class _PublishJob:
    account_id: str
    region: str
    targets: list[tuple[str, frozenset[str]]]
    accepted: list[_Accepted]
    source_identity: str | None
    open_share: float
    click_share: float

    def records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for item in self.accepted:
            message = ses_events.Message.from_sent(item.message, self.account_id, self.region)
            message = dataclasses.replace(message, source_identity=self.source_identity)
            records += ses_events.event_records(
                message,
                open_share=self.open_share,
                click_share=self.click_share,
                suppressed=item.dropped,
                rendering_error=item.error,
            )
        return records


class _MockNotActive(RuntimeError):
    """Raised instead of sending a request to real AWS once moto's mock has stopped."""


def _refuse_unmocked(**_: Any) -> None:
    # Registered after moto's stubber, so only reached when the stubber did not answer.
    if not botocore_stubber.enabled:
        raise _MockNotActive("moto's mock is not active; the local SES does not call AWS")


class _Publisher:
    """One background thread that publishes queued jobs' records to SNS, for one account state.

    ``enqueued`` and ``finished`` count jobs, so :meth:`flush` can wait for those queued
    before it was called while later sends keep queueing."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._jobs: deque[_PublishJob] = deque()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._enqueued = 0
        self._finished = 0
        self._published: list[dict[str, Any]] = []
        self._errors = 0
        self._clients: dict[tuple[str, str], Any] = {}

    @property
    def errors(self) -> int:
        with self._cond:
            return self._errors

    def published(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._published)

    def submit(self, job: _PublishJob) -> None:
        with self._cond:
            if self._stopped:
                return
            self._jobs.append(job)
            self._enqueued += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="local-ses-events", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._enqueued
            while self._finished < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{target - self._finished} event publishing jobs still pending")
                self._cond.wait(remaining)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._finished += len(self._jobs)  # dropped: nobody will wait for them
            self._jobs.clear()
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopped:
                    if not self._cond.wait(_PUBLISHER_IDLE_SECONDS) and not self._jobs:
                        break
                if not self._jobs:
                    self._thread = None  # decided under the lock: submit() starts a new one
                    return
                job = self._jobs.popleft()
            try:
                self._publish(job)
            except Exception as exc:  # a bug here must not stop later jobs
                logger.error("local SES: building event records failed: %s", type(exc).__name__)
                with self._cond:
                    self._errors += 1
            finally:
                with self._cond:
                    self._finished += 1
                    self._cond.notify_all()

    def _client(self, account_id: str, region: str) -> Any:
        key = (account_id, region)
        if key not in self._clients:
            client = boto3.session.Session().client("sns", region_name=region)

            def account_header(params: dict[str, Any], **_: Any) -> None:
                params["headers"]["x-moto-account-id"] = account_id

            client.meta.events.register("before-call.sns", account_header)
            client.meta.events.register("before-send.sns", _refuse_unmocked)
            self._clients[key] = client
        return self._clients[key]

    def _publish(self, job: _PublishJob) -> None:
        records = job.records()
        client = self._client(job.account_id, job.region)
        for topic_arn, types in job.targets:
            chosen = [r for r in records if ses_events.EVENT_TYPES[r["eventType"]] in types]
            for start in range(0, len(chosen), SNS_BATCH_SIZE):
                self._publish_batch(client, topic_arn, chosen[start : start + SNS_BATCH_SIZE])

    def _publish_batch(self, client: Any, topic_arn: str, records: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(i), "Message": json.dumps(record)} for i, record in enumerate(records)]
        try:
            response = client.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
        except Exception as exc:
            # The code only: an SNS message could quote the record, and so an address.
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            logger.warning("local SES: publishing %d event records to %s failed: %s", len(records), topic_arn, code)
            with self._cond:
                self._errors += len(records)
            return
        published = {item["Id"] for item in response.get("Successful", [])}
        failed = len(records) - len(published)
        if failed:
            codes = sorted({item.get("Code", "?") for item in response.get("Failed", [])})
            logger.warning("local SES: %d event records to %s not published: %s", failed, topic_arn, codes)
        with self._cond:
            self._published += [
                record for entry, record in zip(entries, records, strict=True) if entry["Id"] in published
            ]
            self._errors += failed


# --------------------------------------------------------------------------- SendBulkEmail


@dataclass
class _Entry:
    to: list[str]
    cc: list[str]
    bcc: list[str]
    tags: dict[str, str]
    headers: dict[str, str]
    replacement_data: str | None

    @property
    def recipients(self) -> list[str]:
        return self.to + self.cc + self.bcc


@dataclass
class _BulkRequest:
    sender: str
    reply_to: list[str]
    template_name: str | None
    inline_content: dict[str, str] | None
    default_data: str | None
    configuration_set: str | None
    entries: list[_Entry]


def _name_value_map(items: list[dict[str, str]] | None, base: dict[str, str]) -> dict[str, str]:
    """Merge Name/Value pairs over ``base``; a later name replaces an earlier one (headers
    match case-insensitively, as mail headers do)."""
    merged = dict(base)
    for item in items or []:
        existing = next((k for k in merged if k.lower() == item["Name"].lower()), None)
        if existing is not None:
            del merged[existing]
        merged[item["Name"]] = item["Value"]
    return merged


def _template_name_from_arn(arn: str) -> str:
    # arn:aws:ses:<region>:<account>:template/<name>
    _, _, name = arn.partition(":template/")
    if not name:
        raise _bad_request(f"Invalid TemplateArn: {arn}")
    return name


def _parse_entry(raw: dict[str, Any], default_tags: dict[str, str], default_headers: dict[str, str]) -> _Entry:
    destination = raw.get("Destination") or {}
    replacement = (raw.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {}
    entry = _Entry(
        to=list(destination.get("ToAddresses") or []),
        cc=list(destination.get("CcAddresses") or []),
        bcc=list(destination.get("BccAddresses") or []),
        tags=_name_value_map(raw.get("ReplacementTags"), default_tags),
        headers=_name_value_map(raw.get("ReplacementHeaders"), default_headers),
        replacement_data=replacement.get("ReplacementTemplateData"),
    )
    if not entry.recipients:
        raise _bad_request("Each BulkEmailEntry needs at least one destination address.")
    if len(entry.recipients) > MAX_RECIPIENTS_PER_ENTRY:
        raise _bad_request(f"A BulkEmailEntry can have at most {MAX_RECIPIENTS_PER_ENTRY} recipients.")
    if len(raw.get("ReplacementHeaders") or []) > MAX_HEADERS:
        raise _bad_request(f"At most {MAX_HEADERS} ReplacementHeaders are allowed.")
    return entry


def _parse_bulk_request(params: dict[str, Any]) -> _BulkRequest:
    template = (params.get("DefaultContent") or {}).get("Template")
    if not isinstance(template, dict):
        raise _bad_request("DefaultContent.Template is required.")
    raw_entries = params.get("BulkEmailEntries") or []
    if not raw_entries:
        raise _bad_request("BulkEmailEntries must contain at least one entry.")
    if len(raw_entries) > MAX_BULK_ENTRIES:
        raise _bad_request(f"Too many bulk email entries: {len(raw_entries)}; the maximum is {MAX_BULK_ENTRIES}.")
    sender = params.get("FromEmailAddress")
    if not sender:
        raise _bad_request("FromEmailAddress is required.")
    name = template.get("TemplateName")
    if name is None and template.get("TemplateArn"):
        name = _template_name_from_arn(template["TemplateArn"])
    inline = template.get("TemplateContent")
    if (name is None) == (inline is None):
        raise _bad_request("Specify exactly one of TemplateName, TemplateArn or TemplateContent.")
    default_tags = _name_value_map(params.get("DefaultEmailTags"), {})
    default_headers = _name_value_map(template.get("Headers"), {})
    return _BulkRequest(
        sender=sender,
        reply_to=list(params.get("ReplyToAddresses") or []),
        template_name=name,
        inline_content=_template_content(inline) if inline is not None else None,
        default_data=template.get("TemplateData"),
        configuration_set=params.get("ConfigurationSetName"),
        entries=[_parse_entry(raw, default_tags, default_headers) for raw in raw_entries],
    )


def _not_verified(region: str, identities: list[str]) -> _SesV2Error:
    # SES's wording, region in capitals; the addresses are the caller's own input.
    return _SesV2Error(
        "MessageRejected",
        "Email address is not verified. The following identities failed the check in region "
        f"{region.upper()}: {', '.join(identities)}",
    )


def _check_sender(core: Any, request: _BulkRequest, region: str) -> None:
    # moto's SES backend holds the identities created through sesv2 (or verified via v1).
    if not core._is_verified_address(request.sender):
        raise _not_verified(region, [_address_of(request.sender)])


def _check_sandbox(core: Any, request: _BulkRequest, region: str) -> None:
    failed: list[str] = []
    for entry in request.entries:
        for recipient in entry.recipients:
            address = _address_of(recipient)
            on_simulator = address.lower().endswith("@" + SIMULATOR_DOMAIN)
            if not on_simulator and not core._is_verified_address(address) and address not in failed:
                failed.append(address)
    if failed:
        raise _not_verified(region, failed)


def _configuration_set(core: Any, name: str | None) -> Any:
    if name is None:
        return None
    config_set = core.config_sets.get(name)
    if config_set is None:
        raise _not_found(f"Configuration set {name} does not exist.")
    return config_set


def _check_account_sending(current: SesBehaviour) -> None:
    if not current.sending_enabled:
        raise _SesV2Error("SendingPausedException", "Sending is paused for this account.")


def _check_configuration_set_sending(config_set: Any) -> None:
    # moto keeps sesv2 SendingOptions in the attribute v1 calls `enabled`.
    options = getattr(config_set, "enabled", None)
    enabled = options.get("SendingEnabled") if isinstance(options, dict) else options
    if enabled is False:
        raise _SesV2Error("SendingPausedException", "Sending is paused for this configuration set.")


def _suppressed_reasons(current: SesBehaviour, config_set: Any) -> set[str]:
    # A configuration set's SuppressionOptions override the account's reasons.
    options = getattr(config_set, "suppression_options", None) or {}
    reasons = options.get("SuppressedReasons")
    return set(current.suppressed_reasons if reasons is None else reasons)


def _entry_data(request: _BulkRequest, entry: _Entry) -> dict[str, Any]:
    """The data an entry renders with. Per the SES developer guide the default TemplateData
    is a whole-object fallback, used when the entry's replacement data is absent or ``{}``;
    it is not merged key by key."""
    replacement = _parse_template_data(entry.replacement_data)
    return replacement if replacement else _parse_template_data(request.default_data)


def _refusal(state: _AccountState, entry: _Entry, now: float) -> tuple[str, str] | None:
    """Why SES would not accept this entry, as (Status, Error); None when it is accepted."""
    refused = _why_refused(state, entry, now)
    if refused is not None:
        state.refusals[refused[0]] += 1
    return refused


def _why_refused(state: _AccountState, entry: _Entry, now: float) -> tuple[str, str] | None:
    current = state.behaviour
    addresses = [_address_of(recipient) for recipient in entry.recipients]
    if not all(_ADDRESS.match(address) for address in addresses):
        return "MESSAGE_REJECTED", "Illegal address"
    if current.reject_when and any(current.reject_when(address) for address in addresses):
        return "MESSAGE_REJECTED", "Message rejected."
    count = len(addresses)
    if state.sent_last_24_hours(now) + count > current.max_24_hour_send:
        return "ACCOUNT_DAILY_QUOTA_EXCEEDED", "Daily message quota exceeded."
    if current.enforce_send_rate and state.recipients_this_second(now) + count > current.max_send_rate:
        return "ACCOUNT_THROTTLED", "Maximum sending rate exceeded."
    if current.throttle_when and any(current.throttle_when(address) for address in addresses):
        return "ACCOUNT_THROTTLED", "Maximum sending rate exceeded."
    if current.throttle_share and state.rng.random() < current.throttle_share:
        return "ACCOUNT_THROTTLED", "Maximum sending rate exceeded."
    return None


@dataclass
class _SendContext:
    request: _BulkRequest
    content: dict[str, str]
    configuration_set: str | None
    suppressed_reasons: set[str]
    # Entries to publish event records for; None when no destination would receive them.
    accepted: list[_Accepted] | None = None


def _without_suppressed(
    state: _AccountState, ctx: _SendContext, entry: _Entry, common: dict[str, Any]
) -> dict[str, list[str]]:
    """The entry's recipients SES would still deliver to; the others are recorded as drops
    (real SES accepts them and reports a bounce)."""
    kept: dict[str, list[str]] = {"to": [], "cc": [], "bcc": []}
    for kind, recipients in (("to", entry.to), ("cc", entry.cc), ("bcc", entry.bcc)):
        for recipient in recipients:
            hit = state.suppressed.get(_suppression_key(_address_of(recipient)))
            if hit is None or hit.reason not in ctx.suppressed_reasons:
                kept[kind].append(recipient)
                continue
            state.drops.append(
                {
                    "message_id": common["message_id"],
                    "address": recipient,
                    "reason": hit.reason,
                    "timestamp": common["timestamp"],
                }
            )
    return kept


def _deliver(
    state: _AccountState, ctx: _SendContext, entry: _Entry, data: dict[str, Any], common: dict[str, Any]
) -> None:
    """What SES does after accepting an entry: render it (a failure is only recorded, as SES
    only reports it later in a Rendering Failure event), drop suppressed recipients, and put
    the message in the outbox."""
    recipients = {"to": entry.to, "cc": entry.cc, "bcc": entry.bcc}
    try:
        rendered = _render_content(ctx.content, data)
    except _RenderingError as exc:
        state.failures.append({**common, **recipients, "error": str(exc)})
        _note_accepted(ctx, entry, common, None, [], str(exc))
        return
    drops_before = len(state.drops)
    kept = _without_suppressed(state, ctx, entry, common)
    dropped = [drop["address"] for drop in state.drops[drops_before:]]
    _note_accepted(ctx, entry, common, rendered, dropped, None)
    if not any(kept.values()):
        return
    state.sent.append(
        {
            **common,
            **kept,
            "from": ctx.request.sender,
            "reply_to": list(ctx.request.reply_to),
            "subject": rendered.get("Subject", ""),
            "html": rendered.get("Html"),
            "text": rendered.get("Text"),
            "headers": dict(entry.headers),
            "template_data": data,
        }
    )


def _note_accepted(
    ctx: _SendContext,
    entry: _Entry,
    common: dict[str, Any],
    rendered: dict[str, str] | None,
    dropped: list[str],
    error: str | None,
) -> None:
    if ctx.accepted is None:
        return
    message = {
        **common,
        "to": list(entry.to),
        "cc": list(entry.cc),
        "bcc": list(entry.bcc),
        "from": ctx.request.sender,
        "reply_to": list(ctx.request.reply_to),
        "subject": rendered.get("Subject", "") if rendered is not None else None,
        "html": rendered.get("Html") if rendered is not None else None,
        "headers": dict(entry.headers),
    }
    ctx.accepted.append(_Accepted(message, dropped, error))


def _send_entry(state: _AccountState, ctx: _SendContext, entry: _Entry) -> dict[str, str]:
    try:
        data = _entry_data(ctx.request, entry)
    except ValueError as exc:
        return {"Status": "INVALID_PARAMETER", "Error": f"Invalid template data: {exc}"}
    now = state.behaviour.clock()
    refusal = _refusal(state, entry, now)
    if refusal is not None:
        return {"Status": refusal[0], "Error": refusal[1]}
    state.count_accepted(now, len(entry.recipients))
    message_id = _message_id(now)
    common = {
        "message_id": message_id,
        "template": ctx.request.template_name,
        "tags": dict(entry.tags),
        "configuration_set": ctx.configuration_set,
        "timestamp": _iso(now),
    }
    _deliver(state, ctx, entry, data, common)
    return {"Status": "SUCCESS", "MessageId": message_id}


def _raise_pending_error(state: _AccountState) -> None:
    with state.lock:
        pending = state.pending_errors.popleft() if state.pending_errors else None
    if pending is not None:
        raise _SesV2Error(*pending)


def _content_to_send(state: _AccountState, request: _BulkRequest) -> dict[str, str]:
    if request.inline_content is not None:
        return request.inline_content
    return dict(_stored_template(state, str(request.template_name)).content)


def _send_bulk_email(self: SESV2Response) -> str:
    account, region = self.current_account, self.region
    state = _state(account, region)
    _raise_pending_error(state)
    request = _parse_bulk_request(_body(self))
    core = ses_backends[account][region]
    with state.lock:
        current = state.behaviour
        _check_account_sending(current)
        config_set = _configuration_set(core, request.configuration_set)
        _check_configuration_set_sending(config_set)
        _check_sender(core, request, region)
        content = _content_to_send(state, request)
        if not current.production_access:
            _check_sandbox(core, request, region)
        reasons = _suppressed_reasons(current, config_set)
        targets = _sns_targets(state, config_set, request.configuration_set)
        ctx = _SendContext(request, content, request.configuration_set, reasons, [] if targets else None)
        results = [_send_entry(state, ctx, entry) for entry in request.entries]
    if ctx.accepted:
        # Outside the lock: only queued here, built and published by the publisher thread.
        job = _PublishJob(
            account,
            region,
            targets,
            ctx.accepted,
            _source_identity(core, request.sender),
            current.open_share,
            current.click_share,
        )
        state.publisher.submit(job)
    _log_outcome(results)
    return json.dumps({"BulkEmailEntryResults": results})


def _source_identity(core: Any, sender: str) -> str:
    # The identity that authorised the sender: the address itself if verified, else its domain.
    address = _address_of(sender)
    return address if address in core.email_identities else address.rpartition("@")[2]


def _log_outcome(results: list[dict[str, str]]) -> None:
    # Counts only: recipient addresses never go to the log.
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result["Status"]] = statuses.get(result["Status"], 0) + 1
    logger.debug("local SendBulkEmail: %d entries, statuses %s", len(results), statuses)


# --------------------------------------------------------------------------- installation


_OPERATIONS: dict[str, Callable[[SESV2Response], str]] = {
    "create_email_template": _create_email_template,
    "get_email_template": _get_email_template,
    "update_email_template": _update_email_template,
    "delete_email_template": _delete_email_template,
    "list_email_templates": _list_email_templates,
    "test_render_email_template": _test_render_email_template,
    "send_bulk_email": _send_bulk_email,
    "get_account": _get_account,
    "put_suppressed_destination": _put_suppressed_destination,
    "get_suppressed_destination": _get_suppressed_destination,
    "delete_suppressed_destination": _delete_suppressed_destination,
    "list_suppressed_destinations": _list_suppressed_destinations,
    "create_configuration_set_event_destination": _create_configuration_set_event_destination,
    "get_configuration_set_event_destinations": _get_configuration_set_event_destinations,
    "update_configuration_set_event_destination": _update_configuration_set_event_destination,
    "delete_configuration_set_event_destination": _delete_configuration_set_event_destination,
}
_replaced: dict[str, Any] = {}
_install_lock = threading.Lock()


def install() -> None:
    """Attach the operations to moto's ``SESV2Response``. Idempotent.

    If a newer moto already implements one of them, ours replaces it (with a warning), so the
    local stack keeps the behaviour its tests describe; :func:`uninstall` puts moto's back.
    """
    with _install_lock:
        for name, handler in _OPERATIONS.items():
            current = SESV2Response.__dict__.get(name)
            if current is handler:
                continue
            if current is not None:
                warnings.warn(
                    f"moto already implements sesv2 {name}; campaign_local replaces it",
                    stacklevel=2,
                )
                _replaced[name] = current
            setattr(SESV2Response, name, handler)


def uninstall() -> None:
    """Remove the operations from ``SESV2Response`` (restoring any moto had)."""
    with _install_lock:
        for name, handler in _OPERATIONS.items():
            if SESV2Response.__dict__.get(name) is handler:
                delattr(SESV2Response, name)
            if name in _replaced:
                setattr(SESV2Response, name, _replaced.pop(name))


def is_installed() -> bool:
    """True when every operation of this module answers SES v2 requests."""
    return all(SESV2Response.__dict__.get(name) is handler for name, handler in _OPERATIONS.items())
