"""StartCampaign: an upload to incoming/<campaign_id>/ or a schedule starts one run."""

from campaign_engine.config import settings
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.start import handle


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return handle(event, settings())
