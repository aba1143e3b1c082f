"""The chaos sample: its own marker, so ``pytest -m chaos`` runs it alone (pyproject.toml's
marker list is not this directory's to change, so the marker is registered here)."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "chaos: a campaign run on the local stack under an injected fault schedule (campaign_local.chaos)"
    )
