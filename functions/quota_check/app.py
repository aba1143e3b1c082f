"""CheckQuota: after a pass of the Map, wait for the daily SES quota or go on."""

from campaign_engine.config import settings
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.quota import check


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    logger.append_keys(campaign_id=event.get("campaign_id"), run_id=event.get("run_id"))
    return check(event, settings())
