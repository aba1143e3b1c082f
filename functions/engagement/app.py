"""Engagement: every SES event (SNS -> SQS) into per-recipient history, run counters and the breaker."""

from campaign_engine.config import settings
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.engagement import EngagementRecorder
from campaign_engine.services.feedback_events import process


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    recorder = EngagementRecorder(settings())
    return process(event, context, recorder.record, finish=recorder.flush)
