"""Shared fixtures. AWS is always moto, function-scoped, with dummy credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _template_environment() -> None:
    """Lambda sets the template's Globals environment before any import; tests import the layer
    early, so set the values that are read at import time (Powertools' service name) first."""
    from campaign_local import cfn

    variables = cfn.load(ROOT / "template.yaml")["Globals"]["Function"]["Environment"]["Variables"]
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        os.environ.setdefault(name, variables[name])


_template_environment()
EVENTS = ROOT / "events"
SENDER = "example.com"


@contextmanager
def local_endpoint(directory: Path, max_send_rate: float | None = None) -> Iterator[Path]:
    """What `make local-up` runs, on a free port, until the block ends; yields the state file that
    `campaign --local` finds it by (``CAMPAIGN_LOCAL_STATE``). Its log is ``directory/server.log``."""
    state = directory / "endpoint.json"
    rate = ["--max-send-rate", str(max_send_rate)] if max_send_rate else []
    with (directory / "server.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "campaign_local.server", "--port", "0", "--state-file", str(state), *rate],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not state.exists():
            assert server.poll() is None, (directory / "server.log").read_text()
            assert time.monotonic() < deadline, "the local endpoint did not start"
            time.sleep(0.2)
        yield state
    finally:
        server.terminate()
        server.wait(timeout=30)


def load_event(relative: str) -> dict:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


@pytest.fixture
def stack():
    """The local stack built from template.yaml: moto, in-process handlers, local SES."""
    from campaign_local.stack import LocalStack

    with LocalStack.start() as local:
        local.verify_sender(SENDER)
        yield local


@pytest.fixture
def quiet_stack(recipe_stack):
    """The recipe stack with the bucket notification off and the recipe's subscribers at
    incoming/recipe/subscribers.json (the key the events name): for calling one handler at a
    time without an upload starting a real run of the same id."""
    recipe_stack.client("s3").put_bucket_notification_configuration(
        Bucket=recipe_stack.bucket, NotificationConfiguration={}
    )
    recipe_stack.upload("incoming/recipe/subscribers.json", (ROOT / "examples/recipe/subscribers.json").read_bytes())
    yield recipe_stack
    assert recipe_stack.executions() == [], "a handler test started an execution"


@pytest.fixture
def recipe_stack(stack):
    """The local stack with the recipe's templates and campaign definition in the bucket."""
    for path in (ROOT / "templates").glob("*.json"):
        stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
    stack.put_json("campaigns/recipe.json", json.loads((ROOT / "examples/recipe/campaign.json").read_text()))
    return stack
