"""Faults during a training run: a disk that fills up, a data-parallel rank that dies."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from mindcv.utils import distributed
from mindcv.utils.errors import MindCVError
from tests.scripts import MULTI_RANK, ROOT, SMALL_NET, run, script_env

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
TINY_RUN = [*SMALL_NET, "--num_samples", "32", "--batch_size", "16", "--warmup_epochs", "0"]


@pytest.fixture
def small_tmpfs(tmp_path):
    """mount(size_bytes) -> a folder on a tmpfs of that size, unmounted after the test."""
    mounted = []

    def mount(size_bytes: int):
        folder = tmp_path / "tmpfs"
        folder.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("cannot mount a tmpfs here: no mount command")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(
                f"cannot mount a tmpfs here (needs root; containers may forbid it): {done.stderr.strip()}"
            )
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.slow
def test_disk_full_while_saving(tmp_path, small_tmpfs):
    """A real full file system: epoch 1's checkpoints fit, epoch 2's does not."""
    from mindcv.models import create_model
    from mindcv.models.checkpoint import read_checkpoint

    weights = sum(p.asnumpy().nbytes for p in create_model("densenet_test", num_classes=10).get_parameters())
    # Epoch 1 writes 4 weights' worth: the epoch and best checkpoints, the resume state (weights
    # and momentum); epoch 2's first write, the new resume state beside the old, needs two more.
    ckpt = small_tmpfs(int(4.5 * weights))
    args = [*TINY_RUN, "--mode", "1", "--epoch_size", "2", "--val_while_train", "False"]
    result = run(["python", ROOT / "train.py", "-c", DEMO, *args, "--ckpt_save_dir", ckpt], tmp_path)

    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "CRITICAL" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [result.stderr.strip().splitlines()[-1]], result.stderr[-3000:]
    assert "disk full" in errors[0] and "No space left on device" in errors[0]
    assert str(ckpt / "densenet_test-resume.ckpt") in errors[0]
    saved = {"densenet_test-1_2.ckpt", "densenet_test-best.ckpt", "densenet_test-resume.ckpt"}
    others = {"classes.txt", "config.yaml", "metrics.csv", "curves.png"}
    assert {p.name for p in ckpt.iterdir()} == saved | others  # no temporary file left
    epoch1 = read_checkpoint(ckpt / "densenet_test-1_2.ckpt")
    best = read_checkpoint(ckpt / "densenet_test-best.ckpt")
    for name, value in epoch1.items():
        np.testing.assert_array_equal(best[name].asnumpy(), value.asnumpy(), err_msg=name)
    assert read_checkpoint(ckpt / "densenet_test-resume.ckpt")["position.epoch"].asnumpy().item() == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@MULTI_RANK
@pytest.mark.slow
def test_dead_rank_stops_the_others(tmp_path):
    """SIGKILL rank 1 of 2 in epoch 2: rank 0 and the scheduler stop with one line naming it.

    The ranks are started as msrun starts them (MindSpore's dynamic cluster: a scheduler and
    two workers), but by the test, so it sees each process's exit code and output. Short
    timeouts keep it quick. The heartbeat's is left to init_distributed: the rank timeout plus
    a margin, as the module documents."""
    timeout = 8
    heartbeat = timeout + distributed._HEARTBEAT_MARGIN
    env = script_env(
        MINDCV_RANK_TIMEOUT=str(timeout),
        MS_WORKER_NUM="2",
        MS_SCHED_HOST="127.0.0.1",
        MS_SCHED_PORT=str(_free_port()),
    )
    env.pop("MS_NODE_TIMEOUT", None)  # one the shell exported would take its place
    args = [*SMALL_NET, "--num_samples", "4", "--batch_size", "4", "--epoch_size", "100", "--mode", "1"]
    command = [
        sys.executable,
        ROOT / "train.py",
        "-c",
        DEMO,
        *args,
        "--val_while_train",
        "False",
        "--distribute",
    ]
    roles = {"scheduler": {"MS_ROLE": "MS_SCHED"}}
    roles.update({f"rank{i}": {"MS_ROLE": "MS_WORKER", "MS_NODE_ID": str(i)} for i in (0, 1)})
    procs = {}
    for name, role in roles.items():
        with open(tmp_path / f"{name}.log", "w") as log:
            procs[name] = subprocess.Popen(
                command, cwd=tmp_path, env={**env, **role}, stdout=subprocess.DEVNULL, stderr=log
            )
    try:
        metrics = tmp_path / "ckpt" / "metrics.csv"
        deadline = time.monotonic() + 600
        while not metrics.exists() and all(p.poll() is None for p in procs.values()):
            assert time.monotonic() < deadline, "epoch 1 did not end"
            time.sleep(0.1)
        assert all(p.poll() is None for p in procs.values()), (tmp_path / "rank0.log").read_text()[-3000:]
        procs["rank1"].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim = procs["rank1"].pid

        procs["rank0"].wait(timeout=timeout + 60)
        survivor = time.monotonic() - killed
        procs["scheduler"].wait(timeout=heartbeat + 60)
        scheduler = time.monotonic() - killed
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    print(f"rank 0 stopped {survivor:.1f} s and the scheduler {scheduler:.1f} s after rank 1 was killed")
    assert procs["rank0"].returncode == 2
    assert error_line(tmp_path / "rank0.log").startswith(
        f"error: rank 1 (pid {victim}) died, so rank 0 stops"
    )
    assert survivor < heartbeat  # by itself, not stopped by the scheduler
    assert procs["scheduler"].returncode == 2
    assert error_line(tmp_path / "scheduler.log").startswith(
        f"error: rank 1 stopped answering for {heartbeat} s"
    )
    assert scheduler < heartbeat + 10


def error_line(log) -> str:
    """The one line of the process's own error (MindSpore's log lines may stand around it)."""
    text = log.read_text()
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in text, text[-3000:]
    return errors[0]


def test_rank_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("MINDCV_RANK_TIMEOUT", raising=False)
    assert distributed.rank_timeout() == 30
    monkeypatch.setenv("MINDCV_RANK_TIMEOUT", "120")
    assert distributed.rank_timeout() == 120
    for bad in ("0", "1.5", "soon"):
        monkeypatch.setenv("MINDCV_RANK_TIMEOUT", bad)
        with pytest.raises(MindCVError, match="MINDCV_RANK_TIMEOUT.*whole number of seconds"):
            distributed.rank_timeout()


def test_failures_caused_by_another_rank_are_explained(monkeypatch):
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = distributed._host_id()
    monkeypatch.setattr(distributed, "_SELF", {"rank": 0, "host": host})
    monkeypatch.setattr(distributed, "_PEERS", {1: (os.getpid(), host), 2: (gone.pid, host)})
    error = distributed.explain_distributed_failure(RuntimeError("anything"))
    assert str(error).startswith(f"rank 2 (pid {gone.pid}) died, so rank 0 stops too")
    monkeypatch.setattr(distributed, "_PEERS", {1: (os.getpid(), host), 2: (gone.pid, host + 1)})
    hung = distributed.explain_distributed_failure(
        RuntimeError("Launch kernel failed, name:Default/AllReduce-op0")
    )
    assert "did not answer within 30 s (MINDCV_RANK_TIMEOUT)" in str(hung)
    assert distributed.explain_distributed_failure(RuntimeError("out of memory")) is None
    monkeypatch.setattr(distributed, "_PEERS", {})
    assert distributed.explain_distributed_failure(RuntimeError("AllReduce failed")) is None


def test_scheduler_names_the_ranks_that_stopped(monkeypatch):
    monkeypatch.setenv("MS_NODE_TIMEOUT", "45")
    message = (
        "The total number of timed out node is 2. Timed out node list is: [const vector]{1, 3}, "
        "worker 1 is the first one timed out, please check its log.\n\n---- C++ Call Stack ----"
    )
    assert str(distributed._scheduler_error(RuntimeError(message))).startswith(
        "ranks 1, 3 stopped answering for 45 s"
    )
    assert distributed._scheduler_error(RuntimeError("Topology build timed out.")) is None


_WRITER = """
import sys
from mindspore import nn
from mindcv.engine.checkpoint_manager import CheckpointManager

position = dict(epoch=2, step_in_epoch=0, global_step=8, best_top1=0.5, nonfinite_steps=0)
big = nn.SequentialCell([nn.Dense(2048, 2048) for _ in range(12)])  # ~200 MB: a write of a few 100 ms
print("writing", flush=True)
CheckpointManager(sys.argv[1], "densenet121").save_resume_state(big, position)
"""


def _size(path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed between listing and stat
        return 0


def test_killed_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    """SIGKILL while the resume state is being rewritten: the previous one stays whole and is what
    --resume finds (a half-written file only ever exists under a temporary name)."""
    import mindspore as ms
    from mindspore import nn

    from mindcv.engine.checkpoint_manager import CheckpointManager

    manager = CheckpointManager(tmp_path, "densenet121")
    position = dict(epoch=1, step_in_epoch=0, global_step=4, best_top1=0.25, nonfinite_steps=0)
    previous = manager.save_resume_state(nn.Dense(3, 2), position)
    before = previous.read_bytes()

    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], env=script_env(), stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and writer.poll() is None:
        partial = [p for p in tmp_path.glob(".*.tmp") if _size(p) > 0]  # MindSpore still writing
        if partial:
            break
        time.sleep(0.002)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert partial, "the writer finished before it could be killed mid-write"

    assert previous.read_bytes() == before
    found = manager.find_resume_state("auto")
    assert found == previous
    restored = nn.Dense(3, 2)
    assert CheckpointManager.load_resume_state(restored, found) == position
    np.testing.assert_array_equal(
        restored.weight.asnumpy(), ms.load_checkpoint(str(previous))["weight"].asnumpy()
    )
