"""`make demo` end to end (smaller audience): its outputs are what the README promises."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from campaign_engine.domain.outcomes import OUTCOMES

from campaign_local import demo
from campaign_local.audience_gen import generate

pytestmark = pytest.mark.workflow


def test_demo_end_to_end(tmp_path, capsys):
    """One demo run (smaller audience): the send, the feedback loop, the follow-up, the replay."""
    prior = tmp_path / "prior.jsonl"
    prior.write_text(json.dumps(PRIOR_COMPLAINT) + "\n")
    rows = json.loads((demo.ROOT / "examples/recipe/subscribers.json").read_text())
    rows += [
        {"email": f"{local}+t@simulator.amazonses.com", "name": "Sim", "segment": "new_customers"}
        for local in ("bounce", "complaint", "suppressionlist", "success", "ooto")
    ]
    rows += list(generate(400))
    audience = tmp_path / "audience.json"
    audience.write_text(json.dumps(rows))
    argv = ["--audience", str(audience), "--out", str(tmp_path), "--prior-events", str(prior), "--replay-events"]
    assert demo.main(argv) == 0
    printed = capsys.readouterr().out
    assert "status COMPLETED" in printed and "new_customers" in printed and "loyal_customers" in printed
    for line in ("Feedback: delivered", "One-click unsubscribe", "Follow-up campaign", "counts unchanged"):
        assert line in printed

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rows"] == len(rows)
    assert sum(report[o] for o in OUTCOMES) == report["rows"]
    assert report["invalid"] > 0 and report["duplicate"] > 0 and report["skipped"] > 0
    assert report["suppressed"] == 1  # the address of the imported complaint

    messages = [json.loads(line) for line in (tmp_path / "messages.jsonl").read_text().splitlines()]
    assert len(messages) == report["sent"]
    recipients = Counter(m["to"] for m in messages)
    assert max(recipients.values()) == 1
    templates = {"new_customers": "welcome-campaign", "loyal_customers": "product-promotion"}
    for message in messages:
        assert message["template"] == templates[message["segment"]]
        assert message["headers"]["List-Unsubscribe"].startswith("<http")
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

    feedback = report["feedback"]
    assert feedback["sent"] == report["sent"]
    assert feedback["delivered"] > 0 and feedback["hard_bounced"] >= 2 and feedback["complained"] >= 1
    assert feedback["opened"] > 0 and feedback["clicked"] > 0 and feedback["unsubscribed"] == 1
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    first_run = [e for e in events if e["mail"]["tags"]["run"] == [report["run_id"]]]
    assert sum(e["eventType"] == "Delivery" for e in first_run) == feedback["delivered"]

    followup = json.loads((tmp_path / "report-followup.json").read_text())
    expected = 1 + feedback["hard_bounced"] + feedback["complained"] + feedback["unsubscribed"]
    assert followup["suppressed"] == expected and followup["status"] == "COMPLETED"
    followup_to = {json.loads(line)["to"] for line in (tmp_path / "messages-followup.jsonl").read_text().splitlines()}
    assert not {"bounce+t@simulator.amazonses.com", "complaint+t@simulator.amazonses.com"} & followup_to
    assert len(followup_to) == followup["sent"]


PRIOR_COMPLAINT = {
    "notificationType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "subscriber2@example.com"}],
        "timestamp": "2025-06-01T10:00:00.000Z",
        "feedbackId": "imported-from-previous-system",
        "complaintFeedbackType": "abuse",
    },
    "mail": {
        "timestamp": "2025-06-01T09:00:00.000Z",
        "messageId": "previous-system-0001",
        "source": "marketing@example.com",
        "destination": ["subscriber2@example.com"],
    },
}
