"""A run killed or stopped at any moment resumes to the weights and files of an uninterrupted run.

Each kill is a real SIGKILL of train.py at a named moment (tests/kill_at.py), or a real SIGTERM
at the instant a scheduler sends it, from the process's parent as a job shell or a launcher does;
the restart is the same command plus `--resume`.
"""

import csv
import re
import signal
import subprocess
import time
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

from mindcv.models.checkpoint import read_checkpoint
from tests.scripts import MULTI_RANK, ROOT, SHARED_RUN, SMALL, free_port, run, script_env, start

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
# 2 epochs of 12 steps, validated, a resume point after every step: every kind of file is
# written. Two input workers, as users run: MindSpore's dataset runtime then installs its own
# SIGTERM handler whenever an epoch's pipeline starts. A log line per step tells the tests where
# the run is. The tests' small DenseNet in PyNative mode: no compile, and each step still takes
# about a second (op dispatch), long enough to signal between steps.
RUN = [
    "python",
    ROOT / "train.py",
    "-c",
    DEMO,
    *SMALL,
    "--num_parallel_workers",
    "2",
    "--num_samples",
    "48",
    "--batch_size",
    "4",
    "--epoch_size",
    "2",
    "--mode",
    "1",
    "--deterministic",
    "--log_interval",
    "1",
    "--ckpt_save_steps",
    "1",
    "--model",
    "densenet_test",
]
# The same run with no resume point but those a stop signal and the epoch ends write.
ON_SIGNALS_ONLY = [*RUN[:-4], "--ckpt_save_steps", "0", *RUN[-2:]]


def ok(result):
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result


def weights(path):
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if not k.startswith("metric.")}


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def metrics(folder):
    with open(folder / "metrics.csv") as f:
        return [(r["epoch"], float(r["train_loss"]), r["val_top1"]) for r in csv.DictReader(f)]


def assert_same_run(folder, reference):
    """The same files, weights in every checkpoint and metrics as the uninterrupted run."""
    assert files(folder) == files(reference)
    for (epoch, loss, top1), expected in zip(metrics(folder), metrics(reference)):
        assert (epoch, top1) == (expected[0], expected[2]) and loss == pytest.approx(expected[1], rel=1e-5)
    assert len(metrics(folder)) == len(metrics(reference)) == 2
    for name in files(reference):
        if name.endswith(".ckpt"):
            expected, got = weights(reference / name), weights(folder / name)
            assert got.keys() == expected.keys(), name
            for key, value in expected.items():
                np.testing.assert_allclose(got[key], value, rtol=1e-6, atol=1e-7, err_msg=f"{name}: {key}")
    best = read_checkpoint(folder / "densenet_test-best.ckpt")["metric.epoch"].asnumpy().item()
    assert best == read_checkpoint(reference / "densenet_test-best.ckpt")["metric.epoch"].asnumpy().item()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    ok(run([*RUN, "--ckpt_save_dir", folder / "ckpt"], folder))
    return folder / "ckpt"


# (moment, call, where --resume continues): calls of save_resume_state are numbered 1-11 for
# epoch 1's steps, 12 for its end, 13-23 for epoch 2's steps and 24 for its end.
KILLS = {
    "after the resume state, before the epoch checkpoint": ("save_epoch", 1, (1, 0)),
    "after the epoch checkpoint, before the best": ("save_best", 1, (1, 0)),
    "mid-epoch, before a resume point": ("save_resume_state", 14, (1, 1)),
    "during a mid-epoch write": ("writing_resume_state", 14, (1, 1)),
}


@SHARED_RUN
@pytest.mark.slow
@pytest.mark.parametrize("moment", KILLS, ids=list(KILLS))
def test_killed_at_any_moment_resumes_to_the_same_run(tmp_path, uninterrupted, moment):
    method, call, resumed_at = KILLS[moment]
    ckpt = tmp_path / "ckpt"
    killed = run(
        ["python", ROOT / "tests" / "kill_at.py", method, str(call), *RUN[1:], "--ckpt_save_dir", ckpt],
        tmp_path,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]

    resumed = ok(run([*RUN, "--ckpt_save_dir", ckpt, "--resume"], tmp_path))
    if resumed_at is None:
        assert (
            "no resume state at" in resumed.stderr and "starting the run from the beginning" in resumed.stderr
        )
    else:
        assert f"at epoch {resumed_at[0]}, step {resumed_at[1]}" in resumed.stderr, resumed.stderr[-3000:]
    assert_same_run(ckpt, uninterrupted)


def assert_stopped(code: int, log: Path, epoch: int, step: int, signum=signal.SIGTERM) -> None:
    """Exit 128 + signum and one error line naming the signal and where the run stopped."""
    text = log.read_text()
    assert code == 128 + signum, text[-3000:]
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in text, text[-3000:]
    name = signal.Signals(signum).name
    assert errors[0].startswith(f"error: stopped by {name} at epoch {epoch}/2, step {step}/12;"), errors[0]
    assert "--resume" in errors[0]


def steps_done(log: Path, epoch: int) -> int:
    """The last step of `epoch` that the per-step log lines report."""
    found = re.findall(rf"INFO epoch {epoch}/2 step (\d+)/", log.read_text())
    return int(found[-1]) if found else 0


def signal_when(process, log: Path, ready, signum=signal.SIGTERM) -> int:
    """Send `signum` to `process` (this test is its parent) once `ready()`; its exit code."""
    deadline = time.monotonic() + 600
    while not ready() and process.poll() is None:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)
    process.send_signal(signum)
    return process.wait(timeout=300)


def stopped_step(log: Path) -> tuple:
    epoch, step = re.search(r"stopped by \w+ at epoch (\d+)/2, step (\d+)/", log.read_text()).groups()
    return int(epoch), int(step)


@SHARED_RUN
@pytest.mark.slow
def test_sigterm_from_a_job_shell_ten_steps_into_epoch_2(tmp_path, uninterrupted):
    """A batch scheduler's job script: the run is a background job of a non-interactive shell,
    which sends SIGTERM 10 steps into epoch 2 and waits. MindSpore's handler, in place since the
    epoch's pipeline started, would exit 0 there; the run writes a resume point and exits 143."""
    ckpt, log = tmp_path / "ckpt", tmp_path / "stderr.txt"
    argv = " ".join(f"'{a}'" for a in [*ON_SIGNALS_ONLY, "--ckpt_save_dir", ckpt]).replace(
        "'python'", "python"
    )
    job = (
        f"{argv} 2> '{log}' & pid=$!\n"
        f"until grep -q 'INFO epoch 2/2 step 10/12' '{log}' 2>/dev/null; do\n"
        "  kill -0 $pid 2>/dev/null || break; sleep 0.05\n"
        "done\n"
        "kill -TERM $pid; wait $pid"
    )
    code = subprocess.run(["bash", "-c", job], cwd=tmp_path, env=script_env(), timeout=900).returncode
    epoch, step = stopped_step(log)
    assert_stopped(code, log, 2, step)
    assert step >= 10 and step == steps_done(log, 2)  # the next step after the signal
    saved = read_checkpoint(ckpt / "densenet_test-resume.ckpt")
    assert saved["position.epoch"].asnumpy().item() == 1
    assert saved["position.step_in_epoch"].asnumpy().item() == step

    resumed = ok(run([*ON_SIGNALS_ONLY, "--ckpt_save_dir", ckpt, "--resume"], tmp_path))
    assert f"at epoch 1, step {step}" in resumed.stderr
    assert_same_run(ckpt, uninterrupted)


@SHARED_RUN
@pytest.mark.slow
def test_sigterm_from_the_parent_at_every_stage_of_a_run(tmp_path, uninterrupted):
    """The run as a direct child, signalled by its parent: SIGTERM in epoch 1's first steps and
    during epoch 1's validation, Ctrl-C's SIGINT 10 steps into epoch 2; each time exit 128 +
    the signal with one line and a resume point, and the resumed runs end as the uninterrupted one."""
    ckpt = tmp_path / "ckpt"
    command = [*ON_SIGNALS_ONLY, "--ckpt_save_dir", ckpt]
    moments = [
        ("first steps", lambda log: steps_done(log, 1) >= 1, signal.SIGTERM, (1, None)),
        ("validation", lambda log: "validate:" in log.read_text(), signal.SIGTERM, (2, 0)),
        ("epoch 2", lambda log: steps_done(log, 2) >= 10, signal.SIGINT, (2, None)),
    ]
    for i, (moment, ready, signum, (epoch, step)) in enumerate(moments):
        log = tmp_path / f"stderr{i}.txt"
        with open(log, "w") as stderr:
            process = start([*command, *(["--resume"] if i else [])], tmp_path, stderr=stderr)
            code = signal_when(process, log, lambda log=log, ready=ready: ready(log), signum)
        stopped = stopped_step(log)
        assert stopped[0] == epoch and (step is None or stopped[1] == step), (moment, stopped)
        assert_stopped(code, log, *stopped, signum=signum)
    ok(run([*command, "--resume"], tmp_path))
    assert_same_run(ckpt, uninterrupted)


@pytest.mark.slow
def test_auto_resume_with_nothing_to_resume_starts_and_a_missing_path_is_an_error(tmp_path):
    tiny = [*RUN, "--num_samples", "8", "--epoch_size", "1", "--val_while_train", "False"]
    fresh = ok(run([*tiny, "--resume"], tmp_path))
    assert "starting the run from the beginning" in fresh.stderr
    assert (tmp_path / "ckpt" / "densenet_test-1_2.ckpt").is_file()  # 8 images, batch 4
    missing = run([*tiny, "--resume", tmp_path / "nope.ckpt"], tmp_path)
    assert missing.returncode == 2 and "nope.ckpt" in missing.stderr.strip().splitlines()[-1]


def _running(marker: str) -> bool:
    """Whether any process has `marker` in its command line."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_text():
                return True
        except OSError:
            continue
    return False


@MULTI_RANK
@pytest.mark.slow
def test_sigterm_to_msrun_stops_both_ranks_at_one_step_and_resumes(tmp_path):
    """A scheduler signals the launcher: msrun (2 CPU workers, each in a session of its own) dies
    of SIGTERM, the kernel signals each worker in turn, both ranks stop at the same step with one
    line, rank 0 writes the resume point, and `--resume` ends as an uninterrupted msrun run."""

    def msrun(log_dir):
        return [
            "msrun",
            "--worker_num=2",
            "--local_worker_num=2",
            f"--master_port={free_port()}",
            "--join=True",
            f"--log_dir={log_dir}",
        ]

    # 4 steps an epoch on each rank: the launcher's path is what this test is about.
    train = [ROOT / "train.py", *ON_SIGNALS_ONLY[2:], "--num_samples", "16", "--distribute"]
    reference, ckpt = tmp_path / "whole", tmp_path / "ckpt"
    ok(run([*msrun(tmp_path / "whole_log"), *train, "--ckpt_save_dir", reference], tmp_path))

    logs = tmp_path / "log"
    process = start([*msrun(logs), *train, "--ckpt_save_dir", ckpt], tmp_path)
    rank0 = logs / "worker_0.log"
    code = signal_when(process, rank0, lambda: rank0.exists() and steps_done(rank0, 2) >= 1)
    assert code == -signal.SIGTERM  # msrun has no handler of its own
    deadline = time.monotonic() + 300
    while _running(str(ckpt)):
        assert time.monotonic() < deadline, "workers still running after msrun died"
        time.sleep(0.5)
    stops = []
    for rank in (0, 1):
        text = (logs / f"worker_{rank}.log").read_text()
        errors = [line for line in text.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in text, text[-3000:]
        stops.append(stopped_step(logs / f"worker_{rank}.log"))
    assert stops[0] == stops[1] and stops[0][0] == 2 and 1 <= stops[0][1] < 4, stops
    saved = read_checkpoint(ckpt / "densenet_test-resume.ckpt")
    assert saved["position.step_in_epoch"].asnumpy().item() == stops[0][1]

    ok(run([*msrun(tmp_path / "resume_log"), *train, "--ckpt_save_dir", ckpt, "--resume"], tmp_path))
    assert_same_run(ckpt, reference)
