"""Prepare: stream, validate, dedupe and segment the audience into batches; read the quota."""

from campaign_engine.config import settings
from campaign_engine.domain.contracts import RunInput
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.prepare import prepare


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    run = RunInput.model_validate(event)
    logger.append_keys(campaign_id=run.campaign_id, run_id=run.run_id)
    return prepare(run, settings()).model_dump(mode="json")
