"""Unsubscribe: the one-click endpoint (Lambda Function URL). GET shows a button; POST unsubscribes."""

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from campaign_engine.adapters.secrets import signing_key
from campaign_engine.config import settings
from campaign_engine.domain import tokens
from campaign_engine.domain import unsubscribe_page as page
from campaign_engine.observability import logger, metrics, tracer
from campaign_engine.services.unsubscribe import unsubscribe

app = LambdaFunctionUrlResolver()


def _html(status: int, body: str) -> Response:
    return Response(status_code=status, content_type=page.HEADERS["Content-Type"], body=body, headers=page.HEADERS)


def _claim(token: str | None) -> tokens.UnsubscribeClaim:
    if not token:
        raise tokens.InvalidToken("the link has no token")
    secret_arn = settings().unsubscribe_secret_arn
    if not secret_arn:  # the deployment's fault, not the request's: a 5xx is right here
        raise RuntimeError("UNSUBSCRIBE_SECRET_ARN is not set for the unsubscribe function")
    return tokens.verify(signing_key(secret_arn), token)


def _refuse(exc: tokens.InvalidToken) -> Response:
    forged = isinstance(exc, tokens.ForgedToken)
    logger.warning("unsubscribe token refused", extra={"forged": forged})
    message = "This unsubscribe link is not valid." if forged else "This unsubscribe link is incomplete or damaged."
    return _html(403 if forged else 400, page.error_page(message))


@app.get("/")
def show() -> Response:
    token = app.current_event.get_query_string_value("token") or ""
    try:
        claim = _claim(token)
    except tokens.InvalidToken as exc:
        return _refuse(exc)
    return _html(200, page.confirm_page(claim.address, token, claim.topic))


@app.post("/")
def one_click() -> Response:
    event = app.current_event
    body = page.request_body(event.body, bool(event.is_base64_encoded))
    if body is None:  # a client's bad request, never a 5xx (found by tests/fuzz)
        return _html(400, page.error_page("The request body cannot be read."))
    fields = page.form_fields(body, (event.headers or {}).get("content-type"))
    token = event.get_query_string_value("token") or fields.get("token")
    try:
        claim = _claim(token)
    except tokens.InvalidToken as exc:
        return _refuse(exc)
    if not page.is_one_click(fields):
        return _html(400, page.error_page("Expected the one-click body List-Unsubscribe=One-Click."))
    try:
        unsubscribe(claim, settings())
    except tokens.InvalidToken as exc:
        return _refuse(exc)
    return _html(200, page.done_page(claim.address, claim.topic))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
