"""Lazy, cached boto3 clients."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_CLIENTS: dict[str, Any] = {}
# Standard retry mode: bounded, jittered retries of throttling and transient errors. SES sends
# are retried by our own code instead (see services.send), so SES gets no SDK retries.
_CONFIGS = {
    "sesv2": Config(retries={"mode": "standard", "max_attempts": 1}),
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
