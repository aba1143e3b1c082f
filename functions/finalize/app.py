"""Finalize: aggregate the outcomes, write report.json and close the run record."""

from campaign_engine.config import settings
from campaign_engine.domain.contracts import FinalizeInput
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.finalize import finalize


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    state = FinalizeInput.model_validate(event)
    logger.append_keys(campaign_id=state.campaign_id, run_id=state.run_id)
    return finalize(state.model_dump(), settings())
