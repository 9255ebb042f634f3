"""Entry-point wrapper for the scripts: one clear line for user errors, a clean exit; and the
options naming a model and its weights that infer.py and export.py share.

`MindCVError` (and an interrupt) print one line and exit non-zero (2; a run stopped by a
signal, 128 + its number); `--debug` shows the traceback instead. SIGTERM stops a script with
one line and exit 143 (never 0, whatever handler MindSpore installs meanwhile: see
`signal_keeper`); train.py's epoch loop turns it into a resume point first. MindSpore 2.10 prints
hundreds of `Cell.__del__` tracebacks while the interpreter tears its objects down, so a
finished script flushes its output and leaves with `os._exit` after running the `atexit`
handlers itself.
"""

import argparse
import atexit
import functools
import os
import signal
import sys
import threading
from typing import Callable, Optional, Sequence

from .distributed import detect_launcher, explain_distributed_failure, stop_with_launcher
from .errors import MindCVError, RunStopped
from .signal_keeper import python_handlers_kept

__all__ = ["add_weight_args", "run_script"]


def run_script(main: Callable, parse_args: Callable, argv: Optional[Sequence[str]] = None) -> None:
    """parse_args(argv) -> main(args), mapping failures to exit codes (2: bad input, 130: interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or "debug=True" in argv
    code = 0
    _signal_stop.clear()
    sys.unraisablehook = functools.partial(_unraisable_unless_stopped_thread_start, sys.unraisablehook)
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    stop_with_launcher()
    try:
        with python_handlers_kept():
            try:
                main(parse_args(argv))
            finally:
                _sigterm_default()  # once the script is done, a SIGTERM ends its exit at once
    except Exception as exc:
        # MindSpore re-raises what Python code it called raised (its dataset starting workers) as a
        # RuntimeError: a SIGTERM that landed there is still the stop it raised.
        err = _signal_stop[0] if _signal_stop else exc
        if not isinstance(err, MindCVError):
            _explain_or_raise(exc, debug)
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        code = getattr(err, "exit_code", 2)
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        code = 130
    _exit(code)


def _explain_or_raise(exc: Exception, debug: bool) -> None:
    """A rank that died or hangs breaks the others' collectives: say so in one line and leave;
    any other exception is a bug and keeps its traceback."""
    err = explain_distributed_failure(exc)
    if err is None or debug:
        raise exc
    print(f"error: {err}", file=sys.stderr)
    # Not sys.exit: unregistering from a broken cluster makes MindSpore wait seconds more.
    sys.stderr.flush()
    os._exit(2)


_signal_stop = []  # the RunStopped that _stop_on_sigterm raised, whatever wrapped it on the way up


def _stop_on_sigterm(signum, frame):
    _sigterm_default()  # a second SIGTERM (mpirun sends more) acts at once
    _signal_stop.append(RunStopped(f"stopped by {signal.Signals(signum).name}", 128 + signum))
    raise _signal_stop[0]


def _unraisable_unless_stopped_thread_start(report: Callable, unraisable) -> None:
    """A stop signal handled inside `Thread.start`, just after the new thread began, makes
    Thread.start's error path forget that thread, whose own start then fails with a KeyError
    that Python reports as unraisable, a traceback on stderr (tests/test_script_signals.py). The
    script is stopping with its one line; that thread never ran its work and has nothing to add.
    Anything else goes to `report`, the hook that was in place."""
    bootstrap = getattr(unraisable.object, "__func__", None) is threading.Thread._bootstrap
    if _signal_stop and bootstrap and unraisable.exc_type is KeyError:
        return
    report(unraisable)


def _sigterm_default() -> None:
    if signal.getsignal(signal.SIGTERM) is _stop_on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _exit(code: int) -> None:
    if detect_launcher():  # MindSpore must unregister each rank from its cluster on the way out
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def add_weight_args(parser: argparse.ArgumentParser) -> None:
    """The options naming a model and its weights, shared by infer.py and export.py."""
    parser.add_argument("--model", default="densenet121", help="registered model name (default: densenet121)")
    parser.add_argument("--pretrained", action="store_true", help="use the model's published weights")
    parser.add_argument("--ckpt_path", default="", help="use this checkpoint's weights")
    parser.add_argument(
        "--num_classes", type=int, default=None, help="expected class count (default: the weights')"
    )
    parser.add_argument("--image_size", type=int, default=None, help="input side (default: the model's, 224)")
    parser.add_argument("--device_target", default="auto", help="auto, CPU, GPU or Ascend (default: auto)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
