"""SIGTERM and SIGINT as requests to stop at the next step, so a preempted run leaves a resume point.

A cluster scheduler preempts with SIGTERM, a user with Ctrl-C. Dying at once would lose every
step since the last resume point; instead the epoch loop sees `received`, writes a resume point
and exits non-zero. A second signal acts as it did before (a second Ctrl-C interrupts at once).
MindSpore's dataset runtime replaces the SIGTERM handler whenever a pipeline starts, so the
handlers are kept in place for as long as the context is active (`python_handlers_kept`).
"""

import contextlib
import signal
import threading
from typing import Optional

from ..utils.signal_keeper import python_handlers_kept

__all__ = ["StopSignals"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """Context manager: while active, `received` holds the first stop signal's number (else None).

    Signals the process ignores (SIGINT in a background job) stay ignored, and handlers can only
    be installed from the main thread; elsewhere it records nothing.
    """

    def __init__(self):
        self.received: Optional[int] = None
        self._previous = {}
        self._kept = contextlib.ExitStack()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
            self._kept.enter_context(python_handlers_kept())
        return self

    def _handle(self, signum, frame):
        if self.received is None:
            self.received = signum
            return
        self._restore()
        signal.raise_signal(signum)

    def _restore(self):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __exit__(self, *exc):
        self._kept.close()
        self._restore()
        return False
