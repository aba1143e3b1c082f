"""``campaign``: run email campaigns on a deployed stack or on the local one.

    campaign [--local | --stack-name NAME] [--region R] [--profile P] [--json] [--wide] COMMAND ...

Commands work the same on both targets: resources come from the stack's outputs. The global
options may also follow the command (``campaign status --json --local``). Conventions (tables,
times, exit codes, pipes) are in docs/cli.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .errors import CLOSED_PIPE, EXIT_CODES, INTERRUPTED, NOT_FOUND, PROBLEMS, CliError
from .output import Out

Handler = Callable[[Any, Any, Out], int]


def _epilog() -> str:
    codes = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())
    return (
        "exit codes:\n" + codes + "\n\nexamples:\n"
        "  make local-up                                  # the local stack, in another terminal\n"
        "  campaign --local push examples/recipe/campaign.json templates/\n"
        "  campaign --local send recipe examples/recipe/subscribers.json\n"
        "  campaign --local retry recipe-u-0123456789abcdef0123 --follow   # a FAILED run, again\n"
        "  campaign status --campaign recipe --json --stack-name campaign-engine-prod\n"
    )


def _add_global_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """The target and output options. Each subcommand takes them too (``campaign status --json``
    as well as ``campaign --json status``): there their default is SUPPRESS, so an option given
    before the subcommand is not reset by the subcommand's parser."""
    default: dict[str, Any] = {} if top_level else {"default": argparse.SUPPRESS}
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the local stack of `make local-up`", **default)
    where.add_argument("--stack-name", help="a deployed stack (default: samconfig.toml's stack_name)", **default)
    parser.add_argument("--region", help="AWS region of the deployed stack", **default)
    parser.add_argument("--profile", help="AWS profile for the deployed stack", **default)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (progress goes to stderr)", **default
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="print table cells whole on a terminal too (piped or redirected, they always are)",
        **default,
    )


def global_options() -> argparse.ArgumentParser:
    """A parent parser of the global options, for every subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    _add_global_options(parent, top_level=False)
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campaign",
        description=__doc__.split("\n")[0],
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shared = global_options()

    def command(name: str, help_text: str, handler: Handler, *, offline: bool = False) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[shared])
        sub.set_defaults(handler=handler, offline=offline)
        return sub

    from .commands import preview, push, runs, send, suppression, validate

    sub = command(
        "validate",
        "check campaign definitions, templates and audience files (offline)",
        validate.run_validate,
        offline=True,
    )
    sub.add_argument("files", nargs="+", metavar="FILE")
    sub.add_argument("--kind", choices=validate.KINDS, help="what the files are (default: detected)")
    sub.add_argument("--templates", metavar="DIR", help="check that a definition's templates exist here")
    sub.add_argument(
        "--sender-identity",
        metavar="IDENTITY",
        help="the stack's SenderIdentity (a domain or an address): report a campaign whose sender it does not "
        "cover (default: the stack's, when --local or --stack-name is given)",
    )

    sub = command("push", "upload campaign definitions and templates (validated first)", push.run_push)
    sub.add_argument("paths", nargs="+", metavar="FILE|DIR")

    sub = command(
        "preview", "dry run of a campaign on an audience file: counts and rendered samples", preview.run_preview
    )
    sub.add_argument("campaign_id")
    sub.add_argument("--audience", required=True, metavar="FILE")
    sub.add_argument("--out", metavar="DIR", help="where sample pages go (default build/preview/<campaign_id>)")

    sub = command("send", "upload an audience file and follow the run it starts", send.run_send)
    sub.add_argument("campaign_id")
    sub.add_argument("file", metavar="FILE")
    sub.add_argument("--key-name", help="object name under incoming/<campaign_id>/ (default: the file's name)")
    sub.add_argument("--no-follow", dest="follow", action="store_false", help="upload, print the run id, return")
    sub.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")

    sub = command("status", "list runs, or one run's progress", runs.run_status)
    sub.add_argument("run", nargs="?", help="a run id (default: list runs)")
    sub.add_argument("--campaign", help="the campaign (default: read from the run id, or every campaign)")
    sub.add_argument("--watch", action="store_true", help="follow the run until it stops")
    sub.add_argument("--limit", type=int, default=20, help="runs per campaign to list (default 20)")
    sub.add_argument("--interval", type=float, default=2.0)

    for name, help_text, handler in (
        ("pause", "pause a running run (later batches send nothing until resumed)", runs.run_pause),
        ("resume", "resume a paused run (nobody is sent twice)", runs.run_resume),
        ("cancel", "cancel a running or paused run for good", runs.run_cancel),
        ("retry", "run a FAILED run again from its upload (nobody already sent is sent again)", runs.run_retry),
        (
            "reconcile",
            "settle a run's unknown recipients from SES's Send events, then rewrite its report",
            runs.run_reconcile,
        ),
        ("report", "a run's report; --html writes it as a page", runs.run_report),
    ):
        sub = command(name, help_text, handler)
        sub.add_argument("run")
        sub.add_argument("--campaign", help="the campaign (default: read from the run id)")
        if name == "resume":
            sub.add_argument("--breaker", metavar="JSON", help="new breaker settings, e.g. '{\"bounce_rate\": 0.08}'")
            sub.add_argument("--follow", action="store_true", help="follow the resumed run")
            sub.add_argument("--interval", type=float, default=1.0)
        if name == "retry":
            sub.add_argument("--follow", action="store_true", help="follow the retried run until it stops")
            sub.add_argument("--interval", type=float, default=1.0)
        if name == "reconcile":
            sub.add_argument(
                "--release-unknown",
                action="store_true",
                help="also release unknown recipients with no Send event after --older-than hours, for a later run",
            )
            sub.add_argument(
                "--older-than",
                type=float,
                default=24.0,
                metavar="HOURS",
                help="how long after the send an unknown with no Send event may be released (default 24)",
            )
        if name == "report":
            sub.add_argument("--html", metavar="FILE", help="write a self-contained HTML page")
            sub.add_argument("--refresh", action="store_true", help="recount feedback that arrived since the run ended")

    suppression.add_commands(commands, shared)
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Each parser's --local/--stack-name group is exclusive on its own; given one before the
    # command and the other after it, they would silently pick one stack: refuse (exit 2).
    if args.local and args.stack_name:
        parser.error("--local and --stack-name name two different stacks: give one of them")
    return args


def main(argv: list[str] | None = None) -> int:
    from .target import quiet_layer

    quiet_layer()
    args = parse(argv)
    try:
        code = _run(args)
        # Written out here, inside the guard: a reader that went away (`| head`) makes this fail.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader of stdout went away (``campaign status | head -1``): no traceback, exit 141
    (128 + SIGPIPE, what a shell reports for ``yes | head``). Python's own recipe: point stdout at
    /dev/null so the interpreter's last flush at exit does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return CLOSED_PIPE


def _run(args: argparse.Namespace) -> int:
    out = Out(as_json=args.json, wide=args.wide)
    from botocore.exceptions import BotoCoreError, ClientError
    from campaign_engine.domain.errors import CampaignError, NotFound

    from .target import aws_error, command_hint, connect, with_target

    try:
        target = None
        # validate works offline; given a stack explicitly, it also checks against the stack's identity.
        if not args.offline or (args.command == "validate" and (args.local or args.stack_name)):
            target = connect(local=args.local, stack_name=args.stack_name, region=args.region, profile=args.profile)
        return int(args.handler(args, target, out))
    except CliError as exc:
        out.note(f"[red]error:[/red] {with_target(exc.message, args)}")
        return exc.code
    except NotFound as exc:
        out.note(f"[red]error:[/red] {with_target(str(exc), args)}")
        return NOT_FOUND
    except CampaignError as exc:
        out.note(f"[red]error:[/red] {with_target(str(exc), args)}")
        return PROBLEMS
    except (ClientError, BotoCoreError) as exc:
        error = aws_error(exc)
        out.note(f"[red]error:[/red] {error.message}")
        return error.code
    except KeyboardInterrupt:
        run = getattr(args, "run", None) or "RUN"
        follows = getattr(args, "command", "") in ("send", "status", "resume", "retry")
        hint = f"; the run goes on ({command_hint(args, 'status', '--watch', run)} follows it)" if follows else ""
        out.note("interrupted" + hint)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
