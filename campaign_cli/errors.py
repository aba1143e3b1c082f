"""Exit codes a script can rely on (also listed by ``campaign --help`` and docs/cli.md)."""

from __future__ import annotations

OK = 0
PROBLEMS = 1  # validate found problems; a push was refused; bad input
USAGE = 2  # argparse's own code for a wrong command line
NOT_FOUND = 3  # no such stack, campaign, run, report or address
AWS = 4  # AWS (or the local endpoint) refused or could not be reached
RUN_FAILED = 5  # the run ended FAILED or CANCELLED
RUN_PAUSED = 6  # the run is PAUSED (the breaker tripped, or an operator paused it)
INTERRUPTED = 130  # Ctrl-C: the command stopped; a run it was following goes on

EXIT_CODES = {
    OK: "success (a followed run COMPLETED)",
    PROBLEMS: "problems found in the input (validate, push, preview), or a change the run's status does not allow",
    USAGE: "wrong command line",
    NOT_FOUND: "no such stack, campaign, run, report or address",
    AWS: "AWS or the local endpoint refused the request or could not be reached",
    RUN_FAILED: "the run ended FAILED or CANCELLED",
    RUN_PAUSED: "the run is PAUSED (breaker or operator); `campaign resume` continues it",
    INTERRUPTED: "interrupted; a run being followed goes on",
}


class CliError(Exception):
    """A message for the operator and the exit code that goes with it."""

    def __init__(self, message: str, code: int = PROBLEMS) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
