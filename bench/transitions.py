"""State transitions per run, counted from real execution histories on the local stack.

Run as ``python -m bench.transitions --rows 10000 20000 --out result.json``. Each size is a
fresh local stack (campaign_local) running the real state machine with the real handlers:
upload the audience, wait for the execution, then count the parent's history and the Map
children's. moto runs Distributed Map children inline and records their events in an event
manager of their own that it then drops; this process keeps a reference to it (moto only, in
this process) so the children's events can be counted too.

A transition is a state entered (``*StateEntered``), plus each retry of a task (a further
``TaskScheduled`` within the same state entry), which is how Standard workflows are billed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import audience, harness

_CHILD_EVENT_MANAGERS: list[Any] = []


def _record_child_events() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    class Recording(EventManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _CHILD_EVENT_MANAGERS.append(self)

    component.EventManager = Recording


def transitions(types: Counter[str]) -> int:
    entered = sum(n for t, n in types.items() if t.endswith("StateEntered"))
    retries = max(0, types["TaskScheduled"] - types["TaskStateEntered"])
    return entered + retries


def _run(rows: int) -> dict[str, Any]:
    from campaign_local.stack import LocalStack

    _CHILD_EVENT_MANAGERS.clear()
    with LocalStack.start() as stack:
        stack.verify_sender("example.com")
        # Feedback functions are not what this measures; a large quota keeps every batch in one Map run.
        stack.configure_ses(publish_events=False, max_send_rate=5000, max_24_hour_send=10**9)
        for path in sorted((harness.ROOT / "templates").glob("*.json")):
            stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text()))
        definition = json.loads((harness.ROOT / "examples" / "recipe" / "campaign.json").read_text())
        stack.put_json(f"campaigns/{harness.CAMPAIGN_ID}.json", definition)
        started = time.monotonic()
        stack.upload(f"incoming/{harness.CAMPAIGN_ID}/transitions.json", audience.json_bytes(rows))
        executions = stack.wait_for_all(timeout=1800)
        wall = time.monotonic() - started
        if len(executions) != 1 or executions[0]["status"] != "SUCCEEDED":
            raise RuntimeError(f"expected one SUCCEEDED execution, got {[e['status'] for e in executions]}")
        sfn = stack.client("stepfunctions")
        arn = executions[0]["executionArn"]
        parent = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        map_runs = sfn.list_map_runs(executionArn=arn)["mapRuns"]
        children = sum(sfn.describe_map_run(mapRunArn=m["mapRunArn"])["executionCounts"]["total"] for m in map_runs)
        report = stack.report(harness.CAMPAIGN_ID, executions[0]["name"])
    parent_types = Counter(e["type"] for e in parent)
    child_types: Counter[str] = Counter(e["type"] for m in _CHILD_EVENT_MANAGERS for e in m.get_event_history())
    return {
        "rows": rows,
        "sent": report["sent"],
        "wall_seconds": wall,
        "parent_history_events": len(parent),
        "parent_transitions": transitions(parent_types),
        "map_runs": len(map_runs),
        "child_executions": children,
        "child_history_events": sum(child_types.values()),
        "child_transitions": transitions(child_types),
        # A child task that failed (and was retried by the state machine) is a local-stack
        # fault, not a property of the engine; it adds transitions, so it is reported.
        "child_task_failures": child_types["TaskFailed"],
        "child_event_types": dict(child_types),
        "parent_event_types": dict(parent_types),
    }


def measure(sizes: list[int]) -> dict[str, Any]:
    harness.prepare_environment()
    _record_child_events()
    runs = [_run(rows) for rows in sizes]
    for run in runs:
        if run["sent"] != run["rows"] or run["child_task_failures"]:
            print(
                f"warning: {run['rows']} rows: {run['sent']} sent, {run['child_task_failures']} child task "
                "failures on the local stack; see this part's log",
                file=sys.stderr,
            )
        run["transitions_per_1000"] = (run["parent_transitions"] + run["child_transitions"]) * 1000 / run["rows"]
        run["child_transitions_per_child"] = run["child_transitions"] / max(1, run["child_executions"])
    return {"runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    harness.write_json(args.out, measure(args.rows))


if __name__ == "__main__":
    main()
