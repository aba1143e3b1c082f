"""Generated audiences for the recipe campaign (segments new_customers and loyal_customers).

``clean`` rows are all valid and distinct, so the baseline and our path send to exactly the
same recipients. ``messy`` rows also hold the mess real files have (an invalid address every
50 rows, a re-typed duplicate every 50 rows), so Prepare's reject path runs too. Rows are
deterministic and short (about 43 bytes a CSV line: 1,000,000 rows are about 43 MB).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Radia"]
LAST = ["Hopper", "Turing", "Liskov", "Knuth", "Allen", "Lamport", "Perlman"]


def rows(count: int, *, messy: bool = False, wide: int = 0) -> Iterator[dict[str, Any]]:
    for i in range(count):
        email = f"u{i}@example.com"
        if messy and i % 50 == 17:
            email = f"u{i}-at-example.com"  # not an address
        elif messy and i % 50 == 42:
            email = f" U{i - 1}@EXAMPLE.COM"  # the row before, typed differently: a duplicate
        row: dict[str, Any] = {
            "email": email,
            "name": f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}",
            "segment": "loyal_customers" if i % 10 < 3 else "new_customers",
        }
        if wide:
            row["bio"] = ("x" * 63 + " ") * (wide // 64)  # a wide attribute every row carries
        yield row


def json_bytes(count: int, **options: Any) -> bytes:
    return json.dumps(list(rows(count, **options))).encode()


def write_csv(path: Path, count: int, **options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        first = next(rows(1, **options))
        writer = csv.DictWriter(out, fieldnames=list(first), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(count, **options))
    return path
