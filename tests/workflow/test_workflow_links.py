"""Clicks per link, end to end on the local stack: recipients of a run click two links and the
unsubscribe link (the local SES publishes Click events with ``link`` and ``linkTags`` as SES
does), the Engagement function counts them, Finalize reports them: the report's per-link counts
equal the Click events published, and the unsubscribe link is counted apart, not as engagement."""

from __future__ import annotations

import json
from collections import defaultdict
from urllib.parse import urlsplit

import pytest

from campaign_local.stack import LocalStack
from tests.workflow.test_workflow_feedback import audience, put_recipe, run

pytestmark = pytest.mark.workflow

TEMPLATE = {
    "Subject": "News for {{name}}",
    # Personalised links (a query per recipient): counted by scheme, host and path.
    "Html": (
        '<p><a href="https://shop.example/Spring?c={{name}}&amp;u=1" ses:tags="name:spring;">Spring sale</a></p>'
        '<p><a href="https://shop.example/guide#top">The guide</a></p>'
        '<p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>'
    ),
    "Text": "News for {{name}}. Unsubscribe: {{unsubscribe_url}}",
}
SPRING, GUIDE = "https://shop.example/Spring", "https://shop.example/guide"


def expected_links(records: list[dict], run_id: str) -> tuple[dict, dict]:
    """(per link: clicks and messages, the unsubscribe link's) of the published Click events."""
    per_link: dict[str, dict] = defaultdict(lambda: {"clicks": 0, "messages": set()})
    unsubscribe = {"clicks": 0, "messages": set()}
    for record in records:
        if record["eventType"] != "Click" or record["mail"]["tags"].get("run") != [run_id]:
            continue
        link = record["click"]["link"]
        into = unsubscribe if "token=" in link else per_link[f"https://{urlsplit(link).hostname}{urlsplit(link).path}"]
        into["clicks"] += 1
        into["messages"].add(record["mail"]["messageId"])
    return dict(per_link), unsubscribe


def test_the_report_counts_clicks_per_link_as_published_and_the_unsubscribe_link_apart(stack: LocalStack):
    stack.configure_ses(max_send_rate=500, max_24_hour_send=1_000_000)
    put_recipe(stack)
    stack.put_json("templates/links-news.json", TEMPLATE)
    definition = stack.get_json("campaigns/recipe.json")
    for segment in definition["segments"]:
        segment["template"] = "links-news"
    stack.put_json("campaigns/recipe.json", definition)
    rows = audience(
        "ann+click1+click2+clickunsub",  # both links and the unsubscribe link
        "bob+click1",
        "cat+click2",
        "dan+clickall",  # every link, the unsubscribe link too
        "eve+clickunsub",  # only the unsubscribe link: not a clicker
        "fay+open",
        "success",
    )
    report = run(stack, "recipe", rows)
    assert report["status"] == "COMPLETED" and report["sent"] == len(rows)
    feedback = report["feedback"]
    per_link, unsubscribe = expected_links(stack.published_events(), report["run_id"])
    assert set(per_link) == {SPRING, GUIDE}

    links = {row["link"]: row for row in feedback["links"] if not row["unsubscribe"]}
    assert links == {
        link: {
            "link": link,
            "label": "spring" if link == SPRING else None,
            "clicks": found["clicks"],
            "unique_clicks": len(found["messages"]),
            "unsubscribe": False,
            "other": False,
        }
        for link, found in per_link.items()
    }
    assert links[SPRING]["clicks"] == 3 and links[GUIDE]["clicks"] == 3  # ann, bob, dan; ann, cat, dan
    (unsub,) = [row for row in feedback["links"] if row["unsubscribe"]]
    assert (unsub["clicks"], unsub["unique_clicks"]) == (unsubscribe["clicks"], len(unsubscribe["messages"])) == (3, 3)

    # The click rate counts messages with a click on a campaign link; eve's click is leaving.
    clickers = set().union(*(found["messages"] for found in per_link.values()))
    assert feedback["clicked"] == len(clickers) == 4
    assert feedback["clicks"] == sum(found["clicks"] for found in per_link.values()) == 6
    assert feedback["rates"]["click"] == {"rate": round(4 / feedback["delivered"], 6), "of": "delivered"}
    # Over time: the buckets add up to the totals (one send, so one hour holds them all).
    timeline = feedback["timeline"]
    assert sum(bucket["clicks"] for bucket in timeline) == feedback["clicks"]
    assert sum(bucket["opens"] for bucket in timeline) == feedback["opens"]
    assert all(bucket["hours"] == 1 for bucket in timeline)
    assert sum(bucket["unique_clicks"] for bucket in timeline) >= feedback["clicked"]
    assert json.dumps(report).count("token=") == 0  # no personalised link (nor its token) in the report
