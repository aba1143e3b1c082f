"""Secrets Manager and Step Functions: the one call each that the engine makes."""

from __future__ import annotations

import json
import time
from typing import Any

from .http import request_json, respond_json


class SecretsStub:
    SECRET = "b" * 64

    def answer(self, operation: str, request: Any):
        body = request_json(request)
        arn = body.get("SecretId", "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench")
        return respond_json(
            request.url,
            {"ARN": arn, "Name": "bench", "VersionId": "v1", "SecretString": self.SECRET, "CreatedDate": 1.7e9},
        )


class StepFunctionsStub:
    """StartExecution only; keeps each execution input (the run Prepare then receives)."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def answer(self, operation: str, request: Any):
        body = request_json(request)
        if operation != "StartExecution":
            raise NotImplementedError(f"Step Functions {operation} is not stubbed")
        self.started.append(json.loads(body["input"]))
        arn = body["stateMachineArn"].replace(":stateMachine:", ":execution:") + ":" + body.get("name", "x")
        return respond_json(request.url, {"executionArn": arn, "startDate": time.time()})
