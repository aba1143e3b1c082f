"""Powertools Logger, Metrics and Tracer shared by the functions.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (template.yaml Globals). Logs carry campaign and run ids and
address hashes, never addresses.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["MetricUnit", "count_outcomes", "logger", "metrics", "tracer"]


def count_outcomes(campaign_id: str, counts: dict[str, int], prefix: str = "Recipients") -> None:
    """One metric per outcome (RecipientsSent, RecipientsFailed, ...) for the campaign."""
    if not any(counts.values()):
        return  # a dimension without metrics would linger into the next warm invocation
    metrics.add_dimension(name="campaign", value=campaign_id)
    for outcome, value in counts.items():
        if value:
            name = prefix + "".join(part.capitalize() for part in outcome.split("_"))
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
