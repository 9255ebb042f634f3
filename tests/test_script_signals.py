"""validate.py, infer.py and benchmark.py stopped by SIGTERM from their parent, mid-work: exit 143
and one line, never 0 (MindSpore's dataset handler, left alone, would exit 0 there)."""

import signal
import time

import numpy as np
import pytest
from PIL import Image

from tests.scripts import ROOT, SMALL, make_checkpoint, run, start

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
WORKERS = ["--num_parallel_workers", "2"]  # MindSpore installs its handler with several workers


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "densenet121-best.ckpt"
    make_checkpoint(path, num_classes=10)
    return path


def images(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(60):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


SCRIPTS = {
    "validate": (
        lambda tmp, ckpt: [
            "validate.py",
            "-c",
            DEMO,
            *SMALL,
            *WORKERS,
            "--batch_size",
            2,
            "--ckpt_path",
            ckpt,
        ],
        "validate:",
    ),
    "infer": (
        lambda tmp, ckpt: ["infer.py", images(tmp / "images"), "--ckpt_path", ckpt, "--image_size", 32],
        "infer:",
    ),
    "benchmark": (
        lambda tmp, ckpt: [
            "benchmark.py",
            "--mode",
            1,
            "--image_size",
            32,
            "--batch_size",
            2,
            "--repeats",
            50,
        ],
        "measuring",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_sigterm_mid_work_exits_143_with_one_line(tmp_path, checkpoint, script):
    arguments, busy = SCRIPTS[script]
    name, *args = arguments(tmp_path, checkpoint)
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        process = start(["python", ROOT / name, *args], tmp_path, stderr=stderr)
        deadline = time.monotonic() + 600
        while busy not in log.read_text() and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=300)
    text = log.read_text()
    assert code == 128 + signal.SIGTERM, text[-3000:]
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert errors == ["error: stopped by SIGTERM"] and "Traceback" not in text, text[-3000:]


# validate.py, run with a SIGTERM sent the moment MindSpore's dataset starts its worker threads:
# that start is Python called from inside the iterator's C++ call, which re-raises whatever
# Python raised there as a RuntimeError (the instant a loaded machine once hit in the test above).
SIGTERM_AT_WORKER_START = """
import os, runpy, signal, sys
from mindspore.dataset.engine.datasets_user_defined import SamplerFn

launch = SamplerFn.launch

def launch_after_sigterm(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    return launch(self, *args, **kwargs)

SamplerFn.launch = launch_after_sigterm
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


# validate.py, with a SIGTERM handled the instant one of the dataset's worker threads was started:
# inside `Thread.start`, whose error path then forgets the thread while it runs on, so the thread's
# own start fails (the instant of a full run's failure in session 11).
SIGTERM_AS_A_WORKER_THREAD_STARTS = """
import os, runpy, signal, sys, threading

start_new_thread = threading._start_new_thread

def start_then_sigterm(function, *args):
    ident = start_new_thread(function, *args)
    if type(getattr(function, "__self__", None)).__name__ == "_GeneratorWorkerMt":
        threading._start_new_thread = start_new_thread  # once
        os.kill(os.getpid(), signal.SIGTERM)
    return ident

threading._start_new_thread = start_then_sigterm
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "injected",
    [SIGTERM_AT_WORKER_START, SIGTERM_AS_A_WORKER_THREAD_STARTS],
    ids=["dataset_starts_its_workers", "worker_thread_starts"],
)
def test_sigterm_at_an_instant_of_the_dataset_start_exits_143_with_one_line(tmp_path, checkpoint, injected):
    arguments, _ = SCRIPTS["validate"]
    name, *args = arguments(tmp_path, checkpoint)
    result = run(["python", "-c", injected, ROOT / name, *args], tmp_path)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: stopped by SIGTERM"] and "Traceback" not in result.stderr, result.stderr[-3000:]
