"""Fixtures of the local stack's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from campaign_local import ses
from campaign_local.stack import DUMMY_CREDENTIALS


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto with dummy credentials and the local SES v2 operations installed."""
    for name, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws() as mock:
        ses.install()
        yield mock
        ses.reset()  # stops the event publisher thread before the mock ends
