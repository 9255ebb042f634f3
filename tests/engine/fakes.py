"""Stand-ins for the pieces around the epoch loop: a train step that replays given losses, a
loader of fixed batches and a checkpoint manager that records what it was asked to save."""

from pathlib import Path
from typing import List, Optional

import mindspore as ms
import numpy as np
from mindspore import nn


class GlobalStep:
    def __init__(self):
        self.value = 0

    def asnumpy(self):
        return np.array([self.value], np.int32)


class FakeTrainStep:
    """Returns `losses` one per call (non-finite ones flagged), counting optimizer steps."""

    def __init__(self, losses: List[float], network: Optional[nn.Cell] = None):
        self.losses = list(losses)
        self.network = network or nn.Dense(4, 3)
        self.optimizer = type("Optimizer", (), {"global_step": GlobalStep()})()
        self.dynamic_loss_scale = False
        self.ema = False
        self.seen: List[int] = []  # the first label of each batch trained on
        self.train_modes: List[bool] = []

    def set_train(self, mode: bool = True):
        self.train_modes.append(mode)

    def __call__(self, images, labels):
        self.seen.append(int(labels.asnumpy()[0]))
        loss = self.losses.pop(0)
        self.optimizer.global_step.value += 1
        return ms.Tensor(np.float32(loss)), ms.Tensor(bool(np.isfinite(loss))), None


class FakeLoader:
    """`batches` batches of (N, 4) float32 images; batch k's labels all equal k (mod `classes`)."""

    def __init__(self, batches: int, batch_size: int = 2, classes: int = 3):
        rng = np.random.default_rng(0)
        self.data = [
            (
                rng.standard_normal((batch_size, 4)).astype(np.float32),
                np.full(batch_size, k % classes, np.int32),
            )
            for k in range(batches)
        ]

    def get_dataset_size(self) -> int:
        return len(self.data)

    def create_tuple_iterator(self, num_epochs: int = 1, output_numpy: bool = False):
        for images, labels in self.data:
            yield (images, labels) if output_numpy else (ms.Tensor(images), ms.Tensor(labels))


def fake_epoch_iterator(loader, epoch, start_batch=0, output_numpy=False):
    """What `mindcv.data.epoch_iterator` does for the trainer, on a `FakeLoader`."""
    assert start_batch == 0  # the trainer replays an epoch from its first batch
    return loader.create_tuple_iterator(num_epochs=1, output_numpy=output_numpy)


class RecordingCheckpoints:
    """The `CheckpointManager` methods the trainer calls, recorded in order; nothing is written."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.resume_path = self.folder / "net-resume.ckpt"
        self.calls: List[tuple] = []
        self._best = None

    def epoch_path(self, epoch: int, step: int) -> Path:
        return self.folder / f"net-{epoch}_{step}.ckpt"

    def save_resume_state(self, train_step, position: dict):
        self.calls.append(("resume", dict(position)))

    def save_epoch(self, weights, epoch, step, top1=None):
        self.calls.append(("epoch", epoch, step, top1))

    def save_best(self, weights, epoch):
        self._best = epoch
        self.calls.append(("best", epoch))

    def best_epoch(self):
        return self._best
