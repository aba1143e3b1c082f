"""The demo's generated audience: realistic rows plus the mess real files have.

Deterministic for a seed. Besides good rows it holds invalid addresses, rows missing a
template variable, in-file duplicates (differing in case and spacing), rows that match no
segment, and SES mailbox simulator addresses (success, bounce, complaint, ooto,
suppressionlist, with +labels so each is a distinct recipient).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Perlman"]
PREFERENCES = ["electronics", "books", "fashion", "home", "sports", "garden", "toys", "music"]
# Every 200th row is a mailbox simulator address, in this order: per 2,000 rows three bounces
# and one complaint, so a demo shows the feedback loop without tripping the run's breaker
# (complaints are rarer than bounces on a real list; SES reviews an account at 0.1%).
SIMULATOR = [
    "success",
    "bounce",
    "ooto",
    "suppressionlist",
    "success",
    "bounce",
    "complaint",
    "ooto",
    "success",
    "success",
]
INVALID = ["not-an-address", "missing-at.example.com", "two@@example.com", "", "spaces in@example.com", "trailing@"]


def generate(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    issued: list[str] = []
    for i in range(count):
        roll = rng.random()
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        segment = rng.choices(["new_customers", "loyal_customers", "prospects"], weights=[68, 27, 5])[0]
        prefs = rng.sample(PREFERENCES, k=rng.randint(0, 3))
        if i % 200 == 199:  # always sent: a valid row of a segment that has a template
            simulator = SIMULATOR[(i // 200) % len(SIMULATOR)]
            yield {"email": f"{simulator}+demo{i}@simulator.amazonses.com", "name": name, "segment": "new_customers"}
            continue
        if roll < 0.02:
            email = rng.choice(INVALID)
        elif roll < 0.04 and issued:
            email = "  " + rng.choice(issued).upper() + " "  # the same person, typed differently
        else:
            email = f"customer{i}@{rng.choice(['example.com', 'example.org', 'example.net'])}"
            issued.append(email)
        row: dict[str, Any] = {"email": email, "name": name, "segment": segment, "preferences": prefs}
        if rng.random() < 0.005:
            del row["name"]  # the templates need {{name}}: such a row is invalid, never sent blank
        yield row
