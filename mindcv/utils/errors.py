"""The one exception type for problems the user can fix.

Scripts print a `MindCVError` as a single line (no traceback unless `--debug`), so its message
must name both the problem and the fix.
"""

import difflib
from typing import Iterable, Optional


class MindCVError(ValueError):
    """Bad input or environment: wrong option, missing file, corrupt data, failed download."""


class RunStopped(MindCVError):
    """A run stopped on request (SIGTERM, Ctrl-C) after writing a resume point; the scripts exit
    with `exit_code` (128 + the signal's number, as a shell reports a signal)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def unknown_choice(
    kind: str, given: str, choices: Iterable[str], match_as: Optional[str] = None
) -> MindCVError:
    """The error for a name not among `choices`: suggests the closest, else lists them all."""
    choices = list(choices)
    close = difflib.get_close_matches(given if match_as is None else match_as, choices, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(choices)}"
    return MindCVError(f"unknown {kind} '{given}': {hint}")


class UnknownOptionError(MindCVError, KeyError):
    """An option or config key that does not exist; also a `KeyError`, which MindCV raises there."""

    __str__ = BaseException.__str__  # KeyError's would print the message in quotes
