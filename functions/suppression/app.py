"""Suppression: SES bounces, complaints and unsubscribes (SNS -> SQS) into the suppression table."""

from campaign_engine.config import settings
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.feedback_events import process
from campaign_engine.services.suppression import handle_event


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return process(event, context, lambda ses_event: handle_event(ses_event, settings()))
