"""Tests against a deployed stack: run only when AWS_SAM_STACK_NAME names one (and AWS
credentials for its account are in the environment); skipped otherwise."""

from __future__ import annotations

import os

import pytest

STACK = os.environ.get("AWS_SAM_STACK_NAME")


def pytest_collection_modifyitems(config, items):
    if STACK:
        return
    skip = pytest.mark.skip(reason="no deployed stack: set AWS_SAM_STACK_NAME (and AWS credentials) to run these")
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(skip)
