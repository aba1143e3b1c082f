"""Printing for people (rich tables on a terminal) or for scripts (``--json``: one JSON document
on stdout, nothing else there; progress and notes go to stderr).

Conventions (docs/cli.md, "Conventions"):

- Tables fit the terminal only when stdout is one and ``--wide`` is not given; piped or
  redirected, or with ``--wide``, every cell is printed whole (no 80-column cut, no "…").
- Every time in a JSON document is ISO-8601 UTC to the second with a ``Z``
  (``2026-12-07T05:12:26Z``), whatever the source kept (epoch seconds in the runs table,
  ``+00:00`` offsets in reports, milliseconds in suppression records).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from campaign_engine.domain.run_record import iso_utc
from rich.console import Console
from rich.table import Table

# A piped table is as wide as its content: rich needs a width, so give it one no table reaches.
UNLIMITED_WIDTH = 100_000
# Keys whose values are times: ``*_at`` (started_at, finished_at, first_at, retried_at...) and a few
# bare names. Only these are rewritten, so a count or a size is never mistaken for a time.
TIME_KEY = re.compile(r"(^|_)(at|time|timestamp|date|since|until)$")


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 1 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def iso_times(value: Any, key: str | None = None) -> Any:
    """The document with every time under a time key as ISO-8601 UTC (see the module's doc)."""
    if isinstance(value, dict):
        return {k: iso_times(v, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [iso_times(item, key) for item in value]
    if key is not None and TIME_KEY.search(key):
        converted = iso_utc(value)
        return value if converted is None else converted
    return value


def human_time(value: Any) -> str:
    """A time for a table or a line: ``2026-12-07 05:12:26`` (UTC); ``-`` for none."""
    if value in (None, ""):
        return "-"
    iso = iso_utc(value)
    if iso is None:
        return str(value)
    return iso.replace("T", " ").removesuffix("Z")


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


class _Console(Console):
    """rich's Console, except on a closed pipe: rich exits 1 there on its own; ours lets
    ``main`` end the command with the documented code (errors.CLOSED_PIPE). A closed stderr only
    silences the notes: nothing else is lost."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        if not self.stderr:
            raise BrokenPipeError


def _console(*, stderr: bool = False, wide: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    width = None if terminal and not wide else UNLIMITED_WIDTH
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


@dataclass
class Out:
    as_json: bool = False
    wide: bool = False
    console: Console = field(init=False)
    err: Console = field(init=False)

    def __post_init__(self) -> None:
        self.console = _console(wide=self.wide)
        self.err = _console(stderr=True, wide=self.wide)

    @property
    def full_width(self) -> bool:
        """Cells are printed whole: stdout is not a terminal, or --wide."""
        return self.wide or not self.console.is_terminal

    def document(self, value: Any) -> None:
        """The command's result: JSON with --json; otherwise the caller prints it its way."""
        json.dump(iso_times(value), sys.stdout, indent=2, default=_json_default, ensure_ascii=False)
        sys.stdout.write("\n")

    def line(self, text: str = "") -> None:
        if not self.as_json:
            self.console.print(text)

    def note(self, text: str) -> None:
        self.err.print(text)

    def table(
        self,
        title: str | None,
        columns: list[str],
        rows: list[list[Any]],
        numeric: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        if self.as_json:
            return
        table = Table(title=title, title_justify="left", header_style="bold")
        whole = self.full_width
        for column in columns:
            table.add_column(
                column,
                justify="right" if column in numeric else "left",
                # Whole cells: never wrapped, never elided. On a terminal, a long cell folds
                # onto a second line rather than losing its end to "…".
                no_wrap=whole,
                overflow="fold",
            )
        for row in rows:
            table.add_row(*(number(cell) for cell in row))
        self.console.print(table)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    return str(value)
