"""Fault injection for the local stack: at any AWS call of any function, before or after it.

Every AWS call botocore makes under moto passes through moto's ``before-send`` handler
(``moto.core.models.botocore_stubber``), which answers the request from moto's backends.
:func:`install` wraps that handler, so a fault is injected where the network would be:

- before the call (the request never took effect): a **crash** or **timeout** of the Lambda
  invocation running it, a **throttle** (the service's own throttling error, as an HTTP
  response botocore parses and retries like AWS's) or a **5xx** (same);
- after the call (moto executed it: it took effect): a crash or timeout, a 5xx in place of the
  real answer, or a **lost reply** (botocore's ``ReadTimeoutError``: the answer never arrived).

The SDK's own retry logic sees all of it as on AWS: an injected throttle or 5xx is a real
response, a lost reply a real connection error. A crash is :class:`lambdas.LambdaDied`, which
no ``except Exception`` catches and the in-process invoke reports as Lambda reports a crash
(``Runtime.ExitError``) or a timeout (``Sandbox.Timedout``); every later AWS call of that
invocation dies too, so not even a ``finally`` block of a dead process reaches AWS.

A call belongs to the function whose invocation runs on the calling thread
(``lambdas.current_frame``); calls of the test itself, of the pollers and of moto's own
workers (Step Functions, the SES event publisher) are never faulted. Which calls fail is a
:class:`Schedule`: one :class:`Fault` (function, service, operation, from its nth occurrence,
before or after, kind, how many times) or :class:`RandomFaults` (a rate and a seed).

:func:`fast_clock` shortens every wait of the run (SendBatch's pacing and backoff, botocore's
retry backoff, Step Functions Retry intervals and Wait states) so a schedule takes seconds.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import lambdas


class FaultKind(str, Enum):
    CRASH = "crash"  # the Lambda process exits (Runtime.ExitError)
    TIMEOUT = "timeout"  # the invocation runs out of time (Sandbox.Timedout)
    THROTTLE = "throttle"  # the service's throttling error
    SERVER_ERROR = "server_error"  # a 5xx
    LOST_REPLY = "lost_reply"  # the call took effect, its answer never arrived


class When(str, Enum):
    BEFORE = "before"  # the request never reached the service
    AFTER = "after"  # the service executed the request


# What can happen at each point: a throttle is a refusal, so only before; a lost reply only after.
KINDS_AT: dict[When, tuple[FaultKind, ...]] = {
    When.BEFORE: (FaultKind.CRASH, FaultKind.TIMEOUT, FaultKind.THROTTLE, FaultKind.SERVER_ERROR),
    When.AFTER: (FaultKind.CRASH, FaultKind.TIMEOUT, FaultKind.SERVER_ERROR, FaultKind.LOST_REPLY),
}


class CallSite(BaseModel):
    """An AWS operation a function calls: ``service`` as in botocore's event names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    function: str  # logical id in template.yaml
    service: str  # "dynamodb", "s3", "sesv2", "sfn", ...
    operation: str  # "PutItem", "SendBulkEmail", ...

    def __str__(self) -> str:
        return f"{self.function}:{self.service}.{self.operation}"


class Fault(BaseModel):
    """Fail the call site's occurrences ``nth`` .. ``nth + times - 1`` (every one from ``nth``
    when ``times`` is None). Occurrences count each attempt, SDK retries included, in the order
    the calls reach the injector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: CallSite
    nth: int = Field(default=1, ge=1)
    when: When
    kind: FaultKind
    times: int | None = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _possible(self) -> Fault:
        if self.kind not in KINDS_AT[self.when]:
            raise ValueError(f"a {self.kind.value} fault cannot happen {self.when.value} the call")
        return self

    def fires_at(self, occurrence: int) -> bool:
        return occurrence >= self.nth and (self.times is None or occurrence < self.nth + self.times)

    def label(self) -> str:
        times = "always" if self.times is None else {1: "once", 2: "twice"}.get(self.times, f"{self.times}x")
        return f"{self.kind.value} {self.when.value} {self.site} #{self.nth} {times}"


class RandomFaults(BaseModel):
    """Each function call fails with probability ``rate``: a kind and a point drawn at random."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(gt=0, le=1)
    seed: int

    def label(self) -> str:
        return f"random rate {self.rate} seed {self.seed}"


class Schedule(BaseModel):
    """One chaos run: one fault, random faults, or none (the fault-free baseline)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fault: Fault | None = None
    random: RandomFaults | None = None
    seed: int = 0  # the scenario's own randomness (the order of redelivered SES events)

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        if self.fault is not None and self.random is not None:
            raise ValueError("a schedule has one fault or random faults, not both")
        return self

    def label(self) -> str:
        if self.fault is not None:
            return self.fault.label()
        if self.random is not None:
            return self.random.label()
        return "no faults"


@dataclass(frozen=True)
class Fired:
    """A fault that fired: where, which one, and for an SES send that took effect its recipients."""

    site: CallSite
    occurrence: int
    when: When
    kind: FaultKind
    recipients: tuple[str, ...] = ()


# The service's own error codes (botocore's standard retry mode retries each of them).
_THROTTLE: dict[str, tuple[int, str]] = {
    "dynamodb": (400, "ProvisionedThroughputExceededException"),
    "s3": (503, "SlowDown"),
    "sesv2": (429, "TooManyRequestsException"),
    "lambda": (429, "TooManyRequestsException"),
    "sns": (400, "Throttling"),
}
_SERVER_ERROR: dict[str, tuple[int, str]] = {
    "dynamodb": (500, "InternalServerError"),
    "s3": (500, "InternalError"),
    "sesv2": (500, "InternalFailure"),
}
_DEFAULT_THROTTLE = (400, "ThrottlingException")
_DEFAULT_SERVER_ERROR = (503, "ServiceUnavailable")
_XML_SERVICES = {"s3"}  # rest-xml
_QUERY_SERVICES = {"sns", "sts", "iam", "cloudwatch"}  # query protocol


def error_response(request: AWSPreparedRequest, service: str, status: int, code: str) -> AWSResponse:
    """An error answer in the service's own protocol, so botocore parses ``code`` from it."""
    message = f"injected by campaign_local.faults: {code}"
    headers: dict[str, str] = {"x-amzn-RequestId": "chaos-00000000"}
    if service in _XML_SERVICES:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>chaos</RequestId></Error>"
        headers["Content-Type"] = "application/xml"
    elif service in _QUERY_SERVICES:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>chaos</RequestId></ErrorResponse>"
        )
        headers["Content-Type"] = "text/xml"
    else:  # json (X-Amz-Target) and rest-json both read x-amzn-ErrorType and the body's __type
        body = json.dumps({"__type": code, "message": message})
        headers["x-amzn-ErrorType"] = f"{code}:"
        json_protocol = "X-Amz-Target" in request.headers
        headers["Content-Type"] = "application/x-amz-json-1.0" if json_protocol else "application/json"
    return AWSResponse(request.url, status, headers, MockRawResponse(body.encode()))


def _send_recipients(request: AWSPreparedRequest) -> tuple[str, ...]:
    """The To addresses of a SendBulkEmail request (its body is JSON)."""
    try:
        body = json.loads(request.body or b"{}")
        return tuple(
            address
            for entry in body.get("BulkEmailEntries", [])
            for address in entry.get("Destination", {}).get("ToAddresses", [])
        )
    except (ValueError, TypeError, AttributeError):
        return ()


@dataclass
class Injector:
    """The schedule in force and what happened under it; one per process (``INJECTOR``)."""

    schedule: Schedule = field(default_factory=Schedule)
    enabled: bool = False
    calls: Counter[CallSite] = field(default_factory=Counter)
    fired: list[Fired] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(default_factory=random.Random)
    # SendBulkEmail calls SES answered, per invocation (frame), and the recipients of those whose
    # invocation then met a fault before it was over: it may have died before recording the
    # answer, which for the send path is the same as a lost reply.
    _answered: dict[int, tuple[Any, list[str]]] = field(default_factory=dict)
    _interrupted: set[str] = field(default_factory=set)

    def arm(self, schedule: Schedule) -> None:
        with self.lock:
            self.schedule = schedule
            self.calls = Counter()
            self.fired = []
            self._answered = {}
            self._interrupted = set()
            self._rng = random.Random(schedule.random.seed if schedule.random else 0)
            self.enabled = True

    def disarm(self) -> None:
        with self.lock:
            self.enabled = False

    def call_sites(self) -> list[CallSite]:
        return sorted(self.calls, key=str)

    def _decide(self, site: CallSite) -> tuple[int, When, FaultKind] | None:
        with self.lock:
            self.calls[site] += 1
            occurrence = self.calls[site]
            if not self.enabled:
                return None
            fault, chance = self.schedule.fault, self.schedule.random
            if fault is not None and fault.site == site and fault.fires_at(occurrence):
                return occurrence, fault.when, fault.kind
            if chance is not None and self._rng.random() < chance.rate:
                when = self._rng.choice(list(When))
                return occurrence, when, self._rng.choice(KINDS_AT[when])
            return None

    def handle(self, stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
        frame = lambdas.current_frame()
        if frame is None:  # the test, a poller or moto itself: never faulted
            return _original_call(stubber, event_name, request, **kwargs)
        if frame.dead:
            raise lambdas.LambdaDied("the invocation already died", "Runtime.ExitError")
        _, service, operation = [*event_name.split("."), "", ""][:3]
        site = CallSite(function=frame.function, service=service, operation=operation)
        decided = self._decide(site)
        sends = (service, operation) == ("sesv2", "SendBulkEmail")
        if decided is None:
            response = _original_call(stubber, event_name, request, **kwargs)
            if sends:
                with self.lock:
                    self._answered.setdefault(id(frame), (frame, []))[1].extend(_send_recipients(request))
            return response
        occurrence, when, kind = decided
        with self.lock:  # a fault in an invocation that already had SES answers
            self._interrupted.update(self._answered.pop(id(frame), (frame, []))[1])
        if when is When.BEFORE:
            self._record(site, occurrence, when, kind, ())
            return self._inject(frame, request, service, kind, None)
        response = _original_call(stubber, event_name, request, **kwargs)  # the call takes effect
        recipients = _send_recipients(request) if (service, operation) == ("sesv2", "SendBulkEmail") else ()
        self._record(site, occurrence, when, kind, recipients)
        return self._inject(frame, request, service, kind, response)

    def _record(
        self, site: CallSite, occurrence: int, when: When, kind: FaultKind, recipients: tuple[str, ...]
    ) -> None:
        with self.lock:
            self.fired.append(Fired(site, occurrence, when, kind, recipients))

    @staticmethod
    def _inject(
        frame: lambdas.Frame, request: AWSPreparedRequest, service: str, kind: FaultKind, response: Any
    ) -> AWSResponse:
        if kind in (FaultKind.CRASH, FaultKind.TIMEOUT):
            frame.dead = True
            if kind is FaultKind.CRASH:
                raise lambdas.LambdaDied("Runtime exited with error: exit status 1", "Runtime.ExitError")
            raise lambdas.LambdaDied("Task timed out", "Sandbox.Timedout")
        if kind is FaultKind.LOST_REPLY:
            raise ReadTimeoutError(endpoint_url=request.url)
        status, code = (
            _THROTTLE.get(service, _DEFAULT_THROTTLE)
            if kind is FaultKind.THROTTLE
            else _SERVER_ERROR.get(service, _DEFAULT_SERVER_ERROR)
        )
        return error_response(request, service, status, code)

    def lost_recipients(self) -> set[str]:
        """Recipients of SendBulkEmail calls that took effect but whose answer the function lost:
        a fault right after the call, or any later fault in the same invocation (it may have died
        before recording the answer)."""
        with self.lock:
            lost = {address for fired in self.fired if fired.when is When.AFTER for address in fired.recipients}
            return lost | self._interrupted


INJECTOR = Injector()
_original_call = BotocoreStubber.__call__


def _call(self: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
    if not self.enabled:
        return _original_call(self, event_name, request, **kwargs)
    return INJECTOR.handle(self, event_name, request, **kwargs)


def install() -> None:
    """Route moto's request handling through the injector (a no-op until :meth:`Injector.arm`)."""
    BotocoreStubber.__call__ = _call  # type: ignore[method-assign]


def uninstall() -> None:
    BotocoreStubber.__call__ = _original_call  # type: ignore[method-assign]
    INJECTOR.disarm()


# -- a fast clock --------------------------------------------------------------------------------


class _ScaledTime:
    """The ``time`` module with ``sleep`` scaled, for the modules that call ``time.sleep``."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextmanager
def fast_clock(scale: float = 0.001) -> Iterator[None]:
    """Every wait of a run ``scale`` times as long: SendBatch's pacing and backoff
    (``services.send.SLEEP``), botocore's retry backoff, Step Functions Retry intervals and
    Wait states in moto's interpreter. Order is kept, only time shrinks."""
    import botocore.endpoint
    from campaign_engine.services import send
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    scaled = _ScaledTime(scale)
    saved_send, saved_endpoint, saved_retrier = send.SLEEP, botocore.endpoint.time, retrier_decl.time
    saved_wait = wait_function.WaitFunction._wait_interval

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale)

    send.SLEEP = scaled.sleep  # type: ignore[assignment]
    botocore.endpoint.time = scaled
    retrier_decl.time = scaled  # type: ignore[assignment]
    wait_function.WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]
    try:
        yield
    finally:
        send.SLEEP = saved_send
        botocore.endpoint.time = saved_endpoint
        retrier_decl.time = saved_retrier
        wait_function.WaitFunction._wait_interval = saved_wait  # type: ignore[method-assign]
