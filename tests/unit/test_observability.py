"""The tracer: Powertools' Tracer when tracing is on, an import-free stand-in when it is off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[2] / "layers" / "campaign"
PROBE = """
import json, sys
from campaign_engine.observability import tracer

@tracer.capture_lambda_handler
def handler(event, context):
    return {"echo": event}

@tracer.capture_method(capture_response=False)
def helper():
    return 42

print(json.dumps({
    "tracer": type(tracer).__name__,
    "xray_imported": any(name.startswith("aws_xray_sdk") for name in sys.modules),
    "handler": handler({"a": 1}, None),
    "helper": helper(),
}))
"""


def probe(trace_disabled: str | None) -> dict:
    """Import the module in a fresh interpreter (it decides at import, as in Lambda)."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.update({"PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1"})
    if trace_disabled is not None:
        env["POWERTOOLS_TRACE_DISABLED"] = trace_disabled
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_tracing_off_never_imports_the_xray_sdk(value: str) -> None:
    found = probe(value)
    assert found["tracer"] == "UntracedTracer" and not found["xray_imported"]
    assert found["handler"] == {"echo": {"a": 1}} and found["helper"] == 42


@pytest.mark.parametrize("value", [None, "false"])
def test_tracing_on_is_powertools_tracer(value: str | None) -> None:
    found = probe(value)
    assert found["tracer"] == "Tracer" and found["xray_imported"]
    assert found["handler"] == {"echo": {"a": 1}} and found["helper"] == 42
