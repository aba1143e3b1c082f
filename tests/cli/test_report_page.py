"""campaign_cli.report_page without a browser: the rejects summary and what the HTML contains."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from campaign_cli.report_page import render, summarise_rejects

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = '<script>alert("x")</script>'
# Anything shaped like an address (the page may still say "@-sign", quoting validation errors).
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.fixture
def report() -> dict:
    return json.loads((FIXTURES / "report.json").read_text(encoding="utf-8"))


@pytest.fixture
def rows() -> list[dict]:
    text = (FIXTURES / "rejects.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


class _Structure(HTMLParser):
    """Collects unclosed/mismatched tags and the visible text, to check the markup holds together."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "path", "line", "circle"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] not in ("style", "title"):
            self.text.append(data)


def _parse(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


def _visible_text(page: str) -> str:
    return " ".join(" ".join(_parse(page).text).split())


# -- summarise_rejects ----------------------------------------------------------------------------


def test_summary_counts_by_outcome_and_reason(rows):
    summary = summarise_rejects(rows)

    assert summary["total"] == 22
    assert summary["outcomes"] == {
        "suppressed": 0,
        "invalid": 10,
        "duplicate": 6,
        "skipped": 6,
        "failed": 0,
        "unknown": 0,
        "not_sent": 0,
    }
    counts = [reason["count"] for reason in summary["reasons"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == 22
    # A tie goes to the reason seen first in the file.
    assert summary["reasons"][0] == {
        "outcome": "skipped",
        "reason": "no segment matched",
        "field": None,
        "count": 6,
        "first_lines": [16, 19, 28, 31, 56],
    }
    assert summary["reasons"][1]["outcome"] == "duplicate"
    empty = next(r for r in summary["reasons"] if r["reason"] == "email is empty")
    assert empty == {
        "outcome": "invalid",
        "reason": "email is empty",
        "field": "email",
        "count": 2,
        "first_lines": [409, 412],
    }
    assert summary["other_reasons"] == 0
    assert json.loads(json.dumps(summary)) == summary


def test_summary_keeps_the_smallest_line_numbers_whatever_the_order():
    lines = (90, 70, 50, 30, 10, 80, 5)
    rows = [{"line": n, "outcome": "failed", "field": None, "reason": "MessageRejected"} for n in lines]
    [reason] = summarise_rejects(rows)["reasons"]
    assert reason["count"] == 7
    assert reason["first_lines"] == [5, 10, 30, 50, 70]


def test_summary_keeps_the_top_reasons_and_counts_the_rest():
    rows = [{"line": i, "outcome": "invalid", "field": "email", "reason": f"reason {i % 4}"} for i in range(1, 11)]
    summary = summarise_rejects(rows, top=2)
    assert [(r["reason"], r["count"]) for r in summary["reasons"]] == [("reason 1", 3), ("reason 2", 3)]
    assert summary["other_reasons"] == 4
    assert summary["total"] == 10


def test_summary_never_holds_an_address(rows):
    rows = [*rows, {"line": 3000, "outcome": "failed", "field": None, "reason": "550 <Bob.Smith@example.org> unknown"}]
    text = json.dumps(summarise_rejects(rows))
    assert not ADDRESS.search(text)
    assert "550 <[address]> unknown" in text
    for row in rows:
        if row.get("email"):
            assert row["email"] not in text


def test_summary_tolerates_odd_rows():
    summary = summarise_rejects([{}, {"outcome": "mystery", "line": "7"}, {"outcome": "failed", "line": True}])
    assert summary["total"] == 3
    assert summary["outcomes"]["mystery"] == 1 and summary["outcomes"]["unknown"] == 1
    assert all(r["first_lines"] == [] for r in summary["reasons"])
    assert summarise_rejects([])["total"] == 0


# -- render ---------------------------------------------------------------------------------------


def test_page_is_well_formed_and_self_contained(report, rows):
    page = render(report, summarise_rejects(rows))
    parsed = _parse(page)
    assert parsed.errors == [] and parsed.stack == []
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert not re.search(r"(?:src|href)\s*=|url\(|@import|<script|<link", page, re.IGNORECASE)


def test_page_shows_header_numbers_and_rates(report, rows):
    page = render(report, summarise_rejects(rows))
    text = _visible_text(page)

    assert "<title>recipe — recipe-u-89bba1ac10d2e633dc6e · run report</title>" in page
    for fact in ("COMPLETED", "upload", "2026-11-23 02:25:19 UTC", "2026-11-23 02:26:57 UTC", "Duration 1 min 39 s"):
        assert fact in text
    # Funnel: four bars, widths as a share of sent, labelled with the count and share.
    bars = re.findall(r'width="([\d.]+)%" height="18" rx="3" class="bar bar-(\w+)"', page)
    assert {stage: float(width) for width, stage in bars} == pytest.approx(
        {"sent": 100.0, "delivered": 99.834, "opened": 39.157, "clicked": 7.210}, abs=0.001
    )
    # Each stage's share is the card's rate, with the same basis written next to it (the funnel once
    # said 39.16% of sent where the card said 39.22% of delivered).
    assert "1,800 · 99.83% of sent" in text and "130 · 7.22% of delivered" in text
    assert "39.22% of delivered" in text and "39.16%" not in text
    assert '<title id="funnel-title">' in page and 'role="img"' in page
    for name, shown, basis in (
        ("delivery", "99.83%", "of sent"),
        ("bounce", "0.17%", "of delivered + hard-bounced"),
        ("complaint", "0.06%", "of delivered"),
        ("open", "39.22%", "of delivered"),
    ):
        assert re.search(
            rf'data-rate="{name}"><dt>[^<]+</dt><dd>{re.escape(shown)} '
            rf'<span class="basis">{re.escape(basis)}</span></dd>',
            page,
        )
    # Outcomes, right-aligned with thousands separators, and a total that equals rows.
    assert re.search(r'data-outcome="sent">.*?<td class="num">1,803</td>', page)
    assert '<td class="num" data-total="2003">2,003</td>' in page
    assert "✓ equals the audience rows" in text


def test_segment_table_joins_outcomes_and_feedback(report):
    page = render(report)
    body = re.search(r'<table class="segments">.*?<tbody>(.*?)</tbody>', page).group(1)
    names = re.findall(r'<tr data-segment="([^"]+)">', body)
    assert names == ["(unsegmented)", "loyal_customers", "new_customers"]
    new_customers = re.search(r'data-segment="new_customers">(.*?)</tr>', body).group(1)
    cells = re.findall(r'<td class="num[^"]*">([^<]*)', new_customers)
    # 8 outcomes, then delivered, bounced, complained, opened, clicked, unsubscribed
    assert cells == ["1,302", "0", "0", "35", "0", "0", "0", "0", "1,299", "3", "1", "517", "96", "0"]
    unsegmented = re.search(r'data-segment="\(unsegmented\)">(.*?)</tr>', body).group(1)
    assert unsegmented.count("—") == 6  # no feedback for rows that were never sent


def test_total_that_does_not_match_rows_is_flagged(report):
    report["rows"] = 2010
    text = _visible_text(render(report))
    assert "≠ 2,010 audience rows" in text and "✓" not in text


def test_hostile_strings_are_escaped(report):
    report = copy.deepcopy(report)
    report["campaign_id"] = HOSTILE
    report["run_id"] = '"><img src=x onerror=alert(1)>'
    report["status"] = "PAUSED"
    report["reason"] = f"breaker tripped {HOSTILE}"
    report["segments"][HOSTILE] = report["segments"].pop("loyal_customers")
    report["feedback"]["bounce_reasons"] = {HOSTILE: 2, "Permanent/General": 3}
    rejects = summarise_rejects([{"line": 1, "outcome": HOSTILE, "field": HOSTILE, "reason": HOSTILE}])

    page = render(report, rejects, title=HOSTILE)

    assert "<script" not in page.lower() and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert _parse(page).errors == []
    text = _visible_text(page)
    assert text.count(HOSTILE) >= 6  # shown, as text: heading, campaign, reason, segment, bounce, reject
    assert "breaker tripped" in text and "PAUSED" in text


def test_report_without_feedback_says_so(report):
    del report["feedback"]
    page = render(report)
    text = _visible_text(page)
    assert "No feedback yet" in text
    assert 'class="funnel"' not in page
    assert "2,003" in text  # outcomes still there
    assert "No feedback yet, so only the send outcomes are shown." in text


@pytest.mark.parametrize("report", [{}, {"feedback": None, "segments": None, "quota_waits": None}, {"rows": "n/a"}])
def test_sparse_reports_render(report):
    page = render(report)
    assert _parse(page).errors == []
    assert "No feedback yet" in _visible_text(page)


def test_bounce_reasons(report):
    assert "3 bounces recorded, without their reasons." in _visible_text(render(report))

    report["feedback"]["bounce_reasons"] = {"Transient/MailboxFull": 1, "Permanent/General": 3}
    page = render(report)
    table = re.search(r'<table class="bounces">.*?</table>', page).group(0)
    assert re.findall(r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td>', table) == [
        ("Permanent/General", "3"),
        ("Transient/MailboxFull", "1"),
    ]
    assert "75.00%" in table

    for empty in ({}, None):
        report["feedback"]["bounce_reasons"] = empty
        report["feedback"]["bounced"] = 0
        assert "No bounces recorded." in _visible_text(render(report))


def test_rejects_section(report, rows):
    text = _visible_text(render(report, summarise_rejects(rows)))
    assert "22 rows were not sent." in text
    assert "Invalid 10" in text and "Duplicate 6" in text and "Suppressed" not in text.split("rows were not sent")[1]
    assert "16, 19, 28, 31, 56…" in text  # more rows than lines shown
    assert "1111, 1327" in text  # line numbers without thousands separators
    assert "The rejects file was not read for this page." in _visible_text(render(report))
    assert "No rejected rows." in _visible_text(render(report, summarise_rejects([])))


def test_no_address_reaches_the_page(report, rows):
    report["reason"] = "SES refused the send (MessageRejected): Email address is not verified: ops@sender.example"
    report["error"] = {"Error": "AccountLevelError", "Cause": "bounce from a@b.example"}
    report["feedback"]["bounce_reasons"] = {"smtp; 550 5.1.1 <user@example.com>: no such user": 1}
    page = render(report, summarise_rejects(rows))
    assert ADDRESS.findall(page) == []
    assert "Email address is not verified: [address]" in _visible_text(page)
    assert "AccountLevelError: bounce from [address]" in _visible_text(page)


def test_quota_waits_and_pause_reason(report):
    report["status"] = "PAUSED"
    report["reason"] = "complaint rate 0.6% over the breaker's 0.5%"
    # As the run store writes them: epoch seconds, plus the quota left at resume.
    report["quota_waits"] = [
        {"from": 1795400000, "to": 1795400300, "remaining_at_resume": 50000},
        {"since": "2026-11-23T05:00:00Z"},
        "odd entry",
    ]
    page = render(report)
    text = _visible_text(page)
    assert "complaint rate 0.6% over the breaker's 0.5%" in text
    assert 'class="notice warn"' in page and 'class="badge warn"' in page
    table = _visible_text(re.search(r'<table class="waits">.*?</table>', page).group(0))
    assert "2026-11-23 02:13:20 UTC 2026-11-23 02:18:20 UTC 5 min 0 s Remaining at resume 50,000" in table
    assert "2026-11-23 05:00:00 UTC still waiting" in table
    assert "3 — — — odd entry" in table
    assert "No quota waits" not in text

    report["quota_waits"] = []
    assert "No quota waits" in _visible_text(render(report))


def test_rates_over_the_ses_review_levels_are_flagged(report):
    assert "review level" not in render(report)
    report["feedback"]["rates"]["complaint"] = 0.0012
    page = render(report)
    assert re.search(r'class="card warn" data-rate="complaint"><dt>Complaint rate</dt><dd>0.12% <span', page)
    # The same in the report's current shape, the basis named next to the rate.
    report["feedback"]["rates"]["complaint"] = {"rate": 0.0012, "of": "delivered"}
    assert re.search(
        r'class="card warn" data-rate="complaint"><dt>Complaint rate</dt><dd>0.12% <span class="basis">of delivered',
        render(report),
    )
    assert 'class="card warn" data-rate="bounce"' not in page


def _with_links(report: dict) -> dict:
    feedback = report["feedback"]
    feedback["links"] = [
        {
            "link": "https://shop.example/spring",
            "label": "spring",
            "clicks": 101,
            "unique_clicks": 88,
            "unsubscribe": False,
        },
        {"link": "(other links)", "label": None, "clicks": 4, "unique_clicks": 4, "unsubscribe": False, "other": True},
        {
            "link": "(unsubscribe link)",
            "label": "unsubscribe",
            "clicks": 240,
            "unique_clicks": 236,
            "unsubscribe": True,
        },
    ]
    feedback["timeline"] = [
        {
            "start": "2026-11-23T02:00:00Z",
            "hours": 1,
            "opens": 500,
            "unique_opens": 480,
            "clicks": 90,
            "unique_clicks": 85,
        },
        {
            "start": "2026-11-26T00:00:00Z",
            "hours": 24,
            "opens": 50,
            "unique_opens": 40,
            "clicks": 0,
            "unique_clicks": 0,
        },
        {"start": None, "hours": None, "opens": 1, "unique_opens": 1, "clicks": 0, "unique_clicks": 0},
    ]
    return report


def test_links_table_keeps_the_unsubscribe_link_apart(report):
    page = render(_with_links(report))
    body = re.search(r'<table class="links">.*?<tbody>(.*?)</tbody>', page).group(1)
    assert re.findall(r'<tr data-link="([^"]+)">', body) == ["https://shop.example/spring", "(other links)"]
    assert "(unsubscribe link)" not in body and "<em>Other links</em>" in body
    text = _visible_text(page)
    assert "Unsubscribe link: 240 clicks by 236 recipients" in text and "not in the click rate" in text
    assert _parse(page).errors == []


def test_timeline_shows_hours_days_and_later_with_total_and_unique(report):
    page = render(_with_links(report))
    text = _visible_text(page)
    assert "2026-11-23 02:00 UTC" in text and "2026-11-26 (day)" in text and "Later" in text
    assert "500 / 480" in text and "90 / 85" in text
    widths = [float(w) for w in re.findall(r'class="bar-fill opens" style="width:([\d.]+)%"', page)]
    assert widths == [100.0, 10.0, 0.2]


def test_a_report_without_links_timeline_or_audience_says_so(report):
    text = _visible_text(render(report))  # the fixture predates them
    assert "No clicks recorded." in text and "No opens or clicks recorded." in text
    assert "Audience file" not in text


def test_link_labels_audience_and_warnings_are_escaped_text(report):
    report = _with_links(report)
    report["feedback"]["links"][0].update(link=f"https://x.example/{HOSTILE}", label=HOSTILE)
    report["audience"] = {"format": "csv", "encoding": HOSTILE, "delimiter": "\t", "columns": [HOSTILE, "email"]}
    report["warnings"] = [f"rule field {HOSTILE} (line 3 of ann@example.com)"]
    page = render(report)
    assert "<script>" not in page and _parse(page).errors == []
    text = _visible_text(page)
    assert text.count(HOSTILE) >= 4 and "tab" in text and not ADDRESS.search(text)
