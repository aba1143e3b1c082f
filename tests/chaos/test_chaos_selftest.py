"""The harness can fail: a send path that is deliberately broken must produce violations."""

from __future__ import annotations

import pytest

from campaign_local import chaos
from campaign_local.faults import Schedule

pytestmark = pytest.mark.chaos


def test_a_send_path_that_sends_twice_is_caught(monkeypatch):
    from campaign_engine.adapters import ses

    original = ses.send_bulk

    def send_twice(request, **kwargs):
        original(request, **kwargs)
        return original(request, **kwargs)

    monkeypatch.setattr(ses, "send_bulk", send_twice)
    result = chaos.run_schedule(Schedule(), feedback=False)
    checks = {v.check for v in result.violations}
    assert chaos.Check.DUPLICATE_SEND in checks, result.violations


def test_a_send_path_that_misreports_is_caught(monkeypatch):
    """SES accepted every message, but the send path is told it refused them."""
    from campaign_engine.adapters import ses

    original = ses.send_bulk

    def accepted_but_reported_rejected(request, **kwargs):
        original(request, **kwargs)
        # The same call from an unverified sender: SES refuses it (MessageRejected).
        return original({**request, "FromEmailAddress": "nobody@unverified.example"}, **kwargs)

    monkeypatch.setattr(ses, "send_bulk", accepted_but_reported_rejected)
    result = chaos.run_schedule(Schedule(), feedback=False)
    checks = {v.check for v in result.violations}
    assert chaos.Check.RECORDED_NOT_SENT in checks, result.violations
