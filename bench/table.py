"""The printed summary: one line per figure, with its target and whether it is met."""

from __future__ import annotations

from typing import Any

KIB_256 = 256 * 1024


def _mark(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "NOT MET")


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    tp, mem, tr, pacing, cost = r["throughput"], r["memory"], r["transitions"]["runs"], r["pacing"], r["cost"]
    small, large, wide = mem["small"], mem["large"], mem["wide"]
    calls = tp["calls_per_1000"]["by_service"]
    parent = {run["rows"]: run["parent_history_events"] for run in tr}
    per_1000 = ", ".join(f"{run['rows']:,}: {run['transitions_per_1000']:.1f}" for run in tr)
    full, default, throttled = pacing["share_1.0"], pacing["share_0.8"], pacing["throttled"]
    imports = r["coldstart"]
    slowest = max(imports, key=lambda name: imports[name]["import_ms"])
    slowest_untraced = max(imports, key=lambda name: imports[name]["import_ms_trace_disabled"])
    out = [
        (
            "Throughput, recipients per CPU-second (ours / baseline)",
            f"{tp['ours']['recipients_per_cpu_second']:,.0f} / {tp['baseline']['recipients_per_cpu_second']:,.0f}"
            f" = {tp['ratio']:.2f}x",
            ">= 20x",
            tp["ratio"] >= 20,
        ),
        (
            "Prepare peak RSS, 100k / 1M rows (difference)",
            f"{small['peak_rss_mb']:.0f} / {large['peak_rss_mb']:.0f} MB ({mem['difference_mb']:+.1f} MB)",
            "<= 64 MB more",
            mem["difference_mb"] <= 64,
        ),
        (
            "Prepare speed; 1M rows at 1 vCPU (1,769 MB)",
            f"{large['rows_per_cpu_second']:,.0f} rows per CPU-second; {mem['seconds_for_1m_rows']:.0f} s",
            "<= 450 s (half of 15 min)",
            mem["seconds_for_1m_rows"] <= 450,
        ),
        (
            "Wide rows (2 KB): max Map item / child input / Prepare output",
            f"{wide['max_item_bytes']} / {wide['max_child_input_bytes']} / {wide['prepare_output_bytes']} bytes",
            "< 256 KiB",
            max(wide["max_item_bytes"], wide["max_child_input_bytes"], wide["prepare_output_bytes"]) < KIB_256,
        ),
        (
            "API calls per 1,000 recipients",
            ", ".join(f"{service} {n:.1f}" for service, n in sorted(calls.items())),
            "(reported)",
            None,
        ),
        (
            "Parent history events by audience size",
            ", ".join(f"{rows:,}: {n}" for rows, n in parent.items()),
            "same for every size",
            len(set(parent.values())) == 1,
        ),
        ("State transitions per 1,000 (STANDARD children)", per_1000, "(reported)", None),
        (
            "Send path $ per 1M recipients (EXPRESS / STANDARD children)",
            f"${cost['send']['total_express']:.2f} / ${cost['send']['total_standard']:.2f}",
            "<= $0.50",
            cost["send"]["total_express"] <= 0.50,
        ),
        (
            "Feedback path $ per 1M recipients (3 events each)",
            f"${cost['feedback']['total']:.2f}",
            "<= $1.50",
            cost["feedback"]["total"] <= 1.50,
        ),
    ]
    for label, run in (("share 1.0", full), ("share 0.8, recipe default", default)):
        out.append(
            (
                f"Pacing at {run['max_send_rate']:.0f}/s ({label}): achieved rate",
                f"{run['achieved_rate']:.0f}/s = {run['achieved_share_of_limit']:.0%} of the limit"
                f" ({run['max_concurrency']} workers at {run['worker_rate']:.1f}/s)",
                ">= 90% of the limit",
                run["achieved_share_of_limit"] >= 0.9,
            )
        )
        out.append(
            (
                f"Pacing ({label}): most in 1 s / lost / twice",
                f"{run['max_in_any_one_second']} / {run['lost']} / {run['sent_twice']}"
                f" ({run['throttled_entries_by_rate']} entries throttled by the rate)",
                f"<= {run['max_send_rate']:.0f} / 0 / 0",
                run["max_in_any_one_second"] <= run["max_send_rate"] and not run["lost"] and not run["sent_twice"],
            )
        )
    out += [
        (
            "Pacing with 10% random ACCOUNT_THROTTLED: lost / twice",
            f"{throttled['lost']} / {throttled['sent_twice']} of {throttled['recipients']:,}"
            f" ({throttled['throttled_entries_at_random']} throttled entries retried)",
            "0 / 0",
            not throttled["lost"] and not throttled["sent_twice"] and throttled["accepted"] == throttled["recipients"],
        ),
        (
            "Cold start: handler import time (slowest)",
            f"{slowest} {imports[slowest]['import_ms']:.0f} ms; heaviest "
            + ", ".join(f"{h['module']} {h['cumulative_ms']:.0f}" for h in imports[slowest]["heaviest"][:3]),
            "(reported)",
            None,
        ),
        (
            "Cold start with POWERTOOLS_TRACE_DISABLED (slowest)",
            f"{slowest_untraced} {imports[slowest_untraced]['import_ms_trace_disabled']:.0f} ms; heaviest "
            + ", ".join(
                f"{h['module']} {h['cumulative_ms']:.0f}"
                for h in imports[slowest_untraced]["heaviest_trace_disabled"][:3]
            ),
            "(reported)",
            None,
        ),
    ]
    return out


def render(results: dict[str, Any]) -> str:
    lines = rows(results)
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    header = ("figure", "measured", "target")
    out = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:<{widths[2]}}  result"]
    out.append("-" * len(out[0]))
    for figure, measured, target, met in lines:
        out.append(f"{figure:<{widths[0]}}  {measured:<{widths[1]}}  {target:<{widths[2]}}  {_mark(met)}")
    return "\n".join(out)
