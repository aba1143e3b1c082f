"""Lazy, cached boto3 clients."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_CLIENTS: dict[str, Any] = {}
# Standard retry mode: bounded, jittered retries of throttling and transient errors. SES sends
# are retried by our own code instead (see services.send), so SES gets no SDK retries.
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
_CONFIGS = {
    "sesv2": Config(retries={"mode": "standard", "max_attempts": 1}, parameter_validation=False),
    "dynamodb": Config(retries={"mode": "standard", "max_attempts": 5}, parameter_validation=False),
}
_DEFAULT = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str) -> Any:
    found = _CLIENTS.get(service)
    if found is None:
        found = _CLIENTS[service] = boto3.client(service, config=_CONFIGS.get(service, _DEFAULT))
    return found


def reset() -> None:
    """Forget cached clients (tests and the local stack call this when AWS is re-mocked)."""
    _CLIENTS.clear()


def error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None
