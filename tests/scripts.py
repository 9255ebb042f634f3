"""Run the top-level scripts as a user would: in a subprocess, from a working folder."""

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Smallest settings that still run the real pipeline: 32x32 inputs, a few samples, one worker.
SMALL = ["--device_target", "CPU", "--image_resize", "32", "--num_parallel_workers", "1"]
# ... on the tests' small DenseNet (`densenet_test`), for runs where the depth does not matter: it
# compiles and trains in a fraction of DenseNet-121's time.
SMALL_NET = [*SMALL, "--model", "densenet_test"]
# Under pytest-xdist (--dist loadgroup) the tests of one group run on one worker, one after
# another. The multi-rank jobs: two at once, four MindSpore processes on 2 cores, once crashed a
# rank with SIGSEGV in MindSpore's teardown on an AVX2 EPYC (a rank bound to one core by mpirun on
# a busy machine: README, Tests). The two groups may run side by side.
MULTI_RANK = pytest.mark.xdist_group("multi_rank")
# test_resume_points.py's tests, which share one uninterrupted run (a module-scoped fixture).
SHARED_RUN = pytest.mark.xdist_group("shared_run")


def script_env(**extra) -> dict:
    """The environment of a user who activated the venv (msrun/mpirun run `python` from PATH).

    A rank that reaches MindSpore's scheduler before it listens retries after 1 s, not MindSpore's
    default 3-5 s (MS_RETRY_INTERVAL_LOWER/UPPER): about 3 s less per distributed run's start.
    """
    env = dict(os.environ, GLOG_v="3", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(MS_RETRY_INTERVAL_LOWER="1", MS_RETRY_INTERVAL_UPPER="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a launcher's master port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _argv(command) -> list:
    return [sys.executable if c == "python" else str(c) for c in command]


def run(command, cwd, timeout=900, **env) -> subprocess.CompletedProcess:
    """Run `command` ("python" means this interpreter); never raises on a non-zero exit."""
    return subprocess.run(
        _argv(command), cwd=cwd, env=script_env(**env), capture_output=True, text=True, timeout=timeout
    )


def start(command, cwd, stderr=subprocess.DEVNULL, **env) -> subprocess.Popen:
    """Start `command` in the background, its output discarded (or stderr sent to `stderr`).
    Ctrl-C's SIGINT reaches it as in a terminal, even when the tests run as a background job
    (whose children would inherit SIGINT ignored)."""
    return subprocess.Popen(
        _argv(command),
        cwd=cwd,
        env=script_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def make_digit_folders(root: Path, per_class: int = 3) -> Path:
    """An ImageFolder tree (train and val) of real digit images as PNGs, 10 classes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for split, offset in (("train", 0), ("val", per_class)):
        for label in range(10):
            folder = root / split / f"digit{label}"
            folder.mkdir(parents=True, exist_ok=True)
            images = digits.images[digits.target == label][offset : offset + per_class]
            for i, image in enumerate(images):
                pixels = (image * 255 / 16).astype(np.uint8)
                Image.fromarray(pixels).resize((32, 32)).convert("RGB").save(folder / f"{i}.png")
    return root


def run_script(script: str, *args, cwd=None, timeout=900) -> subprocess.CompletedProcess:
    """`python <repo>/<script> args...` from `cwd` (default: the repository)."""
    return run(["python", ROOT / script, *args], cwd or ROOT, timeout=timeout)


def make_checkpoint(path: Path, num_classes: int, model: str = "densenet121"):
    """Save a randomly initialised `model` to `path`; return it in eval mode."""
    import mindspore as ms

    from mindcv.models import create_model

    path.parent.mkdir(parents=True, exist_ok=True)
    network = create_model(model, num_classes=num_classes)
    network.set_train(False)
    ms.save_checkpoint(network, str(path))
    return network


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, no traceback, and one stderr line holding every fragment."""
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def progress_bars(output: str) -> dict:
    """{description ("epoch 1/2", "validate"): the characters its tqdm bars were drawn with}."""
    found = {}
    for desc, bar in re.findall(r"(epoch \d+/\d+|validate): +\d+%\|([^|]+)\|", output):
        found.setdefault(desc, set()).update(bar)
    return found
