"""Delivery of SES events to a feedback function: SQS batches (with partial batch failures)
or, if a topic is ever subscribed directly, SNS records.

A record that cannot be read or applied fails alone: SQS redelivers just that one and, after
the queue's maxReceiveCount, moves it to the dead-letter queue, while the rest of the batch
is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ..domain.ses_events import SesEvent, parse, unwrap
from ..observability import MetricUnit, logger, metrics

Apply = Callable[[SesEvent], Any]


def _apply_body(body: Any, apply: Apply) -> None:
    event = parse(unwrap(body))
    if event is None:
        logger.info("SES record of a kind this function does not handle: skipped")
        return
    apply(event)
    metrics.add_metric(name="FeedbackEvents", unit=MetricUnit.Count, value=1)


def process(
    event: dict[str, Any], context: Any, apply: Apply, finish: Callable[[], Any] | None = None
) -> dict[str, Any]:
    """Apply every record; then ``finish`` (writes that sum up the whole batch) once.

    A record whose apply raises fails alone (``batchItemFailures``); a crash (an exception that
    is not an ``Exception``) or a failing ``finish`` fails the invocation, and every record
    comes back.
    """
    records = event.get("Records") or []
    if records and records[0].get("EventSource") == "aws:sns":
        for record in records:  # an error fails the invocation: Lambda retries it, then its DLQ
            _apply_body(record["Sns"], apply)
        response: dict[str, Any] = {"batchItemFailures": []}
    else:
        processor = BatchProcessor(event_type=EventType.SQS)

        def handle(record: SQSRecord) -> None:
            _apply_body(record.body, apply)

        response = dict(
            process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
        )
    if finish is not None:
        # Raising here fails the whole invocation: SQS then redelivers every record of the batch
        # (the engagement function's commit, see services.engagement).
        finish()
    return response
