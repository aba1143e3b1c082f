"""Powertools Logger, Metrics and Tracer shared by the functions.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (template.yaml Globals). Logs carry campaign and run ids and
address hashes, never addresses.

Tracing: Powertools' Tracer imports the X-Ray SDK (300-400 ms of every cold start) even when
it is disabled. With POWERTOOLS_TRACE_DISABLED set (the local stack, the bench, any stack that
turns X-Ray off), ``tracer`` is a stand-in with the same decorators that imports nothing. On
AWS with ``Tracing: Active`` (the template's default) it is the real Tracer, SDK included.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "count_outcomes", "logger", "metrics", "tracer", "tracing_disabled"]


def tracing_disabled() -> bool:
    # Powertools' own parsing of the variable ("1", "true", "on", ... any case).
    return resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false"))


class UntracedTracer:
    """What the handlers use of Powertools' Tracer, doing nothing (tracing is off)."""

    disabled = True

    @staticmethod
    def _passthrough(function: Callable | None, **_: Any) -> Any:
        return function if function is not None else (lambda wrapped: wrapped)

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, **options: Any) -> Any:
        return self._passthrough(lambda_handler, **options)

    def capture_method(self, method: Callable | None = None, **options: Any) -> Any:
        return self._passthrough(method, **options)

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        pass


if tracing_disabled():
    tracer: Any = UntracedTracer()
else:
    from aws_lambda_powertools import Tracer

    tracer = Tracer()


def count_outcomes(campaign_id: str, counts: dict[str, int], prefix: str = "Recipients") -> None:
    """One metric per outcome (RecipientsSent, RecipientsFailed, ...) for the campaign."""
    if not any(counts.values()):
        return  # a dimension without metrics would linger into the next warm invocation
    metrics.add_dimension(name="campaign", value=campaign_id)
    for outcome, value in counts.items():
        if value:
            name = prefix + "".join(part.capitalize() for part in outcome.split("_"))
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
