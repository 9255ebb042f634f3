"""A run killed or stopped at any moment resumes to the weights and files of an uninterrupted run.

Each kill is a real SIGKILL of train.py at a named moment (tests/kill_at.py), or a real SIGTERM;
the restart is the same command plus `--resume`.
"""

import csv
import signal
import time

import mindspore as ms
import numpy as np
import pytest

from mindcv.models.checkpoint import read_checkpoint
from tests.scripts import ROOT, SMALL, run, start

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
# 2 epochs of 3 steps, validated, a resume point after every step: every kind of file is written.
RUN = [
    "python",
    ROOT / "train.py",
    "-c",
    DEMO,
    *SMALL,
    "--num_samples",
    "24",
    "--batch_size",
    "8",
    "--epoch_size",
    "2",
    "--mode",
    "1",
    "--deterministic",
    "--ckpt_save_steps",
    "1",
]


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
    best = read_checkpoint(folder / "densenet121-best.ckpt")["metric.epoch"].asnumpy().item()
    assert best == read_checkpoint(reference / "densenet121-best.ckpt")["metric.epoch"].asnumpy().item()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    ok(run([*RUN, "--ckpt_save_dir", folder / "ckpt"], folder))
    return folder / "ckpt"


# (moment, call, where --resume continues): calls of save_resume_state are numbered 1-2 for
# epoch 1's steps, 3 for its end, 4-5 for epoch 2's steps and 6 for its end.
KILLS = {
    "after the resume state, before the epoch checkpoint": ("save_epoch", 1, (1, 0)),
    "after the epoch checkpoint, before the best": ("save_best", 1, (1, 0)),
    "mid-epoch, before a resume point": ("save_resume_state", 5, (1, 1)),
    "during a mid-epoch write": ("writing_resume_state", 5, (1, 1)),
}


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


@pytest.mark.slow
def test_sigterm_writes_a_resume_point_and_exits_non_zero(tmp_path, uninterrupted):
    """A scheduler's preemption: SIGTERM in epoch 2 stops the run with one line and exit 143;
    --resume then ends as the uninterrupted run."""
    ckpt = tmp_path / "ckpt"
    command = [*RUN[:-2], "--ckpt_save_steps", "0", "--ckpt_save_dir", ckpt]
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        process = start(command, tmp_path, stderr=stderr)
        deadline = time.monotonic() + 600
        while not (ckpt / "densenet121-1_3.ckpt").exists() and process.poll() is None:
            assert time.monotonic() < deadline, "epoch 1 did not end"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=300) == 128 + signal.SIGTERM
    errors = [line for line in log.read_text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in log.read_text(), log.read_text()[-3000:]
    assert errors[0].startswith("error: stopped by SIGTERM at epoch 2/2") and "--resume" in errors[0]
    assert not (ckpt / "densenet121-2_3.ckpt").exists()

    resumed = ok(run([*command, "--resume"], tmp_path))
    assert "resumed from" in resumed.stderr
    assert_same_run(ckpt, uninterrupted)


def test_auto_resume_with_nothing_to_resume_starts_and_a_missing_path_is_an_error(tmp_path):
    tiny = [*RUN[:-2], "--num_samples", "8", "--epoch_size", "1", "--val_while_train", "False"]
    fresh = ok(run([*tiny, "--resume"], tmp_path))
    assert "starting the run from the beginning" in fresh.stderr
    assert (tmp_path / "ckpt" / "densenet121-1_1.ckpt").is_file()
    missing = run([*tiny, "--resume", tmp_path / "nope.ckpt"], tmp_path)
    assert missing.returncode == 2 and "nope.ckpt" in missing.stderr.strip().splitlines()[-1]
