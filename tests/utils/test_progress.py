"""Every bar of a run in one style, in a terminal and in a log file, even after MindSpore's compile
cache has swapped `sys.stderr` for CPython's encoding-less stderr printer."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

from mindcv.utils.progress import BLOCKS
from tests.scripts import ROOT, progress_bars

RUN = """
import importlib.util, sys
from mindcv.utils.progress import progress_bar  # imported with the package, as the scripts do

for _ in progress_bar(range(3), desc="epoch 1/2"):
    pass
importlib.util.module_from_spec(importlib.util.find_spec("sys"))  # what the compile cache does
assert type(sys.stderr).__name__ == "stderrprinter"
for _ in progress_bar(range(3), desc="validate"):
    pass
for _ in progress_bar(range(3), desc="epoch 2/2"):
    pass
"""


def test_one_style_in_a_log_file_and_a_terminal():
    command = [sys.executable, "-c", RUN]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    logged = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stderr

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    with subprocess.Popen(command, env=env, stdin=follower, stdout=follower, stderr=follower) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    os.close(leader)
    assert process.returncode == 0
    terminal = b"".join(chunks).decode()

    for output in (logged, terminal):
        found = progress_bars(output)
        assert sorted(found) == ["epoch 1/2", "epoch 2/2", "validate"], output
        for desc, characters in found.items():
            assert "█" in characters and characters <= set(BLOCKS), (desc, characters)
