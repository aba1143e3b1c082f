"""A campaign run's report.json (and its rejects) as one self-contained HTML page.

Pure and standard library only: the operator opens the file from disk, maybe offline or mailed to
someone, so the page has no network access, no external assets and no JavaScript; the charts are
inline SVG and the styles inline CSS. Every value from the report is text that passed through
``_text`` (addresses redacted, HTML escaped): report fields such as the pause reason quote SES's
error messages, which name recipients.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from campaign_engine.domain.rejects import RejectsTally

# The engine's outcomes, in the report's order (campaign_engine.domain.outcomes.OUTCOMES; not
# imported: that package is the Lambda layer, and this page must render without it).
OUTCOMES = ("sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent")
REJECT_OUTCOMES = OUTCOMES[1:]

OUTCOME_NOTES = {
    "sent": "accepted by SES",
    "suppressed": "on a suppression list",
    "invalid": "address failed validation",
    "duplicate": "earlier in the file, or already sent this occurrence",
    "skipped": "no segment matched",
    "failed": "SES rejected it for good",
    "unknown": "SES may have accepted it; never re-sent",
    "not_sent": "the run stopped before its batch went out",
}

FUNNEL = ("sent", "delivered", "opened", "clicked")
RATES = ("delivery", "bounce", "complaint", "open", "click", "unsubscribe")
# What each rate is a share of, for reports written before the report named it next to the rate
# (campaign_engine.domain.engagement.summary); the page always writes the basis next to the rate.
RATE_BASIS = {
    "delivery": "sent",
    "bounce": "delivered+hard_bounced",
    "complaint": "delivered",
    "open": "delivered",
    "click": "delivered",
    "unsubscribe": "delivered",
}
BASIS_WORDS = {"sent": "of sent", "delivered": "of delivered", "delivered+hard_bounced": "of delivered + hard-bounced"}
# The funnel's stages, each with the rate (and so the basis) the cards show for it.
FUNNEL_RATES = {"delivered": "delivery", "opened": "open", "clicked": "click"}
# SES puts an account under review from these rates on (and may pause it at 10% / 0.5%), so the
# page flags them rather than leaving the reader to remember the numbers.
RATE_WARNINGS = {"bounce": 0.05, "complaint": 0.001}
SEGMENT_FEEDBACK = ("delivered", "bounced", "complained", "opened", "clicked", "unsubscribed")
# Which rate belongs under which feedback count in the segment table.
SEGMENT_RATES = {
    "delivered": "delivery",
    "bounced": "bounce",
    "complained": "complaint",
    "opened": "open",
    "clicked": "click",
}

TOP_REASONS = 10

# Same pattern as campaign_engine.domain.addresses.redact (which imports email_validator): anything
# with an @ between two runs of non-separator characters is treated as an address.
_ANY_ADDRESS = re.compile(r"[^\s@<>\"',;:()\[\]]+@[^\s@<>\"',;:()\[\]]+")
REDACTED = "[address]"


def redact(text: str) -> str:
    return _ANY_ADDRESS.sub(REDACTED, text)


# -- rejects summary ------------------------------------------------------------------------------


def summarise_rejects(rows: Iterable[dict], *, top: int = TOP_REASONS) -> dict:
    """Count a run's rejects.jsonl rows by outcome and by (outcome, field, reason).

    Returns ``{"total", "outcomes": {outcome: count}, "reasons": [{"outcome", "reason", "field",
    "count", "first_lines"}], "other_reasons": int}`` with the ``top`` commonest reasons, most
    frequent first, each with its first ``FIRST_LINES`` line numbers of the audience file so the
    operator can find them. The rows' ``email`` is never read, and reasons are redacted, because
    validation messages may quote the address.
    """
    tally = RejectsTally()
    for row in rows:
        # A row without an outcome is still a reject: count it rather than drop it.
        field = row.get("field")
        line = row.get("line")
        tally.add(
            redact(str(row.get("outcome") or "unknown")),
            redact(str(row.get("reason") or "")),
            None if field is None else redact(str(field)),
            line if isinstance(line, int) and not isinstance(line, bool) else None,
        )
    ranked = tally.reasons()
    outcomes = tally.outcomes
    known = {name: outcomes.get(name, 0) for name in REJECT_OUTCOMES}
    extra = {name: n for name, n in sorted(outcomes.items()) if name not in known}
    return {
        "total": tally.total,
        "outcomes": {**known, **extra},
        "reasons": ranked[:top],
        "other_reasons": sum(reason["count"] for reason in ranked[top:]),
    }


# -- formatting -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Any report value as safe HTML text."""
    return html.escape(redact("" if value is None else str(value)), quote=True)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    return None


def _count(value: Any) -> str:
    n = _number(value)
    if n is None:
        return "—" if value is None else _text(value)
    return f"{n:,}" if isinstance(n, int) or n.is_integer() else f"{n:,.2f}"


def _pct(value: Any) -> str:
    """A 0..1 ratio as a percentage; tiny non-zero rates stay visibly non-zero."""
    n = _number(value)
    if n is None:
        return "—"
    if 0 < n * 100 < 0.01:
        return "&lt;0.01%"
    return f"{n * 100:,.2f}%"


def _ratio(part: Any, whole: Any) -> float | None:
    p, w = _number(part), _number(whole)
    if p is None or not w:
        return None
    return p / w


def _rate(rates: Mapping, name: str) -> tuple[float | None, str]:
    """(rate, basis in words) of a report's rate: ``{"rate": 0.39, "of": "delivered"}``, or a
    bare number as reports before the basis was named had it."""
    raw = rates.get(name)
    basis = RATE_BASIS.get(name, "")
    if isinstance(raw, Mapping):
        basis = str(raw.get("of") or basis)
        raw = raw.get("rate")
    value = _number(raw)
    return (float(value) if value is not None else None), BASIS_WORDS.get(basis, f"of {basis}" if basis else "")


def _parse_time(value: Any) -> datetime | None:
    """ISO strings (report timestamps) and epoch seconds (quota waits) as aware datetimes."""
    n = _number(value)
    if n is not None:
        try:
            return datetime.fromtimestamp(n, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _time(value: Any) -> str:
    moment = _parse_time(value)
    if moment is None:
        return "—" if value in (None, "") else _text(value)
    # Date and time each kept whole, so a narrow column breaks between them and nowhere else.
    shown = moment.astimezone(UTC).strftime('<span class="nw">%Y-%m-%d</span> <span class="nw">%H:%M:%S UTC</span>')
    return f'<time datetime="{_text(moment.isoformat())}">{shown}</time>'


def _duration(start: Any, end: Any) -> str | None:
    a, b = _parse_time(start), _parse_time(end)
    if a is None or b is None or b < a:
        return None
    seconds = round((b - a).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes or hours:
        parts.append(f"{minutes} min")
    parts.append(f"{seconds} s")
    return " ".join(parts)


def _mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


# -- sections -------------------------------------------------------------------------------------

STATUS_TONES = {"COMPLETED": "good", "FAILED": "bad", "CANCELLED": "bad", "PAUSED": "warn", "RUNNING": "warn"}


def _header(report: Mapping, heading: str) -> str:
    status = str(report.get("status") or "UNKNOWN")
    tone = STATUS_TONES.get(status.upper(), "neutral")
    took = _duration(report.get("started_at"), report.get("finished_at"))
    facts = [
        ("Campaign", f"<code>{_text(report.get('campaign_id') or '—')}</code>"),
        ("Run", f"<code>{_text(report.get('run_id') or '—')}</code>"),
        ("Status", f'<span class="badge {tone}">{_text(status)}</span>'),
        ("Trigger", _text(report.get("trigger") or "—")),
        ("Started", _time(report.get("started_at"))),
        ("Finished", _time(report.get("finished_at"))),
    ]
    if took:
        facts.append(("Duration", took))
    if report.get("occurrence"):
        facts.append(("Occurrence", _text(report["occurrence"])))
    batches = _mapping(report.get("batches"))
    if batches:
        facts.append(("Batches", f"{_count(batches.get('recorded'))} of {_count(batches.get('planned'))} recorded"))
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    return (
        '<header>\n<p class="eyebrow">Campaign run report</p>\n'
        f'<h1>{_text(heading)}</h1>\n<dl class="facts">{items}</dl>\n</header>'
    )


def _stop_notice(report: Mapping) -> str:
    """Why the run paused or stopped, first thing under the header when there is a reason."""
    parts = []
    if report.get("reason"):
        parts.append(f"<p><strong>Reason:</strong> {_text(report['reason'])}</p>")
    error = report.get("error")
    if isinstance(error, Mapping):
        # Step Functions errors arrive as {"Error": ..., "Cause": ...}.
        error = ": ".join(str(error[k]) for k in ("Error", "error", "Cause", "cause", "message") if error.get(k)) or (
            json.dumps(error, sort_keys=True, default=str)
        )
    if error:
        parts.append(f"<p><strong>Error:</strong> {_text(error)}</p>")
    if not parts:
        return ""
    tone = "bad" if str(report.get("status", "")).upper() in ("FAILED", "CANCELLED") else "warn"
    return f'<div class="notice {tone}" role="note" aria-label="Why the run stopped">{"".join(parts)}</div>'


def _funnel(feedback: Mapping, sent: Any) -> str:
    """Sent → delivered → opened → clicked as horizontal SVG bars drawn to the scale of sent;
    each stage's share is the rate the cards show, with the same basis written next to it.

    The SVG has no viewBox: bar widths are percentages of its width and text keeps its size, so
    the chart stays legible from phone to desktop width.
    """
    base = _number(feedback.get("sent", sent)) or 0
    rates = _mapping(feedback.get("rates"))
    row, bar_y, bar_h = 50, 24, 18
    parts, described = [], []
    for i, stage in enumerate(FUNNEL):
        value = base if stage == "sent" else feedback.get(stage)
        width = max(0.0, min(_ratio(value, base) or 0.0, 1.0)) * 100
        top = i * row
        if stage in FUNNEL_RATES:
            share, basis = _rate(rates, FUNNEL_RATES[stage])
            label = f"{_count(value)} · {_pct(share)} {_text(basis)}"
            described.append(f"{_label(stage)} {_count(value)} ({_pct(share)} {_text(basis)})")
        else:
            label = _count(value)
            described.append(f"{_label(stage)} {_count(value)}")
        parts.append(
            f'<g class="stage" data-stage="{stage}">'
            f'<text x="0" y="{top + 16}" class="stage-name">{_label(stage)}</text>'
            f'<text x="100%" y="{top + 16}" text-anchor="end" class="stage-value">{label}</text>'
            f'<rect x="0" y="{top + bar_y}" width="100%" height="{bar_h}" rx="3" class="track"/>'
            f'<rect x="0" y="{top + bar_y}" width="{width:.3f}%" height="{bar_h}" rx="3" '
            f'class="bar bar-{stage}" data-stage="{stage}" data-value="{_text(value)}"/>'
            "</g>"
        )
    description = "; ".join(described)
    return (
        f'<svg class="funnel" width="100%" height="{row * len(FUNNEL) - 8}" role="img" '
        f'aria-labelledby="funnel-title funnel-desc" aria-label="Engagement funnel: {description}">'
        f'<title id="funnel-title">Engagement funnel: bars to the scale of messages sent, each share '
        f"with its basis</title>"
        f'<desc id="funnel-desc">{description}</desc>{"".join(parts)}</svg>'
    )


def _rates(rates: Mapping) -> str:
    cards = []
    for name in RATES:
        if name not in rates and name == "unsubscribe":
            continue  # reports from before the unsubscribe rate
        value, basis = _rate(rates, name)
        limit = RATE_WARNINGS.get(name)
        warn = value is not None and limit is not None and value >= limit
        note = f'<span class="card-note">at or above SES&#8217;s {_pct(limit)} review level</span>' if warn else ""
        cards.append(
            f'<div class="card{" warn" if warn else ""}" data-rate="{name}">'
            f'<dt>{_label(name)} rate</dt><dd>{_pct(value)} <span class="basis">{_text(basis)}</span></dd>{note}</div>'
        )
    return f'<dl class="cards">{"".join(cards)}</dl>'


def _feedback_section(report: Mapping) -> str:
    feedback = report.get("feedback")
    if not isinstance(feedback, Mapping) or not feedback:
        return (
            '<section aria-labelledby="engagement"><h2 id="engagement">Delivery and engagement</h2>'
            '<p class="empty">No feedback yet: SES has not reported any delivery, bounce, open or click '
            "events for this run. Finalize the run again later to refresh the report.</p></section>"
        )
    return (
        '<section aria-labelledby="engagement"><h2 id="engagement">Delivery and engagement</h2>'
        f"{_rates(_mapping(feedback.get('rates')))}"
        f'<h3 id="funnel">Funnel</h3>{_funnel(feedback, report.get("sent"))}'
        f"{_unique_against_total(feedback)}</section>"
    )


def _unique_against_total(feedback: Mapping) -> str:
    """Opens and clicks: every event against the messages with at least one."""
    rows = ""
    for name, total, unique in (("Opens", "opens", "opened"), ("Clicks", "clicks", "clicked")):
        per = _ratio(feedback.get(total), feedback.get(unique))
        each = f"{per:,.2f}" if per is not None else "—"
        rows += (
            f'<tr data-engagement="{total}"><th scope="row">{name}</th>'
            f'<td class="num">{_count(feedback.get(total))}</td>'
            f'<td class="num">{_count(feedback.get(unique))}</td><td class="num">{each}</td></tr>'
        )
    return (
        '<div class="table-wrap"><table class="unique"><caption>Unique against total: every open and click '
        "SES reported, and the messages with at least one (clicks on the unsubscribe link are not "
        "counted here)</caption>"
        '<thead><tr><th scope="col">Event</th><th scope="col" class="num">Total</th>'
        '<th scope="col" class="num">Unique (messages)</th><th scope="col" class="num">Per message</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _links(report: Mapping) -> str:
    """Clicks per link, the unsubscribe link apart (leaving is not engagement)."""
    heading = '<section aria-labelledby="links"><h2 id="links">Clicks per link</h2>'
    feedback = report.get("feedback")
    rows = [row for row in _mapping(feedback).get("links") or [] if isinstance(row, Mapping)]
    if not isinstance(feedback, Mapping) or not feedback:
        return heading + '<p class="empty">No feedback yet.</p></section>'
    links = [row for row in rows if not row.get("unsubscribe")]
    unsubscribe = [row for row in rows if row.get("unsubscribe")]
    if not rows:
        return heading + '<p class="empty">No clicks recorded.</p></section>'
    body = "".join(
        f'<tr data-link="{_text(row.get("link"))}"><th scope="row" class="link">'
        f"{_text(row.get('link')) if not row.get('other') else '<em>Other links</em>'}</th>"
        f"<td>{_text(row.get('label') or '—')}</td>"
        f'<td class="num">{_count(row.get("clicks"))}</td><td class="num">{_count(row.get("unique_clicks"))}</td></tr>'
        for row in links
    )
    table = (
        '<div class="table-wrap"><table class="links"><caption>Clicks on each link (personalised links '
        "counted by scheme, host and path)</caption>"
        '<thead><tr><th scope="col">Link</th><th scope="col">Label</th><th scope="col" class="num">Clicks</th>'
        '<th scope="col" class="num">Unique</th></tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
        if links
        else '<p class="empty">No clicks on the campaign&#8217;s links.</p>'
    )
    apart = "".join(
        f'<p class="unsubscribe-link" data-unsubscribe-clicks="{_text(row.get("clicks"))}">'
        f"<strong>Unsubscribe link:</strong> {_count(row.get('clicks'))} clicks by "
        f"{_count(row.get('unique_clicks'))} recipients, shown apart: not engagement, not in the click rate "
        "(unsubscribes themselves are counted in the rates above).</p>"
        for row in unsubscribe
    )
    return f"{heading}{table}{apart}</section>"


def _timeline(report: Mapping) -> str:
    """Opens and clicks per hour (then per day) as CSS bars, every event and unique."""
    heading = '<section aria-labelledby="timeline"><h2 id="timeline">Opens and clicks over time</h2>'
    feedback = report.get("feedback")
    buckets = [row for row in _mapping(feedback).get("timeline") or [] if isinstance(row, Mapping)]
    if not buckets:
        return heading + '<p class="empty">No opens or clicks recorded.</p></section>'
    top = max(max(_number(row.get("opens")) or 0, _number(row.get("clicks")) or 0) for row in buckets) or 1
    body = ""
    for row in buckets:
        start, hours = row.get("start"), _number(row.get("hours"))
        moment = _parse_time(start)
        if moment is None:
            when = "Later"
        elif hours == 1:
            when = moment.strftime('<span class="nw">%Y-%m-%d</span> <span class="nw">%H:00 UTC</span>')
        else:
            when = moment.strftime('<span class="nw">%Y-%m-%d</span> <span class="nw">(day)</span>')
        cells = ""
        for kind in ("opens", "clicks"):
            total, unique = _number(row.get(kind)) or 0, _number(row.get(f"unique_{kind}")) or 0
            cells += (
                f'<td class="bars" data-{kind}="{_text(total)}">'
                f'<span class="figure">{_count(total)} <span class="muted">/ {_count(unique)}</span></span>'
                f'<span class="bar-track"><span class="bar-fill {kind}" style="width:{total / top * 100:.2f}%"></span>'
                f'<span class="bar-fill unique" style="width:{unique / top * 100:.2f}%"></span></span></td>'
            )
        body += f'<tr><th scope="row">{when}</th>{cells}</tr>'
    return (
        heading + '<div class="table-wrap"><table class="timeline"><caption>Per hour (UTC) for the first three '
        "days after a message was sent, then per day. Total / unique: every event, and the messages with at "
        "least one in that hour or day (a message opened in two hours counts in both).</caption>"
        '<thead><tr><th scope="col">When</th><th scope="col">Opens (total / unique)</th>'
        '<th scope="col">Clicks (total / unique)</th></tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


def _audience(report: Mapping) -> str:
    """How Prepare read the audience file, and its warnings, when the report has them."""
    audience = _mapping(report.get("audience"))
    warnings = [w for w in report.get("warnings") or [] if w]
    if not audience and not warnings:
        return ""
    facts = []
    for key, label in (
        ("format", "Format"),
        ("encoding", "Encoding"),
        ("delimiter", "Delimiter"),
        ("compression", "Compression"),
        ("email_column", "Email column"),
    ):
        value = audience.get(key)
        if value not in (None, ""):
            shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(str(value), str(value))
            facts.append((label, f"<code>{_text(shown)}</code>"))
    columns = audience.get("columns")
    if isinstance(columns, list) and columns:
        more = _number(audience.get("columns_total"))
        extra = f" (of {_count(more)})" if more and more > len(columns) else ""
        facts.append(("Columns", ", ".join(f"<code>{_text(c)}</code>" for c in columns) + extra))
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    listed = "".join(f"<li>{_text(w)}</li>" for w in warnings)
    return (
        '<section aria-labelledby="audience"><h2 id="audience">Audience file</h2>'
        + (f'<dl class="facts compact">{items}</dl>' if items else "")
        + (f'<h3>Warnings</h3><ul class="warnings">{listed}</ul>' if listed else "")
        + "</section>"
    )


def _outcomes(report: Mapping) -> str:
    rows = _number(report.get("rows"))
    total = sum(_number(report.get(name)) or 0 for name in OUTCOMES)
    body = "".join(
        f'<tr data-outcome="{name}"><th scope="row">{_label(name)}</th>'
        f'<td class="note">{OUTCOME_NOTES[name]}</td>'
        f'<td class="num">{_count(report.get(name, 0))}</td>'
        f'<td class="num">{_pct(_ratio(report.get(name, 0), rows))}</td></tr>'
        for name in OUTCOMES
    )
    matches = rows is not None and total == rows
    check = (
        '<span class="ok">✓ equals the audience rows</span>'
        if matches
        else f'<span class="bad-text">≠ {_count(report.get("rows"))} audience rows</span>'
    )
    return (
        '<section aria-labelledby="outcomes"><h2 id="outcomes">Send outcomes</h2>'
        '<div class="table-wrap"><table class="outcomes">'
        "<caption>Every audience row ends in exactly one outcome.</caption>"
        '<thead><tr><th scope="col">Outcome</th><th scope="col" class="note">Meaning</th>'
        '<th scope="col" class="num">Rows</th><th scope="col" class="num">Share</th></tr></thead>'
        f"<tbody>{body}</tbody>"
        f'<tfoot><tr class="total"><th scope="row">Total</th><td class="note">{check}</td>'
        f'<td class="num" data-total="{total}">{_count(total)}</td>'
        f'<td class="num">{_pct(_ratio(total, rows))}</td></tr>'
        f'<tr><th scope="row">Audience rows</th><td class="note"></td>'
        f'<td class="num" data-rows="{_text(report.get("rows"))}">{_count(report.get("rows"))}</td><td></td></tr>'
        "</tfoot>"
        "</table></div></section>"
    )


def _segment_cells(outcomes: Mapping, feedback: Mapping | None) -> str:
    cells = "".join(f'<td class="num">{_count(outcomes.get(name, 0) if outcomes else None)}</td>' for name in OUTCOMES)
    rates = _mapping((feedback or {}).get("rates"))
    for name in SEGMENT_FEEDBACK:
        # A rule between the two groups of columns, so the eye does not read across them.
        start = " group-start" if name == SEGMENT_FEEDBACK[0] else ""
        if feedback is None:
            cells += f'<td class="num muted{start}">—</td>'
            continue
        rate = SEGMENT_RATES.get(name)
        if rate:
            share, basis = _rate(rates, rate)
            sub = f'<span class="rate">{_pct(share)} <span class="basis">{_text(basis)}</span></span>'
        else:
            sub = ""
        cells += f'<td class="num{start}">{_count(feedback.get(name, 0))}{sub}</td>'
    return cells


def _segments(report: Mapping) -> str:
    outcomes = _mapping(report.get("segments"))
    feedback_all = report.get("feedback")
    by_segment = _mapping(_mapping(feedback_all).get("segments"))
    names = list(outcomes) + [name for name in by_segment if name not in outcomes]
    if not names:
        return (
            '<section aria-labelledby="segments"><h2 id="segments">Segments</h2>'
            '<p class="empty">No per-segment counts in this report.</p></section>'
        )
    head_outcomes = "".join(f'<th scope="col" class="num">{_label(n)}</th>' for n in OUTCOMES)
    head_feedback = "".join(
        f'<th scope="col" class="num{" group-start" if n == SEGMENT_FEEDBACK[0] else ""}">{_label(n)}</th>'
        for n in SEGMENT_FEEDBACK
    )
    body = "".join(
        f'<tr data-segment="{_text(name)}"><th scope="row">{_text(name)}</th>'
        f"{_segment_cells(_mapping(outcomes.get(name)), by_segment.get(name) if name in by_segment else None)}</tr>"
        for name in names
    )
    feedback_total = feedback_all if isinstance(feedback_all, Mapping) and feedback_all else None
    foot = f'<tr class="total"><th scope="row">All segments</th>{_segment_cells(report, feedback_total)}</tr>'
    note = (
        "Rates under the feedback counts, each with its basis: delivered as a share of sent, bounced "
        "(hard) of delivered + hard-bounced, complained, opened and clicked of delivered: the same rates "
        "as the cards and the funnel above."
        if feedback_total
        else "No feedback yet, so only the send outcomes are shown."
    )
    return (
        '<section aria-labelledby="segments"><h2 id="segments">Segments</h2>'
        '<p class="scroll-hint" aria-hidden="true">Scroll the table sideways for more columns →</p>'
        '<div class="table-wrap" tabindex="0" role="region" aria-labelledby="segments-caption">'
        '<table class="segments">'
        '<caption id="segments-caption">Send outcomes and feedback per segment</caption>'
        "<thead><tr><td></td>"
        f'<th scope="colgroup" colspan="{len(OUTCOMES)}" class="group">Send outcomes</th>'
        f'<th scope="colgroup" colspan="{len(SEGMENT_FEEDBACK)}" class="group group-start">Feedback</th></tr>'
        f'<tr><th scope="col">Segment</th>{head_outcomes}{head_feedback}</tr></thead>'
        f'<tbody>{body}</tbody><tfoot>{foot}</tfoot></table></div><p class="hint">{note}</p></section>'
    )


def _bounce_reasons(report: Mapping) -> str:
    feedback = report.get("feedback")
    heading = '<section aria-labelledby="bounces"><h2 id="bounces">Bounce reasons</h2>'
    if not isinstance(feedback, Mapping) or not feedback:
        return heading + '<p class="empty">No feedback yet.</p></section>'
    raw = feedback.get("bounce_reasons")
    if isinstance(raw, Mapping):
        pairs = [(str(reason), _number(n) or 0) for reason, n in raw.items()]
    elif isinstance(raw, list):  # tolerate [{"reason": ..., "count": ...}]
        pairs = [(str(r.get("reason")), _number(r.get("count")) or 0) for r in raw if isinstance(r, Mapping)]
    else:
        pairs = []
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    bounced = _number(feedback.get("bounced"))
    if not pairs:
        if bounced:
            # Counted but not broken down (reports from before bounce_reasons): say so, rather
            # than claim there were none.
            return f'{heading}<p class="empty">{_count(bounced)} bounces recorded, without their reasons.</p></section>'
        return heading + '<p class="empty">No bounces recorded.</p></section>'
    whole = sum(n for _, n in pairs)
    body = "".join(
        f'<tr><th scope="row">{_text(reason)}</th><td class="num">{_count(n)}</td>'
        f'<td class="num">{_pct(_ratio(n, whole))}</td></tr>'
        for reason, n in pairs
    )
    return (
        heading + '<div class="table-wrap"><table class="bounces"><caption>Bounces by SES bounce type/subtype</caption>'
        '<thead><tr><th scope="col">Reason</th><th scope="col" class="num">Bounces</th>'
        '<th scope="col" class="num">Share</th></tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


def _rejects(rejects: Mapping | None) -> str:
    heading = '<section aria-labelledby="rejects"><h2 id="rejects">Rejected rows</h2>'
    if rejects is None:
        return heading + '<p class="empty">The rejects file was not read for this page.</p></section>'
    total = _number(rejects.get("total")) or 0
    if not total:
        return heading + '<p class="empty">No rejected rows.</p></section>'
    counts = _mapping(rejects.get("outcomes"))
    chips = "".join(
        f'<li data-outcome="{_text(name)}"><span>{_text(_label(str(name)))}</span> <strong>{_count(n)}</strong></li>'
        for name, n in counts.items()
        if n
    )
    body = ""
    for item in rejects.get("reasons") or []:
        item = _mapping(item)
        # Plain digits: these are positions to look up in an editor, not quantities.
        lines = ", ".join(_text(n) for n in item.get("first_lines") or [])
        more = "…" if (_number(item.get("count")) or 0) > len(item.get("first_lines") or []) else ""
        body += (
            f"<tr><td>{_text(_label(str(item.get('outcome') or '')))}</td>"
            f'<td class="field">{_text(item.get("field") or "—")}</td>'
            f'<th scope="row">{_text(item.get("reason") or "—")}</th>'
            f'<td class="num">{_count(item.get("count"))}</td><td class="lines">{lines}{more}</td></tr>'
        )
    other = _number(rejects.get("other_reasons")) or 0
    foot = (
        '<tfoot><tr><td colspan="2">Other reasons</td><td class="field"></td>'
        f'<td class="num">{_count(other)}</td><td></td></tr></tfoot>'
        if other
        else ""
    )
    return (
        heading + f'<p><strong data-rejects-total="{total}">{_count(total)}</strong> rows were not sent.</p>'
        f'<ul class="chips" aria-label="Rejected rows by outcome">{chips}</ul>'
        '<div class="table-wrap"><table class="reasons"><caption>Most common reasons, with the first line '
        "numbers in the audience file</caption>"
        '<thead><tr><th scope="col">Outcome</th><th scope="col" class="field">Field</th><th scope="col">Reason</th>'
        '<th scope="col" class="num">Rows</th><th scope="col">First lines</th></tr></thead>'
        f"<tbody>{body}</tbody>{foot}</table></div></section>"
    )


def _wait_bounds(wait: Any) -> tuple[Any, Any, str]:
    """(from, to, anything else) of one quota wait, whatever its shape."""
    if not isinstance(wait, Mapping):
        return None, None, _text(wait)
    start = next((wait[k] for k in ("from", "since", "start", "started_at") if k in wait), None)
    end = next((wait[k] for k in ("to", "until", "end", "ended_at") if k in wait), None)
    used = {"from", "since", "start", "started_at", "to", "until", "end", "ended_at"}
    rest = ", ".join(f"{_label(str(k))} {_count(v)}" for k, v in wait.items() if k not in used)
    return start, end, rest


def _pacing(report: Mapping) -> str:
    waits = report.get("quota_waits") or []
    if not isinstance(waits, list):
        waits = [waits]
    pacing = _mapping(report.get("pacing"))
    facts = "".join(
        f"<div><dt>{label}</dt><dd>{_count(pacing.get(key))}</dd></div>"
        for key, label in (("max_concurrency", "Concurrent workers (max)"), ("worker_rate", "Recipients/s per worker"))
        if key in pacing
    )
    out = '<section aria-labelledby="pacing"><h2 id="pacing">Pacing, quota waits and pauses</h2>'
    if facts:
        out += f'<dl class="facts compact">{facts}</dl>'
    if report.get("reason"):
        out += f'<p><strong>Pause/stop reason:</strong> <span class="reason">{_text(report["reason"])}</span></p>'
    if not waits:
        return out + '<p class="empty">No quota waits: the daily SES sending quota never ran out.</p></section>'
    body = ""
    for i, wait in enumerate(waits, start=1):
        start, end, rest = _wait_bounds(wait)
        took = _duration(start, end)
        # A wait with a start and no end is the one the run is in now.
        shown_end = _time(end) if end is not None else ("still waiting" if start is not None else "—")
        body += (
            f'<tr><th scope="row" class="num note">{i}</th><td>{_time(start)}</td><td>{shown_end}</td>'
            f'<td class="num">{took or "—"}</td><td class="note">{rest}</td></tr>'
        )
    return (
        out + '<div class="table-wrap"><table class="waits"><caption>Times the daily SES quota ran out</caption>'
        '<thead><tr><th scope="col" class="num note">#</th><th scope="col">From</th><th scope="col">To</th>'
        '<th scope="col" class="num">Waited</th><th scope="col" class="note">Details</th></tr></thead>'
        f"<tbody>{body}</tbody></table></div></section>"
    )


# -- page -----------------------------------------------------------------------------------------

# Colours are checked for WCAG AA contrast on their backgrounds (text ≥ 4.5:1); bars use the
# same blue family so the funnel reads as one series.
CSS = """
:root { color-scheme: light; --ink: #1b2430; --muted: #4f5b69; --line: #d9dee5; --soft: #f4f6f9;
  --accent: #1d4ed8; --good: #166534; --good-bg: #dcfce7; --bad: #991b1b; --bad-bg: #fee2e2;
  --warn: #854d0e; --warn-bg: #fef3c7; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--soft); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 48px; }
header, section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px;
  margin: 0 0 16px; min-width: 0; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 12px; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 0 0 12px; }
h3 { font-size: 1rem; margin: 20px 0 8px; color: var(--muted); }
.eyebrow { margin: 0 0 4px; font-size: .8rem; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 10px 24px; margin: 0; }
.facts.compact { grid-template-columns: repeat(auto-fit, minmax(180px, max-content)); margin-bottom: 12px; }
.facts dt { font-size: .8rem; color: var(--muted); }
.facts dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
.muted { color: var(--muted); font-weight: 400; }
.nw { white-space: nowrap; }
.waits td.num { white-space: normal; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: .85rem; font-weight: 600;
  background: var(--soft); color: var(--ink); }
.badge.good { background: var(--good-bg); color: var(--good); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.notice { border-radius: 10px; padding: 12px 20px; margin: 0 0 16px; border: 1px solid; overflow-wrap: anywhere; }
.notice p { margin: 4px 0; }
.notice.bad { background: var(--bad-bg); color: var(--bad); border-color: #fca5a5; }
.notice.warn { background: var(--warn-bg); color: var(--warn); border-color: #fcd34d; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card dt { font-size: .8rem; color: var(--muted); }
.card dd { margin: 2px 0 0; font-size: 1.5rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card.warn { background: var(--warn-bg); border-color: #fcd34d; }
.card.warn dt, .card-note { color: var(--warn); }
.card-note { display: block; font-size: .75rem; }
.funnel { display: block; overflow: visible; font-size: 14px; }
.funnel .stage-name { font-weight: 600; fill: var(--ink); }
.funnel .stage-value { fill: var(--muted); font-variant-numeric: tabular-nums; }
.funnel .track { fill: #eef1f5; }
.funnel .bar-sent { fill: #1e3a8a; }
.funnel .bar-delivered { fill: #1d4ed8; }
.funnel .bar-opened { fill: #3b82f6; }
.funnel .bar-clicked { fill: #60a5fa; }
.table-wrap { overflow-x: auto; max-width: 100%; }
.table-wrap:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); font-size: .85rem; padding: 0 0 8px; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { font-size: .8rem; color: var(--muted); font-weight: 600; border-bottom: 2px solid var(--line);
  vertical-align: bottom; }
thead th.group { text-align: center; color: var(--ink); border-bottom: 1px solid var(--line); }
tbody th { font-weight: 500; }
.num { text-align: right; white-space: nowrap; }
td.note { color: var(--muted); font-size: .9rem; }
tfoot th, tfoot td { font-weight: 600; border-bottom: 0; }
tfoot tr.total th, tfoot tr.total td { border-top: 2px solid var(--line); }
.segments { font-size: .875rem; }
.segments th, .segments td { padding: 6px 5px; }
.segments thead th.num { white-space: normal; }
.segments .group-start { border-left: 2px solid var(--line); }
.segments tbody th, .segments tfoot th { white-space: nowrap; }
.basis { font-size: .75rem; font-weight: 400; color: var(--muted); white-space: nowrap; }
.card dd .basis { display: block; white-space: normal; }
.segments .rate .basis { display: block; white-space: normal; }
.links th.link { font-weight: 400; overflow-wrap: anywhere; word-break: break-all; }
.unsubscribe-link { margin: 12px 0 0; padding: 8px 12px; background: var(--soft); border-radius: 8px; }
.timeline td.bars { width: 40%; min-width: 90px; }
.timeline .figure { display: block; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar-track { display: block; position: relative; height: 10px; background: #eef1f5; border-radius: 3px; }
.bar-fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 3px; }
.bar-fill.opens { background: #93c5fd; }
.bar-fill.clicks { background: #a5b4fc; }
.bar-fill.unique { background: #1d4ed8; top: 3px; bottom: 3px; }
.warnings { margin: 0; padding-left: 20px; overflow-wrap: anywhere; }
.rate { display: block; font-size: .75rem; color: var(--muted); font-weight: 400; }
.ok { color: var(--good); font-weight: 600; }
.bad-text { color: var(--bad); font-weight: 600; }
.chips { list-style: none; display: flex; flex-wrap: wrap; gap: 8px; padding: 0; margin: 0 0 14px; }
.chips li { background: var(--soft); border: 1px solid var(--line); border-radius: 999px; padding: 2px 12px;
  font-size: .9rem; }
.reasons th[scope=row] { font-weight: 400; overflow-wrap: anywhere; }
.lines { color: var(--muted); font-size: .9rem; font-variant-numeric: tabular-nums; }
.empty { color: var(--muted); margin: 0; }
.hint { color: var(--muted); font-size: .85rem; margin: 10px 0 0; }
.scroll-hint { display: none; color: var(--muted); font-size: .85rem; margin: 0 0 6px; }
.reason { overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: .8rem; text-align: center; }
@media (max-width: 600px) {
  main { padding: 12px 10px 32px; }
  header, section { padding: 14px 14px; }
  h1 { font-size: 1.3rem; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .card dd { font-size: 1.25rem; }
  th, td { padding: 6px 6px; }
  /* Explanatory columns give way to the numbers on a phone. */
  .note, .field { display: none; }
  .scroll-hint { display: block; }
  .segments thead th.group { text-align: left; }
}
@media print { body { background: #fff; } header, section { break-inside: avoid; border-color: #bbb; } }
"""


def render(report: Mapping, rejects: dict | None = None, *, title: str | None = None) -> str:
    """The run report as one self-contained HTML page (UTF-8 text).

    ``report`` is a run's report.json; ``rejects`` the output of ``summarise_rejects`` for its
    rejects.jsonl, or None when it was not read. Missing keys render as "—" or an explanatory
    line, so a report written before SES feedback arrived still renders.
    """
    report = _mapping(report)
    campaign = report.get("campaign_id") or "campaign"
    heading = title or f"{campaign} — {report.get('run_id') or 'run'}"
    sections = [
        _header(report, heading),
        _stop_notice(report),
        _feedback_section(report),
        _links(report),
        _timeline(report),
        _outcomes(report),
        _segments(report),
        _bounce_reasons(report),
        _rejects(rejects),
        _audience(report),
        _pacing(report),
    ]
    body = "\n".join(part for part in sections if part)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(heading)} · run report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n"
        f"<footer>Report file: <code>{_text(report.get('report_key') or '—')}</code></footer>\n"
        "</main>\n</body>\n</html>\n"
    )
