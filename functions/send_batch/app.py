"""SendBatch: send one batch of <= 50 recipients through SES SendBulkEmail, exactly once."""

from campaign_engine.config import settings
from campaign_engine.domain.contracts import SendBatchInput
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.send import send_batch


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    request = SendBatchInput.model_validate(event)
    logger.append_keys(campaign_id=request.context.campaign_id, run_id=request.context.run_id, batch=request.item.batch)
    return send_batch(request, settings()).model_dump(mode="json")
