"""The README runs as written.

Every command in its fenced ```bash / ```sh blocks is classified here: the `campaign` ones run, in
the README's order, as the installed console script against a local endpoint (what `make local-up`
runs; `source .venv/bin/activate` is PATH), from a directory where the README's relative paths
resolve and its output files (report.html, suppressed.csv) land in a temporary place; `make` lines
are dry-run (`make -n`: the target exists, `make demo`'s variables reach the demo); the ones that
need an AWS account (`sam deploy`, `aws ...`) are skipped, but the repository files they name must
exist. A command no rule here knows fails the test, so a new README command gets a decision.

Each command must exit 0, or the code its own comment gives (``# exits 1: ...``). ``<run>`` is the
run id the README's `send` printed; for the run-control block (pause, resume, cancel, retry,
reconcile) it is a run this test starts slow enough to pause, and each of those commands must do
what the README says it does to it.

README JSON blocks that are campaign definitions or templates are checked with the real models, and
the README's campaign, pushed with the repository's templates, previews cleanly on the shipped
subscribers file (issue 11, found-item 12). The prod deploy example repeats every parameter of
samconfig.toml's prod environment (a --parameter-overrides replaces that list).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from campaign_engine.domain.campaign import parse_definition
from campaign_engine.domain.templates import parse_template

from campaign_local import demo
from campaign_local.audience_gen import generate
from tests.conftest import local_endpoint

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent  # `source .venv/bin/activate` puts this first on PATH
# The README's relative paths, visible from the directory the commands run in.
LINKED = ("examples", "templates", "docs", "events")
# Paths a README command names that must be in the repository (shipped, not "bring your own").
REPO_PATH = re.compile(r"^(?:examples|templates|docs|events)/")
RUN_CONTROL = ("pause", "resume", "cancel", "retry", "reconcile")
# Commands that need an AWS account: skipped (the files they name are still checked).
NEEDS_AWS = (".venv-tools/sam/bin/sam deploy", "sam deploy", "aws ", "BUCKET=$(aws ")


@dataclass(frozen=True)
class Command:
    line: int  # where it starts in README.md
    text: str  # continuation lines joined, trailing comment removed
    comment: str
    block: int  # which fenced block

    @property
    def expected_exit(self) -> int:
        found = re.search(r"\bexits (\d+)\b", self.comment)
        return int(found.group(1)) if found else 0

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def subcommand(self) -> str:
        """`campaign --local send ...` -> send (global options go before or after it)."""
        return next((w for w in self.words[1:] if not w.startswith("-")), "")

    def where(self) -> str:
        return f"README.md:{self.line}: {self.text}"


def fenced_blocks(markdown: str) -> list[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of every fenced block."""
    blocks: list[tuple[str, int, list[str]]] = []
    language: str | None = None
    start, lines = 0, list[str]()
    for number, line in enumerate(markdown.splitlines(), start=1):
        fence = re.match(r"^\s*```(\S*)\s*$", line)
        if fence and language is None:
            language, start, lines = fence.group(1), number + 1, []
        elif fence and language is not None:
            blocks.append((language, start, lines))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """A shell line and its trailing comment: a # outside quotes that starts a word."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), ""


def readme_commands() -> list[Command]:
    commands = []
    for block, (language, start, lines) in enumerate(fenced_blocks(README.read_text(encoding="utf-8"))):
        if language not in {"bash", "sh", "shell"}:
            continue
        pending: list[str] = []
        first = 0
        for offset, raw in enumerate(lines):
            if not pending:
                first = start + offset
            if raw.rstrip().endswith("\\"):
                pending.append(raw.rstrip()[:-1])
                continue
            text, comment = split_comment(" ".join([*pending, raw]))
            pending = []
            if text.strip():
                commands.append(Command(first, " ".join(text.split()), comment, block))
    return commands


def json_blocks() -> list[tuple[int, str]]:
    return [
        (start, "\n".join(lines))
        for language, start, lines in fenced_blocks(README.read_text(encoding="utf-8"))
        if language == "json"
    ]


COMMANDS = readme_commands()


def kind(command: Command) -> str:
    text = command.text
    if text.startswith("campaign "):
        if "--stack-name" in command.words:
            return "aws"
        if command.subcommand in RUN_CONTROL:
            return "run-control"
        return "campaign"
    if text.startswith("make "):
        return "make"
    if text == "source .venv/bin/activate":
        return "activate"
    if text.startswith(NEEDS_AWS):
        return "aws"
    return "unknown"


def test_every_readme_command_is_known():
    assert COMMANDS, "no shell commands found in README.md"
    unknown = [c.where() for c in COMMANDS if kind(c) == "unknown"]
    assert not unknown, "README commands this test does not know how to check:\n" + "\n".join(unknown)


def test_every_file_a_readme_command_names_is_shipped():
    missing = []
    for command in COMMANDS:
        for word in command.words:
            value = word.split("=", 1)[1] if re.match(r"^[A-Z_]+=", word) else word
            if REPO_PATH.match(value) and not glob.glob(str(ROOT / value)):
                missing.append(f"{command.where()}: {value}")
    assert not missing, "README commands name files the repository does not have:\n" + "\n".join(missing)


def test_every_relative_link_of_the_readme_resolves():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    assert not missing, f"README.md links to files the repository does not have: {missing}"


def test_make_lines_are_targets_and_make_demo_passes_its_files():
    for command in (c for c in COMMANDS if kind(c) == "make"):
        words = command.words
        done = subprocess.run(
            ["make", "--no-print-directory", "-n", *words[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{command.where()}\n{done.stderr}"
        if words[1] != "demo":
            continue
        recipe = done.stdout.replace("\\\n", " ")
        (line,) = [text for text in recipe.splitlines() if "-m campaign_local.demo" in text]
        argv = shlex.split(line)
        args = demo.parse_args(argv[argv.index("campaign_local.demo") + 1 :])
        given = dict(word.split("=", 1) for word in words[2:] if "=" in word)
        for variable, option in (("CAMPAIGN", "campaign"), ("AUDIENCE", "audience"), ("TEMPLATES", "templates")):
            if variable in given:
                assert getattr(args, option) == Path(given[variable]), command.where()
                assert (ROOT / given[variable]).exists(), command.where()


def test_the_prod_deploy_example_keeps_every_samconfig_parameter():
    """`sam deploy --config-env prod --parameter-overrides ...` replaces samconfig's prod list, so a
    README line that passes --parameter-overrides must repeat all of it (and the README must say so)."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    prod = set(config["prod"]["deploy"]["parameters"]["parameter_overrides"])
    with_overrides = [c for c in COMMANDS if "--parameter-overrides" in c.words and "--config-env" in c.words]
    assert with_overrides, "the README shows no prod deploy with --parameter-overrides"
    for command in with_overrides:
        words = command.words
        given = set(words[words.index("--parameter-overrides") + 1 :])
        assert prod <= given, f"{command.where()}\nleaves out samconfig's {sorted(prod - given)}"
    text = README.read_text(encoding="utf-8")
    assert "replaces" in text and "aws-sam-cli/issues/2380" in text


def test_readme_json_blocks_are_valid_definitions_and_templates():
    checked = 0
    for start, text in json_blocks():
        document = json.loads(text)
        if "sender" in document:
            parse_definition(text, source=f"README.md:{start}", campaign_id=document.get("campaign_id") or "readme")
            checked += 1
        elif {"Subject", "Html"} & document.keys():
            parse_template(text, source=f"README.md:{start}")
            checked += 1
    assert checked, "no campaign definition or template among the README's JSON blocks"


# ---------------------------------------------------------------- against the local endpoint


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """What `make local-up` runs, on a free port; a 5/s account, so a 200-row run lasts long enough
    to pause (about 50 s; the test cancels it) and the README's 6-row send still takes 2 s."""
    with local_endpoint(tmp_path_factory.mktemp("readme-endpoint"), max_send_rate=5) as state:
        yield {"CAMPAIGN_LOCAL_STATE": str(state)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Where the README's commands run: its relative paths resolve, its outputs stay here."""
    where = tmp_path_factory.mktemp("readme-cwd")
    for name in LINKED:
        (where / name).symlink_to(ROOT / name, target_is_directory=True)
    return where


def shell(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "160"}
    return subprocess.run(
        ["bash", "-c", command], env=full_env, cwd=cwd, capture_output=True, text=True, timeout=300
    )  # globs (templates/*.json) expand as in a terminal


def run_id_in(done: subprocess.CompletedProcess) -> str | None:
    found = re.search(r"\brun ([A-Za-z0-9_-]+-u-[0-9a-f]+)", done.stdout + done.stderr)
    return found.group(1) if found else None


def test_the_readme_campaign_commands_run_as_written(endpoint, workdir):
    run: str | None = None
    failures = []
    for command in (c for c in COMMANDS if kind(c) == "campaign"):
        text = command.text
        if "<run>" in text:
            assert run, f"{command.where()}: no run id yet (the README's send comes first)"
            text = text.replace("<run>", run)
        done = shell(text, endpoint, workdir)
        if done.returncode != command.expected_exit:
            failures.append(f"{command.where()}\n  exit {done.returncode}, expected {command.expected_exit}\n"
                            f"  stdout: {done.stdout[-1500:]}\n  stderr: {done.stderr[-1500:]}")  # fmt: skip
        if command.subcommand == "send":
            run = run_id_in(done) or run
    assert not failures, "\n".join(failures)
    assert (workdir / "report.html").exists() and (workdir / "suppressed.csv").exists()


def wait_for_status(run: str, endpoint, workdir, wanted: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        done = shell(f"campaign --local --json status {shlex.quote(run)}", endpoint, workdir)
        if done.stdout.strip().startswith("{"):
            document = json.loads(done.stdout)
            status = str(document.get("status") or "")
            if status in wanted:
                return status
        time.sleep(0.5)
    return status


def test_the_readme_run_control_commands_do_what_it_says(endpoint, workdir, tmp_path):
    """pause a RUNNING run, resume it, cancel it; retry takes only a FAILED run (so it refuses this
    cancelled one, exit 1, saying why); reconcile settles any run. Each as the README writes it."""
    control = {c.subcommand: c for c in COMMANDS if kind(c) == "run-control"}
    assert set(control) == set(RUN_CONTROL), sorted(control)
    rows = list(generate(200, seed=11))
    for row in rows:  # addresses of this test's own: the campaign's ledger has the README's send
        if isinstance(row.get("email"), str) and row["email"].count("@") == 1:
            row["email"] = row["email"].replace("@", "+readme@")
    audience = tmp_path / "slow.json"
    audience.write_text(json.dumps(rows), encoding="utf-8")
    shell("campaign --local push examples/recipe/campaign.json templates/", endpoint, workdir)
    started = shell(f"campaign --local send recipe {shlex.quote(str(audience))} --no-follow", endpoint, workdir)
    run = run_id_in(started)
    assert started.returncode == 0 and run, started.stdout + started.stderr
    assert wait_for_status(run, endpoint, workdir, {"RUNNING"}) == "RUNNING"

    # resume exits 0 only for a PAUSED run, so pause's 0 then resume's 0 show the pause took.
    expected = {"pause": (0, None), "resume": (0, None), "cancel": (0, "CANCELLED"), "retry": (1, None),
                "reconcile": (0, None)}  # fmt: skip
    for verb in RUN_CONTROL:
        command = control[verb]
        done = shell(command.text.replace("<run>", run), endpoint, workdir)
        code, status = expected[verb]
        assert done.returncode == code, f"{command.where()}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
        if status:
            assert wait_for_status(run, endpoint, workdir, {status}, timeout=30) == status, command.where()
        if verb == "retry":
            # A refusal that says why (not FAILED, or its cancelled execution still ending), no traceback.
            assert run in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_readme_campaign_json_previews_with_the_shipped_templates(endpoint, workdir, tmp_path):
    """Issue 11, found-item 12: the README's campaign with the repository's templates failed preview."""
    (start, text) = next((s, t) for s, t in json_blocks() if "sender" in json.loads(t))
    definition = tmp_path / "readme-campaign.json"
    definition.write_text(text, encoding="utf-8")
    pushed = shell(f"campaign --local push {definition} templates/", endpoint, workdir)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    done = shell(
        "campaign --local --json preview readme-campaign --audience examples/recipe/subscribers.csv", endpoint, workdir
    )
    assert done.returncode == 0, f"README.md:{start}: the campaign does not preview\n{done.stdout}\n{done.stderr}"
    assert "would render blank" not in done.stdout and "lacks" not in done.stdout, done.stdout
