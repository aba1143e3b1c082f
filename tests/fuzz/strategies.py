"""Hypothesis strategies for the fuzz targets: random data, and mutations of real samples
(the recipe's files, the events/ payloads, AWS's documented SES record shapes).

Big inputs (huge fields, thousands of columns, 50,000 levels of nesting) are drawn as a small
recipe (a character and a size) and built afterwards: hypothesis keeps what it draws small.
"""

from __future__ import annotations

import base64
import codecs
import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

# ------------------------------------------------------------------------------- JSON values

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "\ufeff",
    "\ud7ff",
    "é",
    "\uff41\uff20\uff42\uff0e\uff43\uff4f\uff4d",  # a@b.com in fullwidth forms
    "a@b.com",
    "A@B.COM",
    "x@localhost",
    "<a@b.c>",
    "a@b@c",
    '"q"@example.com',
    "a" * 65 + "@example.com",
    "\u202e",
    "NaN",
    "1e999",
    "-0",
    "0x1F",
    "\uff11\uff12",  # fullwidth 12
    "True",
    "null",
    "{{name}}",
    "{{#each x}}",
    "%s%n",
    "../../etc/passwd",
    "\r\n",
    "\u2028",
    "😀",
    "名前",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-03-02T09:00:03.123456789Z",
    "2026-02-30T09:00:00Z",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(NASTY_TEXT),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


def deep(levels: int, leaf: Any = 1, *, as_object: bool = False) -> Any:
    """A value nested ``levels`` deep, built without recursion."""
    value = leaf
    for _ in range(levels):
        value = {"k": value} if as_object else [value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """json.dumps, or for a value too deep for it, 50,000 levels of brackets: still an input."""
    try:
        return json.dumps(value, **options)
    except RecursionError:
        return deep_text(50_000)


DEEP_MARK = "\u0000deep\u0000"


def deep_text(levels: int, *, as_object: bool = False) -> str:
    if as_object:
        return '{"k":' * levels + "1" + "}" * levels
    return "[" * levels + "1" + "]" * levels


depths = st.sampled_from([1, 31, 32, 33, 100, 990, 1_000, 5_000, 20_000, 50_000])
huge_sizes = st.sampled_from([1_000, 70_000, 131_073, 300_000])


@st.composite
def json_mutation(draw: st.DrawFn, document: Any) -> Any:
    """The document with one or a few of its values replaced, removed, or added."""
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "deep", "huge", "retype"]))
        document = _apply(document, path, action, draw)
    return document


def _paths(value: Any) -> list[tuple[Any, ...]]:
    """Paths of the values of a document, down to 10 levels (a mutation may have nested it 50,000
    deep already: no recursion here)."""
    out: list[tuple[Any, ...]] = []
    pending: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while pending:
        node, path = pending.pop()
        out.append(path)
        if len(path) >= 10:
            continue
        if isinstance(node, dict):
            pending.extend((child, (*path, key)) for key, child in node.items())
        elif isinstance(node, list):
            pending.extend((child, (*path, index)) for index, child in enumerate(node))
    return out


def _apply(document: Any, path: tuple[Any, ...], action: str, draw: st.DrawFn) -> Any:
    if action == "replace":
        new: Any = draw(json_values)
    elif action == "deep":
        new = deep(draw(depths), draw(scalars), as_object=draw(st.booleans()))
    elif action == "huge":
        new = draw(st.sampled_from(["x", "é", "@", " ", "\\", "\n"])) * draw(huge_sizes)
    elif action == "retype":
        new = draw(st.sampled_from([None, 0, "", [], {}, True, "text", 1.5]))
    else:
        new = None
    if not path:
        return new if action not in ("delete", "add") else document
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(st.text(max_size=12))] = draw(json_values)
    elif action == "add" and isinstance(parent, list):
        parent.insert(last, draw(json_values))
    else:
        parent[last] = new
    return document


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Bytes with a few flips, cuts, insertions and repeats: what a broken upload looks like."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(out))))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "repeat"]))
        if action == "flip" and out:
            out[min(at, len(out) - 1)] = draw(st.integers(0, 255))
        elif action == "cut":
            del out[at : at + draw(st.integers(1, 40))]
        elif action == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=12) | st.sampled_from([b'"', b",", b"\n", b"{", b"["]))
        elif action == "truncate":
            del out[at:]
        elif action == "repeat":
            out[at:at] = bytes(out[at : at + draw(st.integers(1, 20))]) * draw(st.integers(2, 50))
    return bytes(out)


# ------------------------------------------------------------------------------ audience files

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "shift_jis"]
# Compressed, tab-separated and spreadsheet names too: the reader decides by name and by content.
SUFFIXES = [".csv", ".json", ".jsonl", ".ndjson", ".csv.gz", ".jsonl.gz", ".json.gz", ".tsv", ".txt", ".xlsx"]
RECIPE_SUBSCRIBERS = json.loads((ROOT / "examples/recipe/subscribers.json").read_text(encoding="utf-8"))
cells = st.one_of(st.text(max_size=12), st.sampled_from(NASTY_TEXT), st.emails().map(str))
segments = st.sampled_from(["new_customers", "loyal_customers", " new_customers", "NEW_CUSTOMERS"]) | cells
addresses = st.emails().map(str) | cells
columns = st.one_of(st.sampled_from(["email", "Email", " E-Mail ", "name", "segment", "age", "preferences"]), st.text())


@st.composite
def csv_file(draw: st.DrawFn, encodings: list[str] | None = None, recipe_rows: bool = False) -> bytes:
    header = draw(st.lists(columns, min_size=0, max_size=6))
    if recipe_rows or draw(st.booleans()):
        header.insert(draw(st.integers(0, len(header))), "email")
    if recipe_rows and "segment" not in header:
        header.append("segment")
    wide = draw(st.sampled_from([0, 0, 0, 2_000, 10_000]))  # thousands of columns
    header += [f"c{index}" for index in range(wide)]
    delimiter = "," if recipe_rows else draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 6))):
        row = draw(st.lists(cells, min_size=0, max_size=len(header) + 2))
        if recipe_rows and draw(st.booleans()):  # a row that fits the header: it reaches a segment
            values = {"email": draw(addresses), "segment": draw(segments), "name": draw(cells)}
            row = [values.get(column, draw(cells)) for column in header]
        if wide and draw(st.booleans()):
            row = ["a@example.com", *["v"] * (len(header) - 1)]
        writer.writerow(row)
    text = buffer.getvalue()
    if draw(st.booleans()):
        text += draw(st.sampled_from(["x", "é", '"', ","])) * draw(huge_sizes)  # a huge last field
    line_end = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    text = text.replace("\r\n", line_end)
    return _encode(draw, text, encodings)


@st.composite
def json_file(draw: st.DrawFn, encodings: list[str] | None = None, lines: bool | None = None) -> bytes:
    rows = draw(
        st.lists(
            st.one_of(
                st.fixed_dictionaries(
                    {"email": addresses}, optional={"segment": segments, "name": cells, "age": scalars}
                ),
                st.sampled_from(RECIPE_SUBSCRIBERS),
                json_values,
            ),
            max_size=6,
        )
    )
    deep_levels = draw(depths) if draw(st.booleans()) else 0
    if deep_levels:  # spliced in as text after encoding: json.dumps itself stops near 1,000 levels
        rows.append({"email": "d@example.com", "x": DEEP_MARK})
    if draw(st.booleans()):
        rows.append({"email": "h@example.com", "big": "y" * draw(huge_sizes)})
    if draw(st.booleans()):  # a Pinpoint endpoint or two
        rows.insert(0, {"ChannelType": draw(st.sampled_from(["EMAIL", "SMS", "", 1])), "Address": draw(cells)})
    if lines is None:
        lines = draw(st.booleans())
    if lines:
        text = "\n".join(json.dumps(row, ensure_ascii=draw(st.booleans())) for row in rows)
    else:
        text = json.dumps(rows, indent=draw(st.sampled_from([None, 1, 2])))
    if deep_levels:
        text = text.replace(json.dumps(DEEP_MARK), deep_text(deep_levels, as_object=draw(st.booleans())))
    return _encode(draw, text, encodings)


def _encode(draw: st.DrawFn, text: str, encodings: list[str] | None = None) -> bytes:
    encoding = draw(st.sampled_from(encodings or ENCODINGS))
    return codecs.encode(text, encoding, errors="replace")


@st.composite
def audience_file(draw: st.DrawFn) -> tuple[str, bytes, dict[str, Any]]:
    suffix = draw(st.sampled_from(SUFFIXES))
    recipe = json.dumps(RECIPE_SUBSCRIBERS, indent=2).encode()
    data = draw(
        st.one_of(
            st.binary(max_size=400),
            csv_file(),
            json_file(),
            byte_mutation(recipe),
            st.builds(lambda text: text.encode("utf-8"), st.text(max_size=200)),
            depths.map(lambda levels: deep_text(levels).encode()),
            depths.map(lambda levels: ("[\n" + deep_text(levels, as_object=True) + "\n]").encode()),
        )
    )
    packing = draw(st.sampled_from(["plain", "plain", "gzip", "gzip-cut"]))
    if packing != "plain":  # gzip'd whatever the name says, or cut short as an interrupted upload is
        data = gzip.compress(data, mtime=0)
        if packing == "gzip-cut":
            data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    options = {
        "list_fields": draw(st.lists(st.sampled_from(["preferences", "email", "segment", ""]), max_size=2)),
        "list_separator": draw(st.sampled_from([";", ",", "|", "::"])),
        "pinpoint": draw(st.sampled_from([None, None, True, False])),
    }
    return f"incoming/fuzz/audience{suffix}", data, options


@st.composite
def readable_audience_file(draw: st.DrawFn) -> tuple[str, bytes, dict[str, Any]]:
    """Mostly files Prepare reads through (UTF-8, the format the name says), so that rows reach
    segments, templates and batches; a quarter are anything at all."""
    utf8 = ["utf-8", "utf-8-sig"]
    kind = draw(st.sampled_from(["csv", "json", "jsonl", "any"]))
    if kind == "any":
        return draw(audience_file())
    data = draw(csv_file(utf8, recipe_rows=True) if kind == "csv" else json_file(utf8, lines=kind == "jsonl"))
    options: dict[str, Any] = {"pinpoint": draw(st.sampled_from([None, None, True, False]))}
    if kind == "csv" and draw(st.booleans()):
        options |= {"list_fields": ["preferences"], "list_separator": draw(st.sampled_from([";", "|"]))}
    return f"incoming/fuzz/audience.{kind}", data, options


# ------------------------------------------------------------------------------- definitions

RECIPE_CAMPAIGN = json.loads((ROOT / "examples/recipe/campaign.json").read_text(encoding="utf-8"))
operators = st.sampled_from(["eq", "ne", "in", "contains", "exists", "gt", "gte", "lt", "lte", "like", ""])


def rules() -> st.SearchStrategy[Any]:
    field_rule = st.builds(
        lambda field, op, operand, extra: {"field": field, op: operand, **extra},
        st.one_of(st.sampled_from(["age", "segment", "a.b", "preferences", "", "."]), st.text(max_size=6)),
        operators,
        scalars | st.lists(scalars, max_size=3),
        st.dictionaries(operators, scalars, max_size=1),
    )
    odd: list[Any] = [{"always": True}, {"always": None}, {}, [], None, "x"]
    leaves: st.SearchStrategy[Any] = field_rule | st.sampled_from(odd)
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(lambda items: {"all": items}, st.lists(children, max_size=3)),
            st.builds(lambda items: {"any": items}, st.lists(children, max_size=3)),
            st.builds(lambda item: {"not": item}, children),
        ),
        max_leaves=8,
    )


rows = st.one_of(
    st.sampled_from(RECIPE_SUBSCRIBERS),
    st.dictionaries(st.sampled_from(["age", "segment", "a", "preferences", "email"]), json_values, max_size=5),
)


@st.composite
def definition_text(draw: st.DrawFn) -> bytes | str:
    document = json.loads(json.dumps(RECIPE_CAMPAIGN))
    if draw(st.booleans()):
        document["segments"][0]["rule"] = draw(rules())
    document = draw(json_mutation(document)) if draw(st.integers(0, 3)) else document
    text = dumps(document, indent=draw(st.sampled_from([None, 2])))
    if draw(st.integers(0, 4)) == 0:
        return draw(byte_mutation(text.encode()))
    return _encode(draw, text) if draw(st.booleans()) else text


# ------------------------------------------------------------------------------- SES records


def _sample_records() -> list[dict[str, Any]]:
    """Every SES record in events/ (bare, as SES writes them), both formats."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((EVENTS / "suppression").glob("*.json")) + sorted((EVENTS / "engagement").glob("*.json")):
        for record in json.loads(path.read_text(encoding="utf-8"))["Records"]:
            try:
                envelope = json.loads(record["body"])
                ses = json.loads(envelope["Message"]) if isinstance(envelope.get("Message"), str) else envelope
            except (ValueError, TypeError, KeyError):
                continue
            if isinstance(ses, dict) and ("eventType" in ses or "notificationType" in ses):
                found[json.dumps(ses, sort_keys=True)] = ses
    return list(found.values())


SES_SAMPLES = _sample_records()
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:campaign-engine-SesEventsTopic"


@st.composite
def ses_record(draw: st.DrawFn) -> dict[str, Any]:
    """A mutated SES record (event publishing or notification format)."""
    record = json.loads(json.dumps(draw(st.sampled_from(SES_SAMPLES))))
    if draw(st.integers(0, 5)):
        record = draw(json_mutation(record))
    return record


@st.composite
def ses_body(draw: st.DrawFn) -> Any:
    """What reaches unwrap: an SQS body (SNS envelope text or raw record), a dict, or junk."""
    from campaign_local.ses_events import sns_envelope

    record = draw(ses_record())
    raw = dumps(record)
    shape = draw(st.sampled_from(["envelope", "envelope", "raw", "dict", "text", "sqs"]))
    if shape == "envelope":
        envelope: Any = sns_envelope(raw, TOPIC_ARN)
        if draw(st.booleans()):
            envelope = draw(json_mutation(envelope))
        return dumps(envelope)
    if shape == "raw":
        return raw
    if shape == "dict":
        return record
    if shape == "sqs":
        return {"eventSource": "aws:sqs", "body": raw}
    return draw(byte_mutation(raw.encode())).decode("utf-8", errors="replace")


# --------------------------------------------------------------------- unsubscribe requests

UNSUBSCRIBE_EVENTS = {
    path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted((EVENTS / "unsubscribe").glob("*.json"))
}
claims = st.fixed_dictionaries(
    {
        "address": st.one_of(st.emails().map(str), st.sampled_from(NASTY_TEXT), st.text(max_size=30)),
        "campaign_id": st.one_of(st.just("recipe"), st.text(max_size=20)),
        "topic": st.one_of(st.none(), st.just("news"), st.text(max_size=10)),
        "run_id": st.one_of(st.none(), st.just("recipe-u-0123456789abcdef0123"), st.text(max_size=20)),
        "segment": st.one_of(st.none(), st.just("new_customers"), st.text(max_size=10)),
    }
)


@st.composite
def multipart_body(draw: st.DrawFn) -> tuple[str, bytes]:
    boundary = draw(st.sampled_from(["XyZ", "", "a b", "é", "--", "x" * 80]))
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["List-Unsubscribe", "token", "x", ""]))
        value = draw(st.sampled_from(["One-Click", "", "é", "\x00"]) | st.text(max_size=10))
        charset = draw(st.sampled_from(["", "; charset=utf-8", "; charset=nonsense", "; charset=utf-16"]))
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\nContent-Type: text/plain{charset}\r\n'
            f"\r\n{value}\r\n"
        )
    body = "".join(parts) + (f"--{boundary}--\r\n" if draw(st.booleans()) else "")
    content_type = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={boundary}",
                f'multipart/form-data; boundary="{boundary}"',
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; boundary=ü",
            ]
        )
    )
    return content_type, body.encode("utf-8", errors="surrogatepass")


@st.composite
def unsubscribe_request(draw: st.DrawFn) -> dict[str, Any]:
    """A function URL event: one of events/unsubscribe, with method, token, query, headers and
    body varied. The token placeholder is a kind: ``valid`` (signed with the stack's secret),
    ``forged``, ``mangled`` or literal text; the target signs it."""
    event = json.loads(json.dumps(draw(st.sampled_from(list(UNSUBSCRIBE_EVENTS.values())))))
    token = draw(
        st.one_of(
            st.tuples(st.just("valid"), claims),
            st.tuples(st.just("forged"), claims),
            st.tuples(st.just("mangled"), claims),
            st.tuples(st.just("text"), st.one_of(st.text(max_size=60), st.sampled_from(["", ".", "..", "a.b", "=.="]))),
            st.just(("none", None)),
        )
    )
    method = draw(st.sampled_from(["GET", "POST", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "get"]))
    event["requestContext"]["http"]["method"] = method
    if draw(st.integers(0, 5)) == 0:
        event["rawPath"] = event["requestContext"]["http"]["path"] = draw(st.sampled_from(["/x", "//", "/%00", ""]))
    body_kind = draw(st.sampled_from(["keep", "one-click", "text", "multipart", "base64", "bad-base64", "none"]))
    headers = dict(event.get("headers") or {})
    if body_kind == "one-click":
        event["body"] = "List-Unsubscribe=One-Click"
        headers["content-type"] = "application/x-www-form-urlencoded"
    elif body_kind == "text":
        texts = st.sampled_from(["List-Unsubscribe=One-Click&token=x", "=&=&", "%"])
        event["body"] = draw(st.text(max_size=80) | texts)
    elif body_kind == "multipart":
        content_type, body = draw(multipart_body())
        headers["content-type"] = content_type
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    elif body_kind == "base64":
        event["body"] = base64.b64encode(draw(st.binary(max_size=60))).decode()
        event["isBase64Encoded"] = True
    elif body_kind == "bad-base64":
        event["body"] = draw(st.sampled_from(["!!!", "a", "abc", "====", "é"]) | st.text(max_size=10))
        event["isBase64Encoded"] = True
    elif body_kind == "none":
        event.pop("body", None)
    if draw(st.booleans()):
        headers["content-type"] = draw(
            st.sampled_from(["", "text/plain", "application/json", "multipart/form-data", "é/ü", "a" * 300])
            | st.text(max_size=30)
        )
    if draw(st.integers(0, 4)) == 0:
        headers[draw(st.sampled_from(["Content-Type", "CONTENT-TYPE", "cookie", "x"]))] = draw(st.text(max_size=20))
    event["headers"] = headers
    event["_token"] = token
    event["_query"] = draw(st.sampled_from(["token", "token", "duplicate", "none", "extra"]))
    return event


# ------------------------------------------------------------------------- StartCampaign events

START_EVENTS = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((EVENTS / "start_campaign").glob("*.json"))
}
object_keys = st.one_of(
    st.sampled_from(
        [
            "incoming/recipe/list.csv",
            "incoming/recipe/spring+subscribers.json",
            "incoming/recipe/%E2%82%AC.csv",
            "incoming/recipe/%ZZ",
            "incoming/recipe/",
            "incoming//x.csv",
            "incoming/Recipe/x.csv",
            "incoming/" + "a" * 60 + "/x.csv",
            "incoming/recipe/" + "x" * 1024,
            "other/recipe/x.csv",
            "",
        ]
    ),
    st.text(max_size=40).map(lambda text: "incoming/" + text),
)


@st.composite
def start_event(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["s3", "s3", "schedule", "resume", "junk"]))
    if kind == "junk":
        return draw(json_values)
    event = json.loads(json.dumps(START_EVENTS[{"s3": "s3_put", "schedule": "schedule", "resume": "resume"}[kind]]))
    if kind == "s3":
        obj = event["Records"][0]["s3"]["object"]
        obj["key"] = draw(object_keys)
        if draw(st.booleans()):
            obj["eTag"] = draw(st.sampled_from([None, "", '"quoted"', 5, "x" * 200]))
        if draw(st.booleans()):
            event["Records"] = event["Records"] * draw(st.integers(0, 3))
    elif kind == "schedule":
        event["scheduled_time"] = draw(
            st.sampled_from(
                ["2026-11-23T09:00:00Z", "2026-11-23T09:00:00", "2026-11-23", "yesterday", "", *NASTY_TEXT[-4:]]
            )
            | st.text(max_size=25)
        )
        event["campaign_id"] = draw(st.sampled_from(["recipe", "Recipe", "", "a" * 49, "x/y"]) | st.text(max_size=10))
    if draw(st.integers(0, 2)) == 0:
        event = draw(json_mutation(event))
    return event
