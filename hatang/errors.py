"""The ``hatang`` command's exit codes and its one expected-failure exception.

Scripts (cron jobs, CI, the getting-started page) rely on these codes; docs/cli.md lists them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``hatang`` exit status means."""

    OK = 0
    FAILED = 1  # the command ran and reports a failure: a contract check, a benchmark goal, rejected rows
    USAGE = 2  # bad arguments or settings (argparse's own code)
    UNREACHABLE = 3  # the database, the broker or the API could not be reached
    REFUSED = 4  # the input or the request was refused: an invalid file, an unknown model, a bad key
    INTERRUPTED = 130  # Ctrl-C


class CommandError(Exception):
    """An expected failure of a command: printed as one line, no traceback, with ``exit_code``."""

    def __init__(self, message: str, *, exit_code: ExitCode = ExitCode.REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code
