"""Rows that will not be sent, summarised for a person: counts by outcome and by (outcome,
field, reason), each with the first audience lines, in constant memory whatever the file's size.
Used for a run's rejects.jsonl (the report page) and for a preview, which never writes one."""

from __future__ import annotations

from collections import Counter
from typing import Any

FIRST_LINES = 5
_NO_LINE = 1 << 62  # sorts reasons without lines after every real line number

Key = tuple[str, str | None, str]  # outcome, field, reason


class RejectsTally:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self._counts: Counter[Key] = Counter()
        self._lines: dict[Key, list[int]] = {}

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def add(self, outcome: str, reason: str, field: str | None = None, line: int | None = None) -> None:
        key = (outcome, field, reason)
        self.outcomes[outcome] += 1
        self._counts[key] += 1
        if line is not None:
            # Keep only the smallest few: rows arrive in file order, but a merged or re-sorted
            # rejects file still yields its first lines.
            kept = self._lines.setdefault(key, [])
            kept.append(line)
            if len(kept) > FIRST_LINES:
                kept.sort()
                del kept[FIRST_LINES:]

    def reasons(self) -> list[dict[str, Any]]:
        """Every (outcome, field, reason), commonest first; on a tie, the one met first in the
        audience file (reasons without lines last)."""
        ranked = sorted(
            self._counts.items(), key=lambda item: (-item[1], min(self._lines.get(item[0]) or [_NO_LINE]))
        )
        return [
            {"outcome": o, "reason": r, "field": f, "count": n, "first_lines": sorted(self._lines.get((o, f, r), []))}
            for (o, f, r), n in ranked
        ]
