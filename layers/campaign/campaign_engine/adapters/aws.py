"""Lazy, cached boto3 clients."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_CLIENTS: dict[str, Any] = {}
# Standard retry mode: bounded, jittered retries of throttling and transient errors.
#
# SES sends get no SDK retry at all. SES has no idempotency token: when a SendBulkEmail was
# accepted and its reply lost (read timeout, reset connection, a 5xx after acceptance), an SDK
# retry sends every entry again. Only our code, which knows each entry's state, may call SES
# again (services.send); a call whose fate is unknown ends its entries UNKNOWN. botocore reads
# ``max_attempts`` as retries *after* the first call (``max_attempts: 1`` made two calls), so the
# sending client sets ``total_max_attempts: 1``: exactly one HTTP request per call. It is its own
# client ("sesv2-send"), so templates, test renders and GetAccount keep their SDK retries.
#
# No client-side parameter validation for the two clients on the per-recipient path (SES v2 and
# DynamoDB): it was about a fifth of SendBatch's CPU, spent re-checking requests whose shapes
# are fixed in code (domain.sending.build_request, the adapters) from values the pydantic
# models already validated; botocore only checks types, required members and minimums, all of
# which AWS checks again. A request that slipped through fails on AWS instead of in botocore,
# and both fail safe: SES refuses the whole call (BadRequestException: the batch releases its
# entries and stops the run, nothing sent), DynamoDB refuses the write (the batch fails before
# or after its SES call, and a retry skips what it recorded). tests/handlers/
# test_handler_send_batch.py checks every request of these clients against botocore's model.
SES_SEND = "sesv2-send"
_CONFIGS = {
    SES_SEND: Config(retries={"mode": "standard", "total_max_attempts": 1}, parameter_validation=False),
    "sesv2": Config(retries={"mode": "standard", "max_attempts": 5}, parameter_validation=False),
    "dynamodb": Config(retries={"mode": "standard", "max_attempts": 5}, parameter_validation=False),
}
_DEFAULT = Config(retries={"mode": "standard", "max_attempts": 5})


_SESSION: dict[str, Any] = {}  # "session": a boto3.Session, "endpoint_url": str | None


def use_session(session: Any, endpoint_url: str | None = None) -> None:
    """Make every adapter's default client from ``session`` (and ``endpoint_url``), not from
    the process environment: the operator's CLI aims the layer at a stack this way (a profile
    and region of its own, or the local endpoint). Lambda never calls it."""
    _CLIENTS.clear()
    _SESSION.update(session=session, endpoint_url=endpoint_url)


def client(service: str) -> Any:
    """The cached client for ``service`` (or for ``SES_SEND``, SES v2 without SDK retries).
    Adapters take a client of their own too; this is the default they fall back to."""
    found = _CLIENTS.get(service)
    if found is None:
        name = "sesv2" if service == SES_SEND else service
        config = _CONFIGS.get(service, _DEFAULT)
        session = _SESSION.get("session")
        if session is None:
            found = boto3.client(name, config=config)
        else:
            found = session.client(name, config=config, endpoint_url=_SESSION.get("endpoint_url"))
        _CLIENTS[service] = found
    return found


def reset() -> None:
    """Forget cached clients and any session (tests and the local stack call this when AWS is
    re-mocked)."""
    _CLIENTS.clear()
    _SESSION.clear()


def error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None
