"""Invoke every function of template.yaml with `sam local invoke` and check each answer.

``make sam-local-invoke`` (mk/samlocal.mk) runs this after ``sam build`` and samlocal/build-image.sh:

1. It starts the local stack (campaign_local: every resource of template.yaml on moto, plus the
   SES v2 operations moto lacks) and serves its API on the docker bridge's gateway address, which
   is where the function containers reach this host.
2. It seeds what the events/ files assume: the recipe's campaign, templates and audiences, with the
   bucket notification off so that an upload starts nothing by itself.
3. ``sam local invoke`` gives a function only the environment variables its template declares, so
   it writes a copy of the built template that also declares AWS_ENDPOINT_URL (boto3 sends every
   call there), and an ``--env-vars`` file with the local stack's resource names and that endpoint.
4. It invokes the functions in the order of a real run (StartCampaign, Prepare, SendBatch per batch,
   CheckQuota, Finalize), then the feedback functions and the unsubscribe URL, and checks the exit
   code, the answer's key fields and, for some, what the handler wrote to moto. It prints a table
   and exits 1 on any mismatch. Each invocation's log is kept in build/samlocal/logs/.

Nothing here talks to AWS: SAM and the functions get dummy credentials, and SAM's own account-id
lookup (STS) goes to the local endpoint too.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
SUBSCRIBERS = ROOT / "examples/recipe/subscribers.json"
RECIPE = ROOT / "examples/recipe/campaign.json"
SENDER = "example.com"  # the recipe's sender domain, verified in the local SES
FEEDBACK_RUN = "run-0001"  # the run the events/suppression and events/engagement records are tagged with
# The only variables sam's process gets: dummy credentials (nothing of this host's AWS setup reaches
# SAM or the containers), and no telemetry.
SAM_ENV = {
    "SAM_CLI_TELEMETRY": "0",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _load(relative: str) -> dict[str, Any]:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


def _upload_run_id(campaign_id: str, key: str, etag: str) -> str:
    """StartCampaign's deterministic run name for an upload, computed independently of the code."""
    return f"{campaign_id}-u-" + hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:20]


RUN_ID = _load("prepare/run_input.json")["run_id"]
MISSING_RUN_ID = _load("prepare/run_input_missing_campaign.json")["run_id"]
S3_PUT_RUN_ID = _upload_run_id(
    "recipe",
    "incoming/recipe/spring subscribers.json",  # the event's key, URL-decoded
    _load("start_campaign/s3_put.json")["Records"][0]["s3"]["object"]["eTag"],
)


# ------------------------------------------------------------------------------------------ expectations
@dataclass(frozen=True)
class Contains:
    """The value (as JSON text) contains ``text``."""

    text: str

    def __call__(self, value: Any) -> bool:
        return self.text in (value if isinstance(value, str) else json.dumps(value))

    def __repr__(self) -> str:
        return f"~{self.text!r}"


def _counts(**values: int) -> dict[str, int]:
    from campaign_engine.domain.outcomes import OUTCOMES

    return {**dict.fromkeys(OUTCOMES, 0), **values}


def _dig(answer: Any, path: str) -> Any:
    """``runs.0.run_id`` -> answer["runs"][0]["run_id"]; a missing step gives the _MISSING marker."""
    value = answer
    for step in path.split(".") if path else []:
        try:
            value = value[int(step)] if isinstance(value, list) else value[step]
        except (KeyError, IndexError, TypeError, ValueError):
            return _MISSING
    return value


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _poison_failures(event: dict[str, Any]) -> list[dict[str, str]]:
    """batchItemFailures for a batch: the records whose body is not an SES record, in order."""
    from campaign_engine.domain.ses_events import unwrap

    failures = []
    for record in event["Records"]:
        try:
            unwrap(record["body"])
        except ValueError:
            failures.append({"itemIdentifier": record["messageId"]})
    return failures


# ------------------------------------------------------------------------------------------ cases
@dataclass(frozen=True)
class Case:
    function: str
    event: str  # events/<event>, or the name of an event made by make_event (build/samlocal/events/)
    expect: dict[str, Any]  # dotted path in the answer -> value, or a predicate such as Contains
    make_event: Callable[[Session], dict[str, Any]] | None = None
    before: Callable[[Session], None] | None = None
    # What the handler changed in moto: (description, check returning a problem or None).
    after: tuple[str, Callable[[Session], str | None]] | None = None
    quick: bool = False  # in the --quick set (the pipeline, and one case per feedback function)
    serial: bool = False  # True: never side by side with another case (see cases())


@dataclass
class Result:
    case: Case
    seconds: float
    exit_code: int
    answer: Any
    problems: list[str] = field(default_factory=list)
    log: Path | None = None


@dataclass
class Session:
    """The running local stack and what earlier invocations answered."""

    stack: Any
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)

    def answer(self, function: str, event: str) -> Any:
        return self.answers[(function, event)]

    def table_items(self, output: str) -> list[dict[str, Any]]:
        table = self.stack.outputs[output]
        return self.stack.client("dynamodb").scan(TableName=table)["Items"]

    def suppressed(self, reason: str) -> int:
        return sum(
            1
            for item in self.table_items("SuppressionTableName")
            if item.get("status", {}).get("S") == "SUPPRESSED" and item.get("reason", {}).get("S") == reason
        )

    def token(self, address: str = "ann@example.com") -> str:
        """A token signed with the stack's unsubscribe secret, as SendBatch writes into links."""
        from campaign_engine.domain import tokens

        arn = self.stack.environment["UNSUBSCRIBE_SECRET_ARN"]
        secret = self.stack.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        claim = tokens.UnsubscribeClaim(address, "recipe", None, FEEDBACK_RUN, "new_customers")
        return tokens.sign(secret.encode("utf-8"), claim)


def _with_token(relative: str) -> Callable[[Session], dict[str, Any]]:
    def make(session: Session) -> dict[str, Any]:
        text = (EVENTS / relative).read_text(encoding="utf-8")
        return json.loads(text.replace("TOKEN_PLACEHOLDER", session.token()))

    return make


def _second_batch(session: Session) -> dict[str, Any]:
    """What the Map's ItemSelector passes for batch 1: Prepare's context and line 2 of items.json."""
    prepared = session.answer("PrepareFunction", "prepare/run_input.json")
    items = session.stack.get_json(prepared["items_key"])
    return {"context": prepared["context"], "item": items[1]}


def _schedule_setup(session: Session) -> None:
    """schedule.json needs a definition with audience_key and that audience (not under incoming/)."""
    definition = json.loads(RECIPE.read_text(encoding="utf-8"))
    session.stack.put_json("campaigns/recipe.json", {**definition, "audience_key": "audiences/recipe/subscribers.json"})
    session.stack.upload("audiences/recipe/subscribers.json", SUBSCRIBERS.read_bytes())


def _execution_started(name: str) -> Callable[[Session], str | None]:
    def check(session: Session) -> str | None:
        names = {e["name"] for e in session.stack.executions()}
        return None if name in names else f"no execution {name} in Step Functions"

    return check


def _sent(count: int) -> Callable[[Session], str | None]:
    def check(session: Session) -> str | None:
        sent = len(session.stack.sent_messages())
        return None if sent == count else f"the local SES holds {sent} messages, not {count}"

    return check


def _object(key: str, **fields: Any) -> Callable[[Session], str | None]:
    def check(session: Session) -> str | None:
        try:
            document = session.stack.get_json(key)
        except Exception as exc:  # any S3 error means the object is not there
            return f"s3://.../{key}: {type(exc).__name__}"
        wrong = {k: document.get(k) for k, v in fields.items() if document.get(k) != v}
        return f"{key}: {wrong}" if wrong else None

    return check


def _prepared_items(count: int) -> Callable[[Session], str | None]:
    def check(session: Session) -> str | None:
        key = session.answer("PrepareFunction", "prepare/run_input.json")["items_key"]
        items = session.stack.get_json(key)
        return None if len(items) == count else f"{key} lists {len(items)} batches, not {count}"

    return check


def _suppressed_at_least(reason: str, count: int) -> Callable[[Session], str | None]:
    def check(session: Session) -> str | None:
        found = session.suppressed(reason)
        return None if found >= count else f"{found} addresses suppressed for {reason}, expected >= {count}"

    return check


NO_FAILURES = {"batchItemFailures": []}
ENGAGEMENT_EVENTS = sorted(p.stem for p in (EVENTS / "engagement").glob("*.json") if p.stem != "poison")
SUPPRESSION_EVENTS = sorted(p.stem for p in (EVENTS / "suppression").glob("*.json") if p.stem != "poison")


def cases() -> list[Case]:
    """In dependency order: each case relies only on the seed and the cases before it.

    The run's cases (StartCampaign .. Finalize) and the schedule are serial; the suppression and
    engagement cases touch other items (the run-0001 records, the suppression list) and may run
    side by side.
    """
    pipeline: list[Case] = [
        Case("StartCampaignFunction", "start_campaign/s3_put_outside_incoming.json", {"runs": []}),
        Case(
            "StartCampaignFunction",
            "start_campaign/s3_put.json",
            {"runs.0.run_id": S3_PUT_RUN_ID, "runs.0.started": True},
            after=("execution started in Step Functions", _execution_started(S3_PUT_RUN_ID)),
            quick=True,
        ),
        Case(
            "PrepareFunction",
            "prepare/run_input.json",
            {"status": "READY", "batch_count": 2, "error": None},
            after=("items.json: 2 batches", _prepared_items(2)),
            quick=True,
        ),
        Case(
            "PrepareFunction",
            "prepare/run_input_missing_campaign.json",
            {"status": "FAILED", "error": Contains("campaigns/spring-sale.json")},
        ),
        Case(
            "SendBatchFunction",
            "send_batch/batch.json",
            {"batch": 0, "segment": "new_customers", "counts": _counts(sent=2), "skipped_reason": None},
            after=("2 messages in the local SES", _sent(2)),
            quick=True,
        ),
        Case(
            "SendBatchFunction",
            "send_batch/batch-1.json",
            {"batch": 1, "segment": "loyal_customers", "counts": _counts(sent=1), "skipped_reason": None},
            make_event=_second_batch,
            after=("3 messages in the local SES", _sent(3)),
            quick=True,  # Finalize's counts need both batches sent
        ),
        Case("QuotaCheckFunction", "quota_check/after_map.json", {"status": "DONE", "wait_seconds": 0}, quick=True),
        Case(
            "FinalizeFunction",
            "finalize/after_map.json",
            {
                "status": "COMPLETED",
                "report_key": f"runs/recipe/{RUN_ID}/report.json",
                "rows": 3,
                "counts": _counts(sent=3),
            },
            after=(
                "report.json COMPLETED",
                _object(f"runs/recipe/{RUN_ID}/report.json", status="COMPLETED", rows=3),
            ),
            quick=True,
        ),
        Case(
            "FinalizeFunction",
            "finalize/after_prepare_failure.json",
            {
                "status": "FAILED",
                "report_key": f"runs/spring-sale/{MISSING_RUN_ID}/report.json",
                "rows": 0,
                "counts": _counts(),
            },
        ),
    ]
    found: list[Case] = []
    for stem in SUPPRESSION_EVENTS:
        after = None
        if stem == "bounce-permanent":
            after = ("address suppressed: BOUNCE", _suppressed_at_least("BOUNCE", 1))
        elif stem == "complaint":
            after = ("address suppressed: COMPLAINT", _suppressed_at_least("COMPLAINT", 1))
        found.append(
            Case(
                "SuppressionFunction",
                f"suppression/{stem}.json",
                NO_FAILURES,
                after=after,
                quick=stem == "bounce-permanent",
            )
        )
    found.append(
        Case(
            "SuppressionFunction",
            "suppression/poison.json",
            {"batchItemFailures": _poison_failures(_load("suppression/poison.json"))},
        )
    )
    for stem in ENGAGEMENT_EVENTS:
        found.append(Case("EngagementFunction", f"engagement/{stem}.json", NO_FAILURES, quick=stem == "mixed-batch"))
    found.append(
        Case(
            "EngagementFunction",
            "engagement/poison.json",
            {"batchItemFailures": _poison_failures(_load("engagement/poison.json"))},
        )
    )
    found += [
        # As it is in events/: TOKEN_PLACEHOLDER is no token, so the page says the link does not work.
        Case("UnsubscribeFunction", "unsubscribe/get.json", {"statusCode": 400}),
        Case(
            "UnsubscribeFunction",
            "unsubscribe/get-signed.json",
            {"statusCode": 200, "body": Contains("One-Click")},
            make_event=_with_token("unsubscribe/get.json"),
        ),
        Case(
            "UnsubscribeFunction",
            "unsubscribe/post-one-click-signed.json",
            {"statusCode": 200},
            make_event=_with_token("unsubscribe/post-one-click.json"),
            after=("address suppressed: UNSUBSCRIBE", _suppressed_at_least("UNSUBSCRIBE", 1)),
            quick=True,
        ),
        Case(
            "UnsubscribeFunction",
            "unsubscribe/post-multipart-signed.json",
            {"statusCode": 200},
            make_event=_with_token("unsubscribe/post-multipart.json"),
        ),
        Case("UnsubscribeFunction", "unsubscribe/post-no-token.json", {"statusCode": 400}),
        Case(
            "UnsubscribeFunction",
            "unsubscribe/post-forged-signed.json",
            {"statusCode": 403},
            make_event=_with_token("unsubscribe/post-forged.json"),
        ),
        Case(
            "UnsubscribeFunction",
            "unsubscribe/post-not-one-click-signed.json",
            {"statusCode": 400},
            make_event=_with_token("unsubscribe/post-not-one-click.json"),
        ),
    ]
    # Last: the run it starts sends to the recipe's audience (in this process, on moto), and the
    # ledger would then skip those recipients in the SendBatch cases above.
    schedule = Case(
        "StartCampaignFunction",
        "start_campaign/schedule.json",
        {"runs.0.run_id": "recipe-s-20261123T090000Z", "runs.0.started": True},
        before=_schedule_setup,
        after=("execution started in Step Functions", _execution_started("recipe-s-20261123T090000Z")),
    )
    # The unsubscribe cases run alone: the function's Timeout is 10 s, and SAM's emulation counts the
    # cold start against it, which two cold starts side by side on a busy 2-core machine can exceed.
    found = [replace(c, serial=True) if c.function == "UnsubscribeFunction" else c for c in found]
    return [*(replace(c, serial=True) for c in pipeline), *found, replace(schedule, serial=True)]


# ------------------------------------------------------------------------------------------ the stack
def bridge_gateway() -> str:
    """The host's address on docker's default bridge: what a function container reaches us at.

    The network's Gateway when docker reports one; otherwise the subnet's first address, which
    docker gives the bridge (docker0) when it assigns the subnet itself, as dockerd 20.10 does.
    """
    docker = shutil.which("docker") or "docker"
    found = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
        [docker, "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise SystemExit(f"docker network inspect bridge: {found.stderr.strip()}")
    for config in json.loads(found.stdout) or []:
        if config.get("Gateway"):
            return str(config["Gateway"])
        if config.get("Subnet"):
            network = ipaddress.ip_network(config["Subnet"])
            if network.version == 4:
                return str(next(network.hosts()))
    raise SystemExit(f"docker's bridge network has no IPv4 gateway or subnet: {found.stdout.strip()}")


def seed(stack: Any) -> None:
    """What the events/ files assume, as tests/conftest.py's quiet_stack prepares it."""
    for path in sorted((ROOT / "templates").glob("*.json")):
        stack.put_json(f"templates/{path.stem}.json", json.loads(path.read_text(encoding="utf-8")))
    stack.put_json("campaigns/recipe.json", json.loads(RECIPE.read_text(encoding="utf-8")))
    # Off, so that these uploads do not start runs of the ids the events name.
    stack.client("s3").put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    stack.upload("incoming/recipe/subscribers.json", SUBSCRIBERS.read_bytes())
    stack.upload("incoming/spring-sale/subscribers.json", SUBSCRIBERS.read_bytes())


@contextlib.contextmanager
def local_stack(host: str) -> Iterator[tuple[Any, str]]:
    """The local stack, seeded, with moto's API served on ``host`` (a free port)."""
    from campaign_local.server import Endpoint
    from campaign_local.stack import LocalStack

    with LocalStack.start() as stack:
        stack.verify_sender(SENDER)
        seed(stack)
        endpoint = Endpoint(host=host, port=0)
        url = endpoint.start()
        try:
            yield stack, url
        finally:
            # Runs that StartCampaign started go on in this process: let them end before moto stops.
            with contextlib.suppress(Exception):
                stack.wait_for_all(timeout=120)
            endpoint.stop()


def write_invoke_inputs(built: Path, out: Path, stack: Any, url: str) -> tuple[Path, Path]:
    """The template sam local invoke reads, and its --env-vars file.

    The template is the built one plus AWS_ENDPOINT_URL in Globals (sam passes only declared
    variables, from --env-vars or the template); it sits next to the built one because CodeUri and
    ContentUri are relative to it. The env-vars file gives every function the local stack's names.
    """
    template = yaml.safe_load(built.read_text(encoding="utf-8"))
    function_globals = template.setdefault("Globals", {}).setdefault("Function", {})
    function_globals.setdefault("Environment", {}).setdefault("Variables", {})["AWS_ENDPOINT_URL"] = url
    local_template = built.with_name("template.samlocal.yaml")
    local_template.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    env_vars = out / "env-vars.json"
    variables = {**stack.environment, "AWS_ENDPOINT_URL": url}
    env_vars.write_text(json.dumps({"Parameters": variables}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return local_template, env_vars


# ------------------------------------------------------------------------------------------ invoking
@dataclass(frozen=True)
class Invoker:
    sam: str
    template: Path
    env_vars: Path
    architecture: str
    endpoint: str
    out: Path

    def environment(self) -> dict[str, str]:
        env = {**SAM_ENV, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
        if os.environ.get("DOCKER_HOST"):
            env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
        # SAM asks STS for the account id before each invoke; unanswered, that costs ~10 s.
        env["AWS_ENDPOINT_URL_STS"] = self.endpoint
        return env

    def run(self, index: int, case: Case, session: Session) -> Result:
        if case.before:
            case.before(session)
        if case.make_event:
            event_path = self.out / "events" / case.event
            event_path.parent.mkdir(parents=True, exist_ok=True)
            event_path.write_text(json.dumps(case.make_event(session), indent=2) + "\n", encoding="utf-8")
        else:
            event_path = EVENTS / case.event
        name = case.event.replace("/", "-").removesuffix(".json")
        log = self.out / "logs" / f"{index:02d}-{case.function}-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            self.sam, "local", "invoke", case.function,
            "--template", str(self.template),
            "--event", str(event_path),
            "--env-vars", str(self.env_vars),
            "--parameter-overrides", f"Architecture={self.architecture}",
            "--skip-pull-image",
        ]  # fmt: skip
        started = time.monotonic()
        # No shell; the arguments are this module's own paths and the template's logical ids.
        done = subprocess.run(  # noqa: S603
            command, cwd=ROOT, env=self.environment(), capture_output=True, text=True, timeout=600, check=False
        )
        seconds = time.monotonic() - started
        record = f"$ {' '.join(command)}\n{done.stderr}\n--- stdout (the answer)\n{done.stdout}\n"
        log.write_text(_mask_addresses(record), encoding="utf-8")
        answer = _parse(done.stdout)
        session.answers[(case.function, case.event)] = answer
        problems = _problems(case, done.returncode, answer, session)
        timed_out = re.search(r"Function '\w+' timed out after \d+ seconds", done.stderr)
        if timed_out:
            # SAM's emulation counts the cold start (imports) against the function's Timeout.
            problems.insert(0, timed_out.group(0) + " (cold start included)")
        return Result(case, seconds, done.returncode, answer, problems, log)


def _parse(stdout: str) -> Any:
    """sam local invoke prints the function's answer, as JSON, on stdout (logs go to stderr)."""
    text = stdout.strip()
    if not text:
        return _MISSING
    try:
        return json.loads(text)
    except ValueError:
        try:
            return json.loads(text.splitlines()[-1])
        except ValueError:
            return _MISSING


def _problems(case: Case, exit_code: int, answer: Any, session: Session) -> list[str]:
    problems = []
    if exit_code != 0:
        problems.append(f"sam exited {exit_code}")
    if answer is _MISSING:
        return [*problems, "no JSON answer on stdout"]
    if isinstance(answer, dict) and "errorType" in answer:
        problems.append(f"{answer['errorType']}: {answer.get('errorMessage', '')}")
    for path, wanted in case.expect.items():
        got = _dig(answer, path)
        if not (wanted(got) if isinstance(wanted, Contains) else got == wanted):
            problems.append(f"{path}: expected {_show(wanted)}, got {_show(got)}")
    if not problems and case.after:
        problem = case.after[1](session)
        if problem:
            problems.append(problem)
    return [_redact(p) for p in problems]


ADDRESS = re.compile(r"[^\s@\"'<>,;:()]+@[^\s@\"'<>,;:()]+")


def _mask_addresses(text: str) -> str:
    """No raw addresses in logs: answers (Prepare's context names the sender) and errors may hold some."""
    return ADDRESS.sub("<address>", text)


def _redact(text: str) -> str:
    """A problem as printed: addresses masked, at most 300 characters."""
    return _mask_addresses(text)[:300]


def _show(value: Any) -> str:
    if isinstance(value, dict) and value and all(type(v) is int for v in value.values()):
        nonzero = ", ".join(f"{k}:{v}" for k, v in value.items() if v)
        return "{" + (nonzero + ", " if nonzero else "") + "others 0}"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"[{len(value)} item{'s' if len(value) > 1 else ''}]"
    text = repr(value) if isinstance(value, Contains) else json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _checked(case: Case) -> str:
    shown = " ".join(f"{path or 'answer'}={_show(value)}" for path, value in case.expect.items())
    return shown + (f" + {case.after[0]}" if case.after else "")


def run_all(selected: list[Case], invoker: Invoker, session: Session, jobs: int) -> list[Result]:
    """Serial cases one by one; consecutive other cases in groups of ``jobs`` side by side.

    Every `sam local invoke` rebuilds SAM's image (the template's layer on the base image), which is
    most of its time; SAM's build lock lets invocations that start together share one build.
    """
    results: list[Result] = []

    def report(result: Result) -> None:
        results.append(result)
        mark = "ok" if not result.problems else "FAIL"
        progress = f"{len(results):2d}/{len(selected)} {result.case.function} {result.case.event}"
        print(f"  {progress} {result.seconds:.1f} s {mark}", file=CONSOLE, flush=True)

    position = 0
    while position < len(selected):
        group = [selected[position]]
        while (
            not group[0].serial
            and len(group) < jobs
            and position + len(group) < len(selected)
            and not selected[position + len(group)].serial
        ):
            group.append(selected[position + len(group)])
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            futures = [pool.submit(invoker.run, position + i + 1, case, session) for i, case in enumerate(group)]
            for future in futures:
                report(future.result())
        position += len(group)
    return results


# ------------------------------------------------------------------------------------------ report
CONSOLE = sys.stdout  # this module's progress lines; _output_to() keeps it on the terminal


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send what the local stack prints (its in-process handlers' logs, moto's Step Functions
    interpreter: e.g. the run that events/start_campaign/s3_put.json starts fails in Prepare, because
    the event's object version does not exist) to ``path``, and keep CONSOLE on the terminal."""
    global CONSOLE
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    CONSOLE = os.fdopen(os.dup(1), "w", buffering=1)
    with path.open("w", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            CONSOLE.close()
            CONSOLE = sys.stdout


def print_table(results: list[Result]) -> None:
    rows = [
        (
            str(i),
            r.case.function,
            r.case.event.removesuffix(".json"),
            f"{r.seconds:.1f}",
            _checked(r.case),
            "ok" if not r.problems else "FAIL",
        )
        for i, r in enumerate(results, 1)
    ]
    header = ("#", "function", "event", "s", "checked (answer fields + effect in moto)", "result")
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    for i, r in enumerate(results, 1):
        for problem in r.problems:
            print(f"FAIL #{i} {r.case.function} {r.case.event}: {problem} (log: {r.log})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m samlocal.invoke", description=__doc__.split("\n")[0])
    parser.add_argument("--sam", default=".venv-tools/sam/bin/sam", help="the sam executable")
    parser.add_argument("--template", type=Path, default=Path("build/samlocal/sam/template.yaml"),
                        help="the template sam build wrote")  # fmt: skip
    parser.add_argument("--architecture", default="x86_64", choices=["x86_64", "arm64"],
                        help="the template's Architecture parameter the build used")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("build/samlocal"), help="env-vars, made events, logs")
    parser.add_argument("--quick", action="store_true", help="the run's cases and one case per feedback function")
    parser.add_argument(
        "--jobs", type=int, default=2, help="suppression/engagement cases run side by side (default 2; 1: none)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.template.is_file():
        print(f"error: {args.template} not found: run sam build first (make sam-local-invoke does)", file=sys.stderr)
        return 2
    selected = [c for c in cases() if c.quick or not args.quick]
    host = bridge_gateway()
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in [*(args.out / "logs").glob("*.log"), *(args.out / "events").rglob("*.json")]:
        stale.unlink()  # a previous run's: numbers and names differ between the full and --quick sets
    started = time.monotonic()
    stack_log = args.out / "local-stack.log"
    print(f"{len(selected)} invocations; the local stack's own output goes to {stack_log}", flush=True)
    with _output_to(stack_log), local_stack(host) as (stack, url):
        template, env_vars = write_invoke_inputs(args.template, args.out, stack, url)
        print(f"local stack at {url} (docker bridge gateway)", file=CONSOLE, flush=True)
        invoker = Invoker(args.sam, template, env_vars, args.architecture, url, args.out)
        results = run_all(selected, invoker, Session(stack), args.jobs)
    print()
    print_table(results)
    failed = sum(1 for r in results if r.problems)
    functions = len({r.case.function for r in results})
    print(
        f"\n{len(results) - failed}/{len(results)} invocations of {functions} functions passed "
        f"in {time.monotonic() - started:.0f} s (logs: {args.out / 'logs'})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
