"""Clicks per link, opens and clicks over time, rates with their basis (issue 11, item 7): the
domain rules, and the link item's cap on a real (moto) DynamoDB table."""

from __future__ import annotations

import itertools

import boto3
import pytest
from campaign_engine.adapters.engagement import LINKS_PER_COMMIT, CounterItem, EngagementStore
from campaign_engine.domain import engagement, tokens
from campaign_engine.domain.ses_events import SesEvent, parse
from moto import mock_aws

from campaign_local import ses_events as ses

SENT = "2026-01-01T10:00:00.000Z"
UNSUBSCRIBE = tokens.unsubscribe_url(
    "https://abc123.lambda-url.us-east-1.on.aws/",
    tokens.sign(b"secret", tokens.UnsubscribeClaim(address="ann@example.com", campaign_id="c", run_id="r")),
)


def click(at: str, link: str, message_id: str = "m-1", **tags: str) -> SesEvent:
    return SesEvent(
        kind="click",
        message_id=message_id,
        timestamp=at,
        recipients=("ann@example.com",),
        tags={"campaign": "c", "run": "r", "segment": "s"},
        source_format="event",
        link=link,
        link_tags=tags,
        mail_timestamp=SENT,
    )


def opened(at: str, message_id: str = "m-1") -> SesEvent:
    return SesEvent(
        kind="open",
        message_id=message_id,
        timestamp=at,
        recipients=("ann@example.com",),
        tags={"campaign": "c", "run": "r", "segment": "s"},
        source_format="event",
        mail_timestamp=SENT,
    )


def replay(events) -> dict[str, int]:
    """One message item's claims, first come (``if_not_exists``), as counters."""
    item: dict[str, engagement.Claim] = {}
    for event in events:
        for claim in engagement.claims(event):
            item.setdefault(claim.name, claim)
    return engagement.count_claims(item.values())


# -- links ---------------------------------------------------------------------------------------


def test_links_are_keyed_without_query_or_fragment():
    assert engagement.link_key("HTTPS://Shop.Example:8443/Spring?u=ann&t=1#top") == "https://shop.example:8443/Spring"
    assert engagement.link_key("https://shop.example") == "https://shop.example/"
    assert engagement.link_key("https://shop.example/a b|c#x") == "https://shop.example/a%20b%7Cc"
    assert len(engagement.link_key("https://shop.example/" + "x" * 5000)) == engagement.MAX_LINK_KEY
    # SES reports what was clicked; a link that is not a URL is still a click, never an error.
    for broken in ("http://[::1", "http://shop.example:port/x", ""):
        assert engagement.link_key(broken) in (engagement.UNPARSABLE_LINK, "/")
        assert not engagement.is_unsubscribe_link(broken)


def test_the_engines_unsubscribe_link_is_known_by_its_token():
    assert engagement.is_unsubscribe_link(UNSUBSCRIBE)
    assert not engagement.is_unsubscribe_link("https://shop.example/?token=abc.def")  # not a token's payload
    assert not engagement.is_unsubscribe_link("https://shop.example/spring")
    assert engagement.is_unsubscribe_link("https://shop.example/leave", {"name": "unsubscribe"})
    assert engagement.is_unsubscribe_link("https://u.example/x?token=1", base_url="https://u.example/")


def test_clicks_count_per_link_total_and_unique_and_the_unsubscribe_link_apart():
    spring_1 = click("2026-01-01T10:01:00.000Z", "https://shop.example/spring?u=1", name="spring")
    spring_2 = click("2026-01-01T10:02:00.000Z", "https://shop.example/spring?u=2", name="spring")
    guide = click("2026-01-01T11:30:00.000Z", "https://shop.example/guide")
    leave = click("2026-01-01T10:03:00.000Z", UNSUBSCRIBE)
    counts = replay([spring_1, spring_2, guide, leave, spring_1])
    assert counts == {
        "click": 3,
        "unique_click": 1,
        "link:https://shop.example/spring": 2,
        "ulink:https://shop.example/spring": 1,
        "lbl:https://shop.example/spring#spring": 2,
        "link:https://shop.example/guide": 1,
        "ulink:https://shop.example/guide": 1,
        "t:2026-01-01T10:click": 2,
        "t:2026-01-01T10:unique_click": 1,
        "t:2026-01-01T11:click": 1,
        "t:2026-01-01T11:unique_click": 1,
        # Leaving is not engagement: not a click, not in any bucket.
        "unsubscribe_click": 1,
        "unique_unsubscribe_click": 1,
    }


def test_any_order_and_repeats_give_the_same_link_and_time_counts():
    events = [
        opened("2026-01-01T10:00:30.000Z"),
        opened("2026-01-01T12:00:00.000Z"),
        click("2026-01-01T10:01:00.000Z", "https://shop.example/a?x=1"),
        click("2026-01-01T13:01:00.000Z", "https://shop.example/b"),
        click("2026-01-01T10:05:00.000Z", UNSUBSCRIBE),
    ]
    expected = replay(events)
    for order in itertools.permutations(events):
        assert replay(list(order) + list(order)) == expected


def test_time_buckets_are_hours_then_days_then_later():
    assert engagement.bucket_of("2026-01-03T09:59:59.000Z", SENT) == "2026-01-03T09"  # 71 h 59 min after
    assert engagement.bucket_of("2026-01-04T10:00:00.000Z", SENT) == "2026-01-04"  # 72 h after: days
    assert engagement.bucket_of("2026-03-02T10:00:00.000Z", SENT) == engagement.LATER  # 60 days after
    assert engagement.bucket_of("2026-01-01T10:00:00.000Z", None) == "2026-01-01T10"
    assert engagement.bucket_of("0999-01-01T10:00:00.000Z", None) == "0999-01-01T10"  # sorts as text
    assert engagement.bucket_of("2025-12-31T08:00:00.000Z", SENT) == engagement.LATER  # before its send


def test_the_links_report_keeps_the_top_links_sums_the_rest_and_shows_unsubscribe_apart():
    items = [
        {"link:https://a.example/1": 5, "ulink:https://a.example/1": 4, "lbl:https://a.example/1#offer": 5},
        {"link:https://a.example/1": 1, "ulink:https://a.example/1": 1, "link:https://a.example/2": 3},
        {"ulink:https://a.example/2": 2, "link:https://a.example/3": 1, "ulink:https://a.example/3": 1},
        {"link_other": 7, "ulink_other": 6, "campaign_id": "c", "links": ["https://a.example/1"]},
    ]
    rows = engagement.links_report(items, {"unsubscribe_click": 4, "unique_unsubscribe_click": 3}, top=2)
    assert [(r.link, r.label, r.clicks, r.unique_clicks, r.unsubscribe, r.other) for r in rows] == [
        ("https://a.example/1", "offer", 6, 5, False, False),
        ("https://a.example/2", None, 3, 2, False, False),
        (engagement.OTHER_LINKS, None, 8, 7, False, True),
        (engagement.UNSUBSCRIBE_LINK, "unsubscribe", 4, 3, True, False),
    ]
    assert engagement.links_report([], {}) == []


def test_the_timeline_sums_shards_and_an_hour_joins_its_day_bucket():
    items = [
        {"bucket": "2026-01-01T10", "open": 3, "unique_open": 2},
        {"bucket": "2026-01-01T10", "open": 1, "unique_open": 1, "click": 1, "unique_click": 1},
        {"bucket": "2026-01-04T23", "open": 1, "unique_open": 1},
        {"bucket": "2026-01-04", "open": 2, "unique_open": 2},
        {"bucket": engagement.LATER, "click": 1, "unique_click": 1},
    ]
    rows = [row.model_dump() for row in engagement.timeline_report(items)]
    assert rows == [
        {"start": "2026-01-01T10:00:00Z", "hours": 1, "opens": 4, "unique_opens": 3, "clicks": 1, "unique_clicks": 1},
        {"start": "2026-01-04T00:00:00Z", "hours": 24, "opens": 3, "unique_opens": 3, "clicks": 0, "unique_clicks": 0},
        {"start": None, "hours": None, "opens": 0, "unique_opens": 0, "clicks": 1, "unique_clicks": 1},
    ]


def test_a_commit_writes_one_item_per_segment_time_bucket_and_run_links():
    counts = replay(
        [
            opened("2026-01-01T10:00:30.000Z"),
            click("2026-01-01T11:01:00.000Z", "https://shop.example/a"),
        ]
    )
    assert engagement.commit_items([("r", counts), ("r", {"send": 1}), ("r2", {"send": 1})]) == 3 + 2 + 1


def test_click_records_carry_link_tags_and_parse():
    message = ses.Message(
        to=("ann+click1+click2+clickunsub@example.com",),
        timestamp=1_780_000_000.0,
        html=(
            '<a href="https://shop.example/s?a=1&amp;b=2" ses:tags="name:spring;place:top;">x</a>'
            "<a href='https://shop.example/guide'>y</a>"
            f'<a href="{UNSUBSCRIBE}">Unsubscribe</a>'
        ),
    )
    records = [r for r in ses.event_records(message) if r["eventType"] == "Click"]
    assert [r["click"]["link"] for r in records] == [
        "https://shop.example/s?a=1&b=2",
        "https://shop.example/guide",
        UNSUBSCRIBE,
    ]
    assert records[0]["click"]["linkTags"] == {"name": ["spring"], "place": ["top"]}
    assert len({r["click"]["timestamp"] for r in records}) == 3  # a second apart: three distinct clicks
    events = [parse(record) for record in records]
    assert events[0] is not None and events[0].link_tags == {"name": "spring", "place": "top"}
    assert [engagement.is_unsubscribe_click(e) for e in events if e is not None] == [False, False, True]


# -- the link item's cap, on a moto table ---------------------------------------------------------


@pytest.fixture
def store():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="engagement",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield EngagementStore("engagement", dynamodb=dynamodb)


def link_counts(keys, clicks: int = 1) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        counts[f"link:{key}"] = clicks
        counts[f"ulink:{key}"] = 1
        counts[f"lbl:{key}#tag"] = clicks
    return counts


def test_a_link_item_keeps_at_most_max_links_and_sums_the_rest_as_other(store):
    first = [f"https://a.example/{i:03d}" for i in range(engagement.MAX_LINKS - 2)]
    later = [f"https://b.example/{i:03d}" for i in range(5)]
    item = CounterItem("r", "s", 3)
    for start in range(0, len(first), 8):  # batches of a few links each, as real batches have
        chunk = first[start : start + 8]
        store.commit(f"t-1-{start}", {item: ("c", {"click": len(chunk), **link_counts(chunk)})}, 2_000_000_000)
    # Five new links where two fit, and a known one: it keeps counting under its own name.
    store.commit("t-2", {item: ("c", {"click": 6, **link_counts(later + first[:1])})}, 2_000_000_000)
    store.commit("t-3", {item: ("c", {"click": 1, **link_counts(["https://c.example/x"])})}, 2_000_000_000)
    (links,) = store.run_items("r", "LINK#")
    assert len(links["links"]) == engagement.MAX_LINKS
    assert links["link:https://a.example/000"] == 2
    assert links["link:https://b.example/000"] == links["link:https://b.example/001"] == 1
    assert "link:https://b.example/002" not in links and "lbl:https://b.example/002#tag" not in links
    assert links["link_other"] == 4 and links["ulink_other"] == 4  # b/002..004 and c/x
    totals, _ = store.run_counts("r")
    rows = engagement.links_report([links], totals)
    assert sum(row.clicks for row in rows) == totals["click"] == len(first) + 7  # every click, somewhere
    assert rows[-1].other and rows[-1].clicks == 4


def test_time_buckets_ride_in_the_same_commit(store):
    counts = replay([opened("2026-01-01T10:00:30.000Z"), click("2026-01-01T11:01:00.000Z", "https://shop.example/a")])
    store.commit("t-1", {CounterItem("r", "s", 0): ("c", counts)}, 2_000_000_000)
    rows = engagement.timeline_report(store.run_items("r", "TL#"))
    assert [(row.start, row.opens, row.unique_opens, row.clicks, row.unique_clicks) for row in rows] == [
        ("2026-01-01T10:00:00Z", 1, 1, 0, 0),
        ("2026-01-01T11:00:00Z", 0, 0, 1, 1),
    ]
    totals, _ = store.run_counts("r")
    assert (totals["open"], totals["unique_open"], totals["click"], totals["unique_click"]) == (1, 1, 1, 1)


def test_one_commit_with_more_links_than_an_item_takes_keeps_max_links(store):
    keys = [f"https://a.example/{i:03d}" for i in range(engagement.MAX_LINKS + 3)]
    store.commit("t-1", {CounterItem("r", "s", 0): ("c", {"click": len(keys), **link_counts(keys)})}, 2_000_000_000)
    (links,) = store.run_items("r", "LINK#")
    assert len(links["links"]) == LINKS_PER_COMMIT and links["link_other"] == len(keys) - LINKS_PER_COMMIT
    # A later commit of the links it had no room for fills the item up to MAX_LINKS, never past it.
    rest = keys[LINKS_PER_COMMIT:]
    store.commit("t-2", {CounterItem("r", "s", 0): ("c", {"click": len(rest), **link_counts(rest)})}, 2_000_000_000)
    (links,) = store.run_items("r", "LINK#")
    assert len(links["links"]) == engagement.MAX_LINKS
    assert sum(v for k, v in links.items() if k.startswith("link:")) + links["link_other"] == len(keys) + len(rest)
