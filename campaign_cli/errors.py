"""Exit codes a script can rely on, the one table every command applies (also listed by
``campaign --help`` and docs/cli.md). A command that tells one run's state (``status RUN``,
``status RUN --watch``, ``send``, ``resume --follow``, ``retry --follow``) exits with that state
(``run_exit_code``): 0 COMPLETED or RUNNING, RUN_PAUSED, RUN_FAILED for FAILED or CANCELLED. A
command that writes a document about a run (``report``, ``reconcile``) or changes it (``pause``,
``cancel``, ``resume``, ``retry``) exits 0 when it did that, whatever the run's state."""

from __future__ import annotations

OK = 0
PROBLEMS = 1  # validate found problems; a push was refused; bad input
USAGE = 2  # argparse's own code for a wrong command line
NOT_FOUND = 3  # no such file, stack, campaign, run, report or address
AWS = 4  # AWS (or the local endpoint) refused or could not be reached
RUN_FAILED = 5  # the run is FAILED or CANCELLED
RUN_PAUSED = 6  # the run is PAUSED (the breaker tripped, or an operator paused it)
INTERRUPTED = 130  # Ctrl-C: the command stopped; a run it was following goes on
CLOSED_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`); no traceback

EXIT_CODES = {
    OK: "success (the run is COMPLETED or still RUNNING)",
    PROBLEMS: "problems found in the input (validate, push, preview, an option's value), or a change the run's "
    "status does not allow",
    USAGE: "wrong command line",
    NOT_FOUND: "no such file, stack, campaign, run, report or address",
    AWS: "AWS or the local endpoint refused the request or could not be reached",
    RUN_FAILED: "the run is FAILED or CANCELLED (`status RUN`, a followed run)",
    RUN_PAUSED: "the run is PAUSED (breaker or operator; `status RUN`, a followed run); `campaign resume` continues it",
    INTERRUPTED: "interrupted; a run being followed goes on",
    CLOSED_PIPE: "the reader of stdout went away (`campaign status | head -1`); nothing else went wrong",
}


class CliError(Exception):
    """A message for the operator and the exit code that goes with it."""

    def __init__(self, message: str, code: int = PROBLEMS) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
