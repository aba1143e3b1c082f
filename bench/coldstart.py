"""Cold start: how long each handler module takes to import (``python -X importtime``).

Each functions/<name>/app.py is imported in a fresh interpreter the way Lambda loads it: the
function's directory and the layer on the path, the template's Globals environment set (the
Powertools settings decide what Tracer and Metrics import), once as deployed (tracing on) and
once with POWERTOOLS_TRACE_DISABLED=true. The fastest of a few runs counts
(the first one may also compile bytecode, which a deployed layer ships already compiled).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import harness

RUNS = 3


class Import:
    """One line of -X importtime output; ``parent`` is the import that triggered it."""

    def __init__(self, name: str, depth: int, cumulative_us: int) -> None:
        self.name, self.depth, self.cumulative_us = name, depth, cumulative_us
        self.parent: Import | None = None

    def inside(self, other: Import) -> bool:
        node = self.parent
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


def _parse(stderr: str) -> list[Import]:
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _own, cumulative, name = line[len("import time:") :].split("|")
        found.append(Import(name.strip(), (len(name) - len(name.lstrip()) - 1) // 2, int(cumulative)))
    # Output is post-order: an import's parent is the next line one level up.
    stack: list[Import] = []
    for entry in reversed(found):
        while stack and stack[-1].depth >= entry.depth:
            stack.pop()
        entry.parent = stack[-1] if stack else None
        stack.append(entry)
    return found


def heaviest(imports: list[Import], count: int = 5) -> list[Import]:
    """The heaviest imports by cumulative time, outside the engine's own modules, and one
    per chain (a module inside one already listed is part of its time)."""
    app = next(e for e in imports if e.name == "app" and e.depth == 0)
    listed: list[Import] = []
    for entry in sorted(imports, key=lambda e: -e.cumulative_us):
        # The venv's editable-install finder is not in a deployed layer.
        if not entry.inside(app) or entry.name.startswith(("campaign_engine", "__editable__")):
            continue
        if any(entry.inside(other) or other.inside(entry) for other in listed):
            continue
        listed.append(entry)
        if len(listed) == count:
            break
    return listed


def _import_once(code_dir: str, environment: dict[str, str]) -> list[Import]:
    env = {**os.environ, **environment}
    env["PYTHONPATH"] = os.pathsep.join([str(harness.ROOT / code_dir), str(harness.ROOT / "layers" / "campaign")])
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=harness.ROOT / code_dir,
    )
    return _parse(done.stderr)


def measure(runs: int = RUNS, only: list[str] | None = None) -> dict[str, Any]:
    """Per function: ``import_ms`` with the template's environment (tracing on, as deployed
    with ``Tracing: Active``: Powertools' Tracer and the X-Ray SDK), and
    ``import_ms_trace_disabled`` with POWERTOOLS_TRACE_DISABLED=true (observability.py then
    imports no X-Ray SDK)."""
    environment = {
        **harness.template_environment(),
        **{k: harness.ENVIRONMENT[k] for k in ("AWS_DEFAULT_REGION", "AWS_REGION")},
    }
    # Explicit both ways: this process may have the bench's own setting in its environment.
    untraced = {**environment, "POWERTOOLS_TRACE_DISABLED": "true"}
    environment["POWERTOOLS_TRACE_DISABLED"] = "false"  # unset in the template: tracing on
    results = {}
    for function, spec in harness.functions().items():
        if only and function not in only:
            continue
        found = {}
        for key, env in (("", environment), ("_trace_disabled", untraced)):
            best = min((_import_once(spec["code_dir"], env) for _ in range(runs)), key=_total)
            found[f"import_ms{key}"] = _total(best) / 1000
            found[f"heaviest{key}"] = [
                {"module": e.name, "cumulative_ms": e.cumulative_us / 1000} for e in heaviest(best)
            ]
        results[function] = found
    return results


def _total(imports: list[Import]) -> int:
    return next(e.cumulative_us for e in imports if e.name == "app" and e.depth == 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    harness.write_json(args.out, measure(args.runs))


if __name__ == "__main__":
    main()
