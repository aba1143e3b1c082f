"""SES v2 operations that moto 5.2.5 lacks, so the pipeline's boto3 calls run unchanged locally.

moto routes every ``/v2/...`` request to ``moto.sesv2.responses.SESV2Response`` and calls the
method named after the botocore operation in snake_case. :func:`install` attaches the
operations below to that class; it is explicit (never at import) and idempotent:

- templates: ``CreateEmailTemplate``, ``GetEmailTemplate``, ``UpdateEmailTemplate``,
  ``DeleteEmailTemplate``, ``ListEmailTemplates``, ``TestRenderEmailTemplate``;
- ``SendBulkEmail`` with per-entry results, Handlebars rendering (pybars3) and an outbox;
- ``GetAccount`` (send quota, sandbox, sending enabled);
- the account-level suppression list: ``PutSuppressedDestination``,
  ``GetSuppressedDestination``, ``DeleteSuppressedDestination``, ``ListSuppressedDestinations``.

State lives on moto's ``SESV2Backend`` instance for the account and region, so a moto reset
or a fresh ``mock_aws()`` starts clean. Identities and configuration sets stay in moto's own
SES backend, where ``create_email_identity`` and ``create_configuration_set`` put them.

Typical use in a test::

    with mock_aws():
        ses.install()
        ses.configure(max_send_rate=2, enforce_send_rate=True, throttle_share=0.1)
        ...  # production code calls boto3 sesv2
        messages = ses.sent_messages()

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

import pybars
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from moto.core.utils import get_service_model
from moto.ses.models import ses_backends
from moto.sesv2.models import sesv2_backends
from moto.sesv2.responses import SESV2Response

__all__ = [
    "DEFAULT_REGION",
    "SesBehaviour",
    "behaviour",
    "clear_sent_messages",
    "configure",
    "fail_next_send",
    "install",
    "is_installed",
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

    def __post_init__(self) -> None:
        if not 0.0 <= self.throttle_share <= 1.0:
            raise ValueError("throttle_share must be between 0 and 1")
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
    suppression list, outbox, counters and pending failures. moto's identities stay."""
    backend = sesv2_backends[account_id][region]
    with _state_creation_lock:
        setattr(backend, _STATE_ATTR, _AccountState())


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
        return
    kept = _without_suppressed(state, ctx, entry, common)
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
        ctx = _SendContext(request, content, request.configuration_set, reasons)
        results = [_send_entry(state, ctx, entry) for entry in request.entries]
    _log_outcome(results)
    return json.dumps({"BulkEmailEntryResults": results})


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
