"""Memory and speed of Prepare on a large CSV, in a fresh process per size.

Run as ``python -m bench.memory --csv FILE --rows N --out result.json``. S3 GetObject streams
the audience from the local file and every object Prepare writes is counted and dropped, so
the process's peak RSS (VmHWM) is Prepare's own, not the stub's. ``--keep-items`` keeps
items.json (the wide-row run reads it back to size the Map's item payloads).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from . import harness
from .stubs import DynamoStub, S3Stub, SesStub, StubAws


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _compact(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


def measure(csv: Path, rows: int, keep_items: bool = False) -> dict[str, Any]:
    harness.prepare_environment()
    key = f"incoming/{harness.CAMPAIGN_ID}/{csv.name}"
    s3 = S3Stub(files={key: csv}, keep=lambda written: keep_items and written.endswith("items.json"))
    stub = StubAws(s3, DynamoStub(keep_items=False), SesStub())
    harness.install(stub)
    harness.put_recipe(stub)
    for function in ("StartCampaign", "Prepare"):
        harness.handler(function)
    rss_ready_kb = _status_kb("VmRSS")

    wall, cpu = time.monotonic(), time.process_time()
    with harness.quiet():
        _run, prepared = harness.start_and_prepare(stub, key)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu

    peak_kb = _status_kb("VmHWM")
    result: dict[str, Any] = {
        "rows": rows,
        "csv_bytes": csv.stat().st_size,
        "status": prepared["status"],
        "batches": prepared["batch_count"],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "rows_per_second": rows / wall,
        "rows_per_cpu_second": rows / cpu,
        "rss_after_imports_mb": rss_ready_kb / 1024,
        "peak_rss_mb": peak_kb / 1024,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "prepare_output_bytes": _compact(prepared),
        "bytes_written": {name.rsplit("/", 1)[-1]: size for name, size in s3.written.items()},
    }
    if keep_items:
        items = json.loads(s3.objects[prepared["items_key"]])
        result["max_item_bytes"] = max(_compact(item) for item in items)
        result["max_child_input_bytes"] = max(_compact({"context": prepared["context"], "item": i}) for i in items)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--keep-items", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    harness.write_json(args.out, measure(args.csv, args.rows, args.keep_items))


if __name__ == "__main__":
    main()
