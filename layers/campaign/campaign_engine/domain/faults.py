"""Which AWS failures are worth trying again, and the error that says so to Step Functions.

Pure: an exception is judged by what botocore puts on it (``response["Error"]["Code"]``, the
HTTP status) and by the names of its classes, so this module imports no AWS SDK.
"""

from __future__ import annotations

from typing import Any

# Error codes AWS services use for "too many requests" and "try again later". A code here is
# transient whatever the service: none of them means the request itself was wrong.
TRANSIENT_CODES = frozenset(
    {
        # throttling
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "SlowDown",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        # the service's own trouble (5xx) or a request that timed out on its side
        "InternalServerError",
        "InternalServerErrorException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# botocore and urllib3 raise these (or subclasses) when no answer arrived: the connection
# failed, was reset, or the read timed out. Matched by class name anywhere in the MRO.
TRANSIENT_CLASSES = frozenset(
    {
        "HTTPClientError",  # botocore: base of ConnectionError, ReadTimeoutError, ConnectionClosedError...
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ResponseStreamingError",  # the body of an S3 GetObject broke off mid-stream
        "IncompleteReadError",
        "ProtocolError",  # urllib3
        "ConnectionError",  # botocore's and the builtin one (reset, refused)
        "TimeoutError",
    }
)


class TransientAwsError(Exception):
    """An AWS call failed for a reason that may pass (throttle, 5xx, timeout, lost connection)
    after the SDK's own retries. Step Functions retries the task on this name
    (statemachine/campaign.asl.json); the task's outputs are keyed by run, so the retry is
    idempotent. Never a verdict on the campaign's inputs."""

    def __init__(self, message: str, *, operation: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error")
        if isinstance(error, dict) and isinstance(error.get("Code"), str):
            return str(error["Code"])
    return None


def http_status(exc: BaseException) -> int | None:
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return None


def is_transient(exc: BaseException) -> bool:
    """True for throttles, 5xx answers, timeouts and broken connections; False for a refusal
    (4xx: bad request, access denied, not found), which a retry would only repeat."""
    if isinstance(exc, TransientAwsError):
        return True
    code = error_code(exc)
    if code is not None and code in TRANSIENT_CODES:
        return True
    status = http_status(exc)
    if status is not None:
        return status >= 500 or status == 429
    if code is not None:
        return False  # an AWS answer with a non-transient code and no status: a refusal
    return any(cls.__name__ in TRANSIENT_CLASSES for cls in type(exc).__mro__)


def transient(exc: BaseException, *, where: str) -> TransientAwsError:
    """The TransientAwsError that carries ``exc`` to Step Functions, naming the call."""
    operation = getattr(exc, "operation_name", None)
    code = error_code(exc) or type(exc).__name__
    message = f"{where}: {operation or 'AWS call'} failed ({code}) after the SDK's retries; the task is retried"
    return TransientAwsError(message, operation=operation, code=code)
