"""The report page in a real browser: what a person sees at desktop and phone width.

Drives Debian's chromium through its chromedriver (both installed by mk/browser.mk, a
prerequisite of `make pytest`) with selenium. The page, a desktop and a phone screenshot are
kept in build/test-artifacts/ for a human (or CI's artefact upload) to look at.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from campaign_cli.report_page import render, summarise_rejects

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
ARTIFACTS = ROOT / "build" / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"{CHROMIUM} or {CHROMEDRIVER} is not installed (`make browser` installs Debian's chromium)",
)

# Headless as root in a container; without the background-networking flags chromium keeps
# trying to reach Google hosts, which this network refuses.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
DESKTOP, PHONE = 1280, 390


BASIS = {"delivery": "sent", "bounce": "delivered+hard_bounced"}
LONG_LINK = "https://shop.example/" + "a-very-long-path-segment/" * 6 + "end"


def _report() -> dict:
    report = json.loads((FIXTURES / "report.json").read_text(encoding="utf-8"))
    feedback = report["feedback"]
    # The demo's report predates bounce_reasons; give its 3 bounces one so that table is on the page.
    feedback["bounce_reasons"] = {"Permanent/General": 3}
    # ... and the rates' bases, clicks per link, the timeline and the audience file (issue 11).
    feedback["rates"] = {
        name: {"rate": rate, "of": BASIS.get(name, "delivered")} for name, rate in feedback["rates"].items()
    }
    feedback["opens"], feedback["clicks"] = 951, 162
    feedback["links"] = [
        {
            "link": "https://shop.example/spring",
            "label": "spring",
            "clicks": 101,
            "unique_clicks": 88,
            "unsubscribe": False,
        },
        {"link": LONG_LINK, "label": None, "clicks": 61, "unique_clicks": 50, "unsubscribe": False},
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
            "start": f"2026-11-23T{hour:02d}:00:00Z",
            "hours": 1,
            "opens": opens,
            "unique_opens": opens - 20,
            "clicks": clicks,
            "unique_clicks": clicks - 5,
        }
        for hour, opens, clicks in ((2, 500, 90), (3, 300, 50), (4, 100, 15))
    ] + [
        {"start": "2026-11-26T00:00:00Z", "hours": 24, "opens": 51, "unique_opens": 40, "clicks": 7, "unique_clicks": 6}
    ]
    report["audience"] = {
        "format": "csv",
        "encoding": "windows-1252",
        "delimiter": ";",
        "compression": "gzip",
        "columns": ["Email Address", "First Name", "Last Name", "TIMEZONE"],
        "email_column": "Email Address",
    }
    report["warnings"] = ["template variable 'nickname' (welcome-campaign): no column provides it"]
    return report


@pytest.fixture(scope="module")
def report() -> dict:
    return _report()


@pytest.fixture(scope="module")
def page(report) -> Path:
    rows = [json.loads(line) for line in (FIXTURES / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "report-page.html"
    path.write_text(render(report, summarise_rejects(rows)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp("chromium-profile")
    options.add_argument(f"--user-data-dir={profile}")
    # An explicit driver and browser: selenium then has no reason to run Selenium Manager, which
    # would try to download a matching driver.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver, page: Path, width: int, height: int = 900) -> None:
    """Lay the page out at exactly ``width`` CSS pixels (a window size would include browser chrome)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def _screenshot(driver, name: str, width: int) -> Path:
    """The whole page, not only the viewport: grow the viewport to the document's height."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path))
    return path


# Elements whose right edge is past the viewport, ignoring content inside a scroll container
# (the wide segment table scrolls inside its own box on a phone, the page itself does not).
OVERFLOW = """
const limit = document.documentElement.clientWidth + 0.5;
const inScroller = (el) => {
  for (let p = el.parentElement; p; p = p.parentElement) {
    const s = getComputedStyle(p);
    if (s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') return true;
  }
  return false;
};
const offenders = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width && r.right > limit && !inScroller(el)) offenders.push(el.tagName + '.' + el.getAttribute('class'));
}
return {scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
        offenders: offenders.slice(0, 10)};
"""


def _text(driver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text.strip()


def test_desktop_page_shows_the_report(browser, page, report):
    _open(browser, page, DESKTOP)

    assert report["campaign_id"] in browser.title and report["run_id"] in browser.title
    h1 = browser.find_element(By.TAG_NAME, "h1")
    assert h1.is_displayed() and report["run_id"] in h1.text
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2") if h.is_displayed()]
    assert headings == [
        "Delivery and engagement",
        "Clicks per link",
        "Opens and clicks over time",
        "Send outcomes",
        "Segments",
        "Bounce reasons",
        "Rejected rows",
        "Audience file",
        "Pacing, quota waits and pauses",
    ]
    assert _text(browser, ".badge") == "COMPLETED"

    # The funnel: bars visible, widest first, each as wide as its share of sent.
    feedback = report["feedback"]
    widths = {}
    for stage in ("sent", "delivered", "opened", "clicked"):
        bar = browser.find_element(By.CSS_SELECTOR, f"rect.bar[data-stage={stage}]")
        assert bar.is_displayed()
        widths[stage] = bar.rect["width"]
        label = _text(browser, f"g.stage[data-stage={stage}] .stage-value")
        assert label == f"{feedback[stage]:,}" if stage == "sent" else label.startswith(f"{feedback[stage]:,} · ")
    assert widths["sent"] >= widths["delivered"] >= widths["opened"] >= widths["clicked"] > 0
    track = browser.find_element(By.CSS_SELECTOR, "g.stage[data-stage=sent] rect.track").rect["width"]
    assert widths["sent"] == pytest.approx(track, abs=1)
    for stage in ("delivered", "opened", "clicked"):
        assert widths[stage] / widths["sent"] == pytest.approx(feedback[stage] / feedback["sent"], abs=0.01)

    # Headline rates as the report has them, each with its basis; the funnel says the same.
    words = {"sent": "of sent", "delivered": "of delivered", "delivered+hard_bounced": "of delivered + hard-bounced"}
    for name, rate in feedback["rates"].items():
        assert _text(browser, f".card[data-rate={name}] dd").split("\n") == [
            f"{rate['rate'] * 100:.2f}%",
            words[rate["of"]],
        ]
    for stage, rate in (("delivered", "delivery"), ("opened", "open"), ("clicked", "click")):
        shown = _text(browser, f"g.stage[data-stage={stage}] .stage-value")
        value = feedback["rates"][rate]
        assert shown.endswith(f"{value['rate'] * 100:.2f}% {words[value['of']]}"), shown

    # Clicks per link, the unsubscribe link apart, and unique against total.
    links = browser.find_elements(By.CSS_SELECTOR, "table.links tbody tr")
    assert [r.find_element(By.TAG_NAME, "th").text for r in links] == ["https://shop.example/spring", LONG_LINK]
    assert [c.text for c in links[0].find_elements(By.TAG_NAME, "td")] == ["spring", "101", "88"]
    assert "240 clicks by 236 recipients" in _text(browser, ".unsubscribe-link")
    assert [c.text for c in browser.find_elements(By.CSS_SELECTOR, "tr[data-engagement=opens] td")] == [
        "951",
        "706",
        "1.35",
    ]
    # Over time: one row per bucket, bars as long as their share of the busiest bucket.
    buckets = browser.find_elements(By.CSS_SELECTOR, "table.timeline tbody tr")
    assert len(buckets) == 4 and "(day)" in buckets[-1].text
    fills = [b.find_element(By.CSS_SELECTOR, "td[data-opens] .bar-fill.opens").rect["width"] for b in buckets]
    assert fills[0] > fills[1] > fills[2] > fills[3] > 0
    assert fills[1] / fills[0] == pytest.approx(300 / 500, abs=0.02)
    # How the audience file was read.
    assert "windows-1252" in _text(browser, "#audience + dl") and "semicolon" in _text(browser, "#audience + dl")
    assert "nickname" in _text(browser, "ul.warnings")

    # Outcomes: every count, right-aligned, with thousands separators, and the total equals rows.
    for name in ("sent", "suppressed", "invalid", "duplicate", "skipped", "failed", "unknown", "not_sent"):
        cell = browser.find_element(By.CSS_SELECTOR, f"tr[data-outcome={name}] td.num")
        assert cell.text == f"{report[name]:,}"
        assert cell.value_of_css_property("text-align") == "right"
    assert _text(browser, "td[data-total]") == f"{report['rows']:,}" == "2,003"

    # One row per segment, with its sent count and (where SES reported) its delivered count.
    rows = browser.find_elements(By.CSS_SELECTOR, "table.segments tbody tr")
    assert [r.find_element(By.TAG_NAME, "th").text for r in rows] == list(report["segments"])
    for row in rows:
        name = row.find_element(By.TAG_NAME, "th").text
        cells = row.find_elements(By.TAG_NAME, "td")
        assert cells[0].text == f"{report['segments'][name]['sent']:,}"
        delivered = cells[8].text.splitlines()[0]
        expected = feedback["segments"].get(name, {}).get("delivered")
        assert delivered == ("—" if expected is None else f"{expected:,}")

    assert _text(browser, "table.bounces tbody th") == "Permanent/General"
    assert _text(browser, "[data-rejects-total]") == "22"

    # Nothing wider than the window, and at this width the segment table needs no scrolling.
    layout = browser.execute_script(OVERFLOW)
    assert layout["scrollWidth"] <= layout["clientWidth"] == DESKTOP, layout
    assert layout["offenders"] == []
    wrap = browser.execute_script(
        "const w = document.querySelector('table.segments').parentElement; return [w.scrollWidth, w.clientWidth];"
    )
    assert wrap[0] <= wrap[1], f"segment table scrolls at {DESKTOP}px: {wrap}"

    shot = _screenshot(browser, "report-page.png", DESKTOP)
    assert shot.stat().st_size > 10_000


def test_phone_width_does_not_overflow(browser, page):
    _open(browser, page, PHONE, height=844)

    assert browser.find_element(By.TAG_NAME, "h1").is_displayed()
    layout = browser.execute_script(OVERFLOW)
    assert layout["scrollWidth"] <= layout["clientWidth"] == PHONE, layout
    assert layout["offenders"] == []
    # The funnel shrinks with the page but keeps its order.
    widths = [
        browser.find_element(By.CSS_SELECTOR, f"rect.bar[data-stage={s}]").rect["width"]
        for s in ("sent", "delivered", "opened", "clicked")
    ]
    assert widths == sorted(widths, reverse=True) and widths[0] < PHONE
    # Text stays legible: no body text below 11px.
    smallest = browser.execute_script(
        "return Math.min(...[...document.querySelectorAll('body *')]"
        ".filter(e => e.childNodes.length && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))"
        ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
    )
    assert smallest >= 11

    _screenshot(browser, "report-page-phone.png", PHONE)


def test_saved_html_is_self_contained(page):
    """What was opened is one file: no scripts, stylesheets, images or fonts fetched from anywhere."""
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=|@import|url\(|<script|<link""", text, re.IGNORECASE)
