"""`make demo` end to end (smaller audience): its outputs are what the README promises."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from campaign_engine.domain.outcomes import OUTCOMES

from campaign_local import demo

pytestmark = pytest.mark.workflow


def test_demo_writes_a_report_that_adds_up_and_one_message_per_recipient(tmp_path, capsys):
    assert demo.main(["--generated", "400", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "status COMPLETED" in printed and "new_customers" in printed and "loyal_customers" in printed

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rows"] == 403
    assert sum(report[o] for o in OUTCOMES) == report["rows"]
    assert report["invalid"] > 0 and report["duplicate"] > 0 and report["skipped"] > 0

    messages = [json.loads(line) for line in (tmp_path / "messages.jsonl").read_text().splitlines()]
    assert len(messages) == report["sent"]
    recipients = Counter(m["to"] for m in messages)
    assert max(recipients.values()) == 1
    assert any(m["to"].endswith("@simulator.amazonses.com") for m in messages)
    templates = {"new_customers": "welcome-campaign", "loyal_customers": "product-promotion"}
    for message in messages:
        assert message["template"] == templates[message["segment"]]
        assert message["headers"]["List-Unsubscribe"].startswith("<https://")
        assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "{{" not in message["subject"] + message["html"] + message["text"]
        if message["segment"] == "loyal_customers":
            assert message["subject"] == "Exclusive Offer: 20% Off Smart Watch"
        else:
            assert message["subject"].startswith("Welcome to Our Community, ")

    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert Counter(r["outcome"] for r in rejects) == {
        "invalid": report["invalid"],
        "duplicate": report["duplicate"],
        "skipped": report["skipped"],
    }
    assert all(isinstance(r["line"], int) and r["reason"] for r in rejects)
