"""Smoke test of `make bench`: its pieces on tiny sizes, the shape of results.json and the
table, and positive numbers. No timing is asserted: timings are what the bench reports.

The local stack piece (bench.transitions) is the one left out for speed; its counting rule is
checked here and its result shape is stood in for.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from bench import audience, coldstart, feedback, memory, pacing, run, table, throughput, transitions


@pytest.fixture
def bench_environment():
    """The bench sets its own environment and points the engine's cached clients at its stubs:
    undo both, so later tests start clean."""
    saved = dict(os.environ)
    yield
    from campaign_engine.adapters import aws, secrets
    from campaign_engine.config import settings

    aws.reset()
    secrets.reset()
    settings.cache_clear()
    os.environ.clear()
    os.environ.update(saved)


def positive(document, path="") -> None:
    """Every number in a measurement is positive, or zero where it counts what must not happen."""
    zero_allowed = ("lost", "sent_twice", "unexpected", "throttled", "retries", "difference", "random_throttle")
    if isinstance(document, dict):
        for key, value in document.items():
            positive(value, f"{path}.{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            positive(value, f"{path}[{index}]")
    elif isinstance(document, (int, float)) and not isinstance(document, bool):
        assert document > 0 or (document == 0 and any(word in path for word in zero_allowed)), path


def test_bench_pieces_on_tiny_sizes(bench_environment, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()

    def save(name, document):
        positive(document, name)
        (parts / f"{name}.json").write_text(json.dumps(document))

    tp = throughput.measure(100, what_ifs=False)
    assert tp["baseline"]["recipients_per_cpu_second"] > 0 and tp["ours"]["recipients_per_cpu_second"] > 0
    assert {"dynamodb", "s3", "sesv2", "stepfunctions"} <= set(tp["calls_per_1000"]["by_service"])
    save("throughput", tp)

    csv = audience.write_csv(tmp_path / "audience.csv", 300, messy=True)
    wide = audience.write_csv(tmp_path / "wide.csv", 60, messy=True, wide=2048)
    for name, path, rows, keep in (("memory-small", csv, 300, False), ("memory-large", csv, 300, False)):
        save(name, memory.measure(path, rows, keep))
    wide_result = memory.measure(wide, 60, keep_items=True)
    assert 0 < wide_result["max_item_bytes"] < 256 * 1024
    save("memory-wide", wide_result)

    # 100/s at share 1.0: 4 workers at 25/s, each 50-recipient batch paced to 2 s.
    paced = pacing.measure(150, max_send_rate=100.0, share=1.0)
    assert paced["accepted"] == 150 and paced["lost"] == paced["sent_twice"] == 0
    assert paced["max_in_any_one_second"] <= 100
    throttled = pacing.measure(150, max_send_rate=100.0, share=1.0, throttle_share=0.1)
    assert throttled["accepted"] == 150 and throttled["lost"] == throttled["sent_twice"] == 0
    for name in ("pacing-share-1.0", "pacing-share-0.8"):
        save(name, paced)
    save("pacing-throttled", throttled)

    fb = feedback.measure(100)  # two of them bounce
    assert fb["Engagement"]["invocations"] >= 1 and fb["Suppression"]["events"] >= 1
    save("feedback", fb)

    imports = coldstart.measure(runs=1, only=["SendBatch"])
    assert imports["SendBatch"]["import_ms"] > 0 and imports["SendBatch"]["heaviest"]
    # Tracing off: observability.py never imports the X-Ray SDK (on: Powertools' Tracer does).
    assert "aws_xray_sdk.core" in {h["module"] for h in imports["SendBatch"]["heaviest"]}
    assert not any(h["module"].startswith("aws_xray") for h in imports["SendBatch"]["heaviest_trace_disabled"])
    save("coldstart", imports)

    assert transitions.transitions(Counter({"TaskStateEntered": 2, "TaskScheduled": 3, "ChoiceStateEntered": 1})) == 4
    stand_in = {"parent_history_events": 31, "parent_transitions": 8, "child_executions": 2, "child_transitions": 2}
    save(
        "transitions",
        {
            "runs": [
                {"rows": rows, **stand_in, "transitions_per_1000": 1, "child_transitions_per_child": 1}
                for rows in (50, 100)
            ]
        },
    )

    results = run.collect(parts)
    assert set(results) >= {"throughput", "memory", "transitions", "pacing", "coldstart", "feedback", "cost"}
    send, fb_cost = results["cost"]["send"], results["cost"]["feedback"]
    assert send["total_express"] > 0 and send["total_standard"] > 0 and fb_cost["total"] > 0
    assert all(price["source"].startswith("http") and price["read"] for price in results["cost"]["prices"].values())
    rendered = table.render(results)
    assert len(rendered.splitlines()) == len(table.rows(results)) + 2
    assert all(word in rendered for word in ("Throughput", "Pacing", "Cold start", "$"))


def test_history_rows_knob_parses_sizes():
    """make bench BENCH_HISTORY_ROWS=10000,50000 passes --history-rows to python -m bench."""
    assert run._row_list("10000,50_000") == (10_000, 50_000)
    for bad in ("10000", "0,10", "ten,twenty"):
        with pytest.raises((ValueError, run.argparse.ArgumentTypeError)):
            run._row_list(bad)
