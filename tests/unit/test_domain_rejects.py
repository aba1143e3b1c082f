"""Rejected rows tallied for people: commonest reasons first, their first lines, bounded memory."""

from __future__ import annotations

from campaign_engine.domain.rejects import FIRST_LINES, RejectsTally


def test_reasons_commonest_first_then_first_met_with_their_smallest_lines():
    tally = RejectsTally()
    for line in (90, 12, 40, 7, 55, 3, 70):
        tally.add("invalid", "no @", "email", line)
    tally.add("skipped", "no segment matched", None, 5)
    tally.add("duplicate", "earlier in the file", "email", 2)
    tally.add("invalid", "no line", "email")
    assert tally.total == 10 and tally.outcomes == {"invalid": 8, "skipped": 1, "duplicate": 1}
    assert tally.reasons() == [
        {"outcome": "invalid", "reason": "no @", "field": "email", "count": 7, "first_lines": [3, 7, 12, 40, 55]},
        {"outcome": "duplicate", "reason": "earlier in the file", "field": "email", "count": 1, "first_lines": [2]},
        {"outcome": "skipped", "reason": "no segment matched", "field": None, "count": 1, "first_lines": [5]},
        {"outcome": "invalid", "reason": "no line", "field": "email", "count": 1, "first_lines": []},
    ]
    assert FIRST_LINES == 5
