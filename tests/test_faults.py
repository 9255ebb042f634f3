"""Faults during a training run: a disk that fills up, a data-parallel rank that dies."""

import shutil
import subprocess

import numpy as np
import pytest

from tests.scripts import ROOT, SMALL, run

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")
TINY_RUN = [*SMALL, "--num_samples", "32", "--batch_size", "16", "--warmup_epochs", "0"]


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


def test_disk_full_while_saving(tmp_path, small_tmpfs):
    """A real full file system: epoch 1's checkpoints fit, epoch 2's does not."""
    from mindcv.models import create_model
    from mindcv.models.checkpoint import read_checkpoint

    weights = sum(p.asnumpy().nbytes for p in create_model("densenet121", num_classes=10).get_parameters())
    # Epoch 1 writes 4 weights' worth: the epoch and best checkpoints, the resume state (weights
    # and momentum); epoch 2's first checkpoint needs a fifth.
    ckpt = small_tmpfs(int(4.5 * weights))
    args = [*TINY_RUN, "--mode", "1", "--epoch_size", "2", "--val_while_train", "False"]
    result = run(["python", ROOT / "train.py", "-c", DEMO, *args, "--ckpt_save_dir", ckpt], tmp_path)

    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "CRITICAL" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [result.stderr.strip().splitlines()[-1]], result.stderr[-3000:]
    assert "disk full" in errors[0] and "No space left on device" in errors[0]
    assert str(ckpt / "densenet121-2_2.ckpt") in errors[0]
    saved = {"densenet121-1_2.ckpt", "densenet121-best.ckpt", "densenet121-resume.ckpt"}
    others = {"classes.txt", "config.yaml", "metrics.csv", "curves.png"}
    assert {p.name for p in ckpt.iterdir()} == saved | others  # no temporary file left
    epoch1 = read_checkpoint(ckpt / "densenet121-1_2.ckpt")
    best = read_checkpoint(ckpt / "densenet121-best.ckpt")
    for name, value in epoch1.items():
        np.testing.assert_array_equal(best[name].asnumpy(), value.asnumpy(), err_msg=name)
    assert read_checkpoint(ckpt / "densenet121-resume.ckpt")["position.epoch"].asnumpy().item() == 1
