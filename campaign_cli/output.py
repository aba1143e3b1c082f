"""Printing for people (rich tables on a terminal) or for scripts (``--json``: one JSON document
on stdout, nothing else there; progress and notes go to stderr)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 1 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


@dataclass
class Out:
    as_json: bool = False
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True))

    def document(self, value: Any) -> None:
        """The command's result: JSON with --json; otherwise the caller prints it its way."""
        json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
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
        for column in columns:
            table.add_column(column, justify="right" if column in numeric else "left")
        for row in rows:
            table.add_row(*(number(cell) for cell in row))
        self.console.print(table)
