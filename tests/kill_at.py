"""Run train.py and SIGKILL it at a named moment: `python tests/kill_at.py MOMENT N train.py ARGS...`.

MOMENT is a `CheckpointManager` method: the process kills itself just before its N-th call,
leaving on disk exactly what a kill at that instant leaves. MOMENT `writing_resume_state`
instead dies halfway through writing the N-th resume state (a partial temporary file).
"""

import os
import runpy
import signal
import sys
import tempfile

from mindcv.engine.checkpoint_manager import CheckpointManager


def _die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _patch(moment: str, call: int) -> None:
    method = "save_resume_state" if moment == "writing_resume_state" else moment
    original = getattr(CheckpointManager, method)
    calls = [0]

    def patched(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            if moment == "writing_resume_state":
                fd, _ = tempfile.mkstemp(
                    prefix=f".{self.resume_path.stem}-", suffix=".ckpt", dir=self.ckpt_dir
                )
                os.write(fd, b"\x00partial checkpoint" * 1000)
            _die()
        return original(self, *args, **kwargs)

    setattr(CheckpointManager, method, patched)


if __name__ == "__main__":
    moment, call, script, *argv = sys.argv[1:]
    _patch(moment, int(call))
    sys.argv = [script, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
