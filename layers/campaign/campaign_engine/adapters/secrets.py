"""The unsubscribe signing secret, read at runtime (never stored in code or config)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from .aws import client

_provider: parameters.SecretsProvider | None = None


def signing_key(secret_arn: str) -> bytes:
    global _provider
    if _provider is None:
        _provider = parameters.SecretsProvider(boto3_client=client("secretsmanager"))
    # Cached for max_age seconds in a warm Lambda: one Secrets Manager read per 5 minutes.
    value = _provider.get(secret_arn, max_age=300)
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str) or not value:
        raise RuntimeError(f"secret {secret_arn} holds no signing key (an empty or non-text value)")
    return value.encode("utf-8")


def reset() -> None:
    global _provider
    _provider = None
