"""No raw email address in the functions' logs, on the happy path and on the error paths."""

from __future__ import annotations

import io
import json
import logging

import pytest
from campaign_engine.observability import logger

pytestmark = pytest.mark.workflow


@pytest.fixture
def captured_logs():
    """Every record the Powertools logger emits, formatted exactly as Lambda would print it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    previous = underlying.level
    underlying.addHandler(handler)
    underlying.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        underlying.removeHandler(handler)
        underlying.setLevel(previous)


def test_logs_carry_run_ids_but_never_an_address(recipe_stack, captured_logs):
    audience = [
        {"email": "secret.person@example.com", "name": "Secret", "segment": "new_customers"},
        {"email": "SECRET.PERSON@example.com", "name": "Twice", "segment": "new_customers"},
        {"email": "not-an-address", "name": "Broken", "segment": "new_customers"},
        {"email": "private.promo@example.com", "name": "Promo", "segment": "loyal_customers"},
    ]
    recipe_stack.configure_ses(throttle_when=lambda address: False, reject_when=lambda a: a.startswith("private"))
    recipe_stack.upload("incoming/recipe/people.json", json.dumps(audience).encode())
    (execution,) = recipe_stack.executions()
    recipe_stack.wait_for_execution(execution["executionArn"])
    report = recipe_stack.report("recipe", execution["name"])
    assert (report["sent"], report["duplicate"], report["invalid"], report["failed"]) == (1, 1, 1, 1)

    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines() if line.startswith("{")]
    assert lines, "the functions logged nothing"
    assert any(line.get("run_id") == execution["name"] for line in lines)
    assert {line["service"] for line in lines} == {"campaign-engine"}  # from template.yaml Globals
    text = captured_logs.getvalue().lower()
    for row in audience:
        assert row["email"].lower() not in text
    assert "@example.com" not in text


def test_an_account_level_error_is_logged_without_the_address_ses_named(recipe_stack, captured_logs, caplog):
    recipe_stack.configure_ses(production_access=False)  # sandbox: SES names the unverified recipient
    audience = [{"email": "sandboxed.person@example.org", "name": "Sandy", "segment": "new_customers"}]
    recipe_stack.upload("incoming/recipe/people.json", json.dumps(audience).encode())
    (execution,) = recipe_stack.executions()
    recipe_stack.wait_for_execution(execution["executionArn"])
    report = recipe_stack.report("recipe", execution["name"])
    assert report["status"] == "FAILED"
    assert "sandboxed.person@example.org" in report["reason"]  # the private report keeps SES's words
    history = recipe_stack.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
    logged = captured_logs.getvalue() + caplog.text + json.dumps(history, default=str)
    assert "AccountLevelError" in logged
    assert "sandboxed.person@example.org" not in logged
