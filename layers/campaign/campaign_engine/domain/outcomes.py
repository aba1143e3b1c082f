"""Every audience row ends in exactly one outcome; the report counts them."""

from __future__ import annotations

from collections import Counter
from enum import Enum


class Outcome(str, Enum):
    SENT = "sent"
    SUPPRESSED = "suppressed"
    INVALID = "invalid"
    DUPLICATE = "duplicate"  # earlier in the file, or already sent by this campaign occurrence
    SKIPPED = "skipped"  # no segment matched
    FAILED = "failed"  # SES rejected it for good
    UNKNOWN = "unknown"  # SES may have accepted it; never re-sent
    NOT_SENT = "not_sent"  # the run stopped (failed, paused, cancelled) before its batch went out


OUTCOMES = tuple(outcome.value for outcome in Outcome)


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(OUTCOMES, 0)


def add_counts(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    merged = Counter(total)
    merged.update(more)
    return {name: merged.get(name, 0) for name in OUTCOMES}
