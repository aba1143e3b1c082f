"""``campaign push FILE|DIR...``: campaign definitions to ``campaigns/<id>.json`` and templates to
``templates/<name>.json`` (and to SES), after every file has passed ``campaign validate``:
one bad file and nothing is pushed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from campaign_engine.adapters import ses, storage
from campaign_engine.domain.templates import parse_template

from ..errors import NOT_FOUND, OK, PROBLEMS
from ..output import Out
from ..target import Target
from .validate import detect_kind, validate_campaign, validate_template


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return found


def run_push(args: Any, target: Target, out: Out) -> int:
    # SendBatch may send only through the stack's SenderIdentity: a campaign whose sender it does
    # not cover would fail on AWS after its run started, so it is refused here, before the upload.
    sender_identity = target.outputs.get("SenderIdentity")
    results = []
    for path in _files(args.paths):
        if not path.is_file():  # NOT_FOUND, as send and preview say of a missing file
            out.note(f"[red]{path}: no such file[/red]")
            return NOT_FOUND
        kind = detect_kind(path)
        if kind == "campaign":
            results.append(validate_campaign(path, None, sender_identity))
        elif kind == "template":
            results.append(validate_template(path))
        else:
            out.note(f"[red]{path}: an audience file; `campaign send` uploads those[/red]")
            return PROBLEMS
    bad = [r for r in results if not r.ok]
    if bad:
        for result in bad:
            for problem in result.problems[:10]:
                line = f":{problem['line']}" if problem["line"] else ""
                field = f" {problem['field']}:" if problem["field"] else ""
                out.note(f"[red]{result.path}{line}:{field} {problem['message']}[/red]")
        out.note(f"nothing pushed: {len(bad)} of {len(results)} files have problems")
        if out.as_json:
            out.document({"pushed": [], "files": [r.to_dict() for r in results]})
        return PROBLEMS
    pushed = []
    for result in results:
        path = Path(result.path)
        if result.kind == "campaign":
            key = f"campaigns/{result.summary['campaign_id']}.json"
            storage.put_bytes(target.bucket, key, path.read_bytes(), "application/json")
            pushed.append({"file": str(path), "kind": "campaign", "key": key})
        else:
            name = path.stem
            key = f"templates/{name}.json"
            raw = path.read_bytes()
            storage.put_bytes(target.bucket, key, raw, "application/json")
            # SES gets it now, so preview and test renders see it before the first run.
            action = ses.ensure_template(name, parse_template(raw, source=str(path)))
            pushed.append({"file": str(path), "kind": "template", "key": key, "ses": action})
    if out.as_json:
        out.document({"pushed": pushed})
    else:
        for item in pushed:
            extra = f" (SES template {item['ses']})" if "ses" in item else ""
            out.line(f"pushed {item['file']} -> s3://{target.bucket}/{item['key']}{extra}")
    return OK
