"""In-process AWS at botocore's HTTP layer.

A ``before-send`` handler on each boto3 client answers the request with an ``AWSResponse``
built from a model-valid body, so botocore still builds, signs and serialises every request
and parses every response: the bench pays the same client-side cost as on AWS, for our code
and for the baseline alike, and measures our code instead of moto.

Every call is counted per service and operation, and DynamoDB calls are also weighed in
request units (``Capacity``), which the cost model prices.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from .dynamodb import Capacity, DynamoStub
from .other import SecretsStub, StepFunctionsStub
from .s3 import S3Stub
from .ses import SesStub

__all__ = ["Capacity", "DynamoStub", "S3Stub", "SesStub", "StubAws"]

# botocore's hyphenised service ids (the middle of "before-send.<id>.<Operation>")
SERVICE_NAMES = {
    "s3": "s3",
    "dynamodb": "dynamodb",
    "sesv2": "sesv2",
    "secrets-manager": "secretsmanager",
    "sfn": "stepfunctions",
}


class StubAws:
    """The stubbed services together, with one call log."""

    def __init__(
        self,
        s3: S3Stub | None = None,
        dynamodb: DynamoStub | None = None,
        ses: SesStub | None = None,
    ) -> None:
        self.s3 = s3 or S3Stub()
        self.dynamodb = dynamodb or DynamoStub()
        self.ses = ses or SesStub()
        self.services = {
            "s3": self.s3,
            "dynamodb": self.dynamodb,
            "sesv2": self.ses,
            "secretsmanager": SecretsStub(),
            "stepfunctions": StepFunctionsStub(),
        }
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def handle(self, request: Any, event_name: str, **_: Any):
        _, service_id, operation = event_name.split(".")[:3]
        service = SERVICE_NAMES[service_id]
        with self._lock:
            self.calls[(service, operation)] += 1
        return self.services[service].answer(operation, request)

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send", self.handle)
        return client

    def calls_by_service(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for (service, _operation), count in self.calls.items():
            totals[service] += count
        return dict(totals)

    def reset_counts(self) -> None:
        self.calls.clear()
        self.dynamodb.capacity = Capacity()
