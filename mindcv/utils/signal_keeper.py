"""Keep Python's signal handlers installed while MindSpore runs.

MindSpore 2.10's GeneratorDataset worker threads (several workers, `python_multiprocessing=False`)
call `register_worker_handlers()`, meant for worker processes, in the main process each time a
pipeline starts (an iterator's first batch). It installs a C-level SIGTERM handler that calls
`_exit(0)` when the signal comes from the parent process (a scheduler's job shell doing
`kill -TERM $pid; wait`, a launcher): the run ends at once, "successfully", and no Python
handler ever sees the signal.

`python_handlers_kept()` removes that cause (worker threads no longer register process handlers;
worker processes still do) and, for anything else that replaces a handler, runs a watcher thread
that looks at the C-level disposition of SIGTERM and SIGINT every `interval` seconds and puts
Python's own handler back wherever a Python function is the handler Python has on record.
MindSpore's handler has nothing to do for threads (its clean-up is for worker processes' shared
memory, which its `atexit` hook releases when the script exits normally). Linux only: it reads
`struct sigaction` through libc; elsewhere it does nothing.
"""

import contextlib
import ctypes
import signal
import sys
import threading
from typing import Dict, Optional

__all__ = ["python_handlers_kept"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_SIGACTION_BYTES = 256  # at least sizeof(struct sigaction) on every Linux ABI
_HANDLER_BYTES = ctypes.sizeof(ctypes.c_void_p)  # sa_handler comes first

_lock = threading.Lock()
_users = 0
_stop: Optional[threading.Event] = None
_actions: Dict[int, bytes] = {}  # signal -> Python's C-level action, shared with the watcher


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _read_action(libc, signum: int) -> bytes:
    action = ctypes.create_string_buffer(_SIGACTION_BYTES)
    if libc.sigaction(signum, None, action) != 0:
        raise OSError(ctypes.get_errno(), f"sigaction({signum}) failed")
    return action.raw


class _ThreadWorkersRegisterNothing:
    """MindSpore's dataset engine module as GeneratorDataset's worker loop sees it, except that
    `register_worker_handlers()` acts only in a process's main thread (a worker process)."""

    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def register_worker_handlers(self):
        if threading.current_thread() is threading.main_thread():
            self._engine.register_worker_handlers()


def _stop_thread_workers_registering_handlers() -> None:
    from mindspore.dataset.engine import datasets_user_defined

    if not isinstance(datasets_user_defined.cde, _ThreadWorkersRegisterNothing):
        datasets_user_defined.cde = _ThreadWorkersRegisterNothing(datasets_user_defined.cde)


def _python_actions(libc) -> Dict[int, bytes]:
    """Python's C-level action for each signal that has a Python function as its handler, read
    right after re-installing it (main thread only, as `signal.signal` requires)."""
    actions = {}
    for signum in _SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            signal.signal(signum, handler)
            actions[signum] = _read_action(libc, signum)
    return actions


def _watch(libc, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        for signum, action in list(_actions.items()):
            if not callable(signal.getsignal(signum)):
                continue  # Python itself now wants the default or ignore: leave it
            if _read_action(libc, signum)[:_HANDLER_BYTES] != action[:_HANDLER_BYTES]:
                libc.sigaction(signum, ctypes.create_string_buffer(action, len(action)), None)


@contextlib.contextmanager
def python_handlers_kept(interval: float = 0.01):
    """Context: Python's SIGTERM/SIGINT handlers stay in place (to within `interval` seconds after a
    library replaces them). Enter it from the main thread after installing the handlers to keep;
    nested uses share one watcher, and each entry adds the handlers installed since."""
    global _users, _stop
    _stop_thread_workers_registering_handlers()
    libc = _libc()
    if libc is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    with _lock:
        _users += 1
        _actions.update(_python_actions(libc))
        if _users == 1:
            _stop = threading.Event()
            thread = threading.Thread(
                target=_watch,
                args=(libc, _stop, interval),
                name="mindcv-signal-keeper",
                daemon=True,
            )
            thread.start()
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _stop.set()
