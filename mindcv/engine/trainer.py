"""The epoch loop: train steps under a progress bar, validation, checkpoints, metrics, resume.

The loop owns no model logic: the train step does the optimisation, the data package decides
the sample order of each epoch, and `CheckpointManager`/`MetricsLog` own the files. Only the
main rank writes files and shows progress.
"""

import collections
import contextlib
import itertools
import logging
import math
import signal
import time
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Sequence

import numpy as np

from ..data import epoch_iterator
from ..utils.distributed import DistributedInfo, any_rank, check_replicas_agree
from ..utils.errors import MindCVError, RunStopped
from ..utils.progress import progress_bar
from .checkpoint_manager import CheckpointManager
from .evaluate import Evaluator
from .metrics_log import MetricsLog
from .stop_signals import StopSignals
from .train_step import TrainStep

__all__ = ["EmaSwap", "RunPosition", "Trainer"]

_logger = logging.getLogger(__name__)


@dataclass
class RunPosition:
    """Where a run stands; saved in the resume state so `--resume` continues exactly there."""

    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches of the current epoch completed
    global_step: int = 0  # micro-batches completed over the whole run
    best_top1: float = -1.0
    nonfinite_steps: int = 0
    best_epoch: int = 0  # the epoch whose weights the best checkpoint holds (0: none yet)
    epoch_top1: float = -1.0  # validation top-1 after epoch `epoch` (-1: not validated)
    loss_sum: float = 0.0  # finite losses of the current epoch so far, and their count
    loss_count: int = 0

    @classmethod
    def from_saved(cls, saved: Dict[str, float]) -> "RunPosition":
        """The position stored in a resume state; fields an older state lacks keep their defaults."""
        defaults = asdict(cls())
        return cls(**{k: type(defaults[k])(v) for k, v in saved.items() if k in defaults})


class Trainer:
    """Runs epochs `position.epoch .. epochs - 1` of `train_step` over `train_loader`.

    Resume points: the resume state is written at every epoch end (first, before the epoch's
    other files, since it is what a restart needs), every `ckpt_save_steps` steps and every
    `ckpt_save_minutes` of training (0: off), and when SIGTERM or SIGINT asks the run to stop.
    """

    def __init__(
        self,
        train_step: TrainStep,
        train_loader,
        val_loader,
        checkpoints: CheckpointManager,
        metrics: MetricsLog,
        learning_rates: Sequence[float],
        epochs: int,
        dist: DistributedInfo,
        global_batch_size: int,
        val_interval: int = 1,
        ckpt_save_interval: int = 1,
        nonfinite_policy: str = "stop",
        progress: bool = True,
        ckpt_save_steps: int = 0,
        ckpt_save_minutes: float = 30.0,
        log_interval: int = 100,
    ):
        self.train_step = train_step
        self.train_loader = train_loader
        self.evaluator = Evaluator(train_step.network) if val_loader is not None else None
        self.val_loader = val_loader
        self.checkpoints = checkpoints
        self.metrics = metrics
        self.learning_rates = learning_rates
        self.epochs = epochs
        self.dist = dist
        self.global_batch_size = global_batch_size
        self.val_interval = val_interval
        self.ckpt_save_interval = ckpt_save_interval
        self.nonfinite_policy = nonfinite_policy
        self.progress = progress and dist.is_main
        self.log_interval = log_interval  # steps between log lines of loss, lr and speed (main rank)
        self.steps_per_epoch = train_loader.get_dataset_size()
        self.ckpt_save_steps = ckpt_save_steps
        self.ckpt_save_seconds = ckpt_save_minutes * 60
        self._stop = StopSignals()
        self._last_save = 0.0  # monotonic time of the last resume point, set when fit starts

    def fit(self, position: RunPosition) -> Optional[Dict[str, float]]:
        """Train to the last epoch; return the final validation metrics (None without validation)."""
        if position.epoch and not position.step_in_epoch and self.dist.is_main:
            self._write_epoch_files(position, only_missing=True)  # a kill may have left them out
        last = None
        self._last_save = time.monotonic()
        with self._stop:
            while position.epoch < self.epochs:
                started, first_step = time.perf_counter(), position.step_in_epoch
                self._train_epoch(position)
                seconds = time.perf_counter() - started
                images_per_second = (
                    (self.steps_per_epoch - first_step) * self.global_batch_size / max(seconds, 1e-9)
                )
                train_loss = position.loss_sum / position.loss_count if position.loss_count else math.nan
                position.epoch += 1
                position.step_in_epoch = position.loss_count = 0
                position.loss_sum = 0.0
                last = self._end_epoch(position, train_loss, seconds, images_per_second)
                if position.epoch < self.epochs and self._stop_requested():
                    self._stopped(position)
        return last

    def _train_epoch(self, position: RunPosition) -> None:
        epoch, start = position.epoch, position.step_in_epoch
        self.train_step.set_train(True)
        recent = collections.deque(maxlen=20)
        with progress_bar(
            total=self.steps_per_epoch,
            initial=start,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            disable=not self.progress,
            dynamic_ncols=True,
        ) as bar:  # closed on errors too, so a message starts on a line of its own
            tick = time.perf_counter()
            # Resuming mid-epoch, the batches already trained on still pass through the input
            # pipeline (and are dropped), so the random crops and flips of those that follow
            # draw what they drew in the uninterrupted run (the pipeline is far faster than training).
            batches = itertools.islice(epoch_iterator(self.train_loader, epoch), start, None)
            for images, labels in batches:
                loss, finite, _ = self.train_step(images, labels)
                position.step_in_epoch += 1
                position.global_step += 1
                loss = float(loss.asnumpy())
                if not bool(finite.asnumpy()):
                    self._on_nonfinite(position, loss)
                else:
                    position.loss_sum += loss
                    position.loss_count += 1
                    recent.append(loss)
                now = time.perf_counter()
                stats = {
                    "loss": f"{np.mean(recent) if recent else math.nan:.4f}",
                    "lr": f"{self._current_lr():.3g}",
                    "img_s": f"{self.global_batch_size / max(now - tick, 1e-9):.1f}",
                }
                bar.set_postfix(stats, refresh=False)
                tick = now
                bar.update(1)
                if self.dist.is_main and position.step_in_epoch % self.log_interval == 0:
                    line = ", ".join(f"{k} {v}" for k, v in stats.items())
                    _logger.info(
                        "epoch %d/%d step %d/%d: %s",
                        epoch + 1,
                        self.epochs,
                        position.step_in_epoch,
                        self.steps_per_epoch,
                        line,
                    )
                if position.step_in_epoch < self.steps_per_epoch:  # the epoch end saves anyway
                    if self._stop_requested():
                        self._save_resume_point(position)
                        self._stopped(position)
                    if self._resume_point_due(position):
                        self._save_resume_point(position)

    def _resume_point_due(self, position: RunPosition) -> bool:
        by_steps = self.ckpt_save_steps and position.step_in_epoch % self.ckpt_save_steps == 0
        by_time = self.ckpt_save_seconds and time.monotonic() - self._last_save >= self.ckpt_save_seconds
        return bool(by_steps or by_time)

    def _stop_requested(self) -> bool:
        """Whether a stop signal arrived; under data parallel, at any rank, so all stop together."""
        requested = self._stop.received is not None
        if self.dist.distributed:
            requested = any_rank(requested)
        return requested

    def _stopped(self, position: RunPosition) -> None:
        signum = self._stop.received or signal.SIGTERM  # another rank's signal
        name = signal.Signals(signum).name
        raise RunStopped(
            f"stopped by {name} at epoch {position.epoch + 1}/{self.epochs}, step "
            f"{position.step_in_epoch}/{self.steps_per_epoch}; resume point saved in "
            f"{self.checkpoints.resume_path}: continue with the same command and --resume",
            128 + signum,
        )

    def _save_resume_point(self, position: RunPosition) -> None:
        if self.dist.is_main:
            self.checkpoints.save_resume_state(self.train_step, asdict(position))
        self._last_save = time.monotonic()

    def _current_lr(self) -> float:
        index = int(self.train_step.optimizer.global_step.asnumpy().reshape(-1)[0])
        return float(self.learning_rates[min(index, len(self.learning_rates) - 1)])

    def _on_nonfinite(self, position: RunPosition, loss: float) -> None:
        """Dynamic loss scale: expected now and then. Otherwise stop, or skip if asked to."""
        position.nonfinite_steps += 1
        if self.train_step.dynamic_loss_scale or self.nonfinite_policy == "skip":
            return
        raise MindCVError(
            f"non-finite loss ({loss}) at epoch {position.epoch + 1}, step {position.step_in_epoch}; "
            "lower --lr, enable a dynamic loss scale (--loss_scale_type dynamic), or pass "
            "--nonfinite_policy skip to skip such steps"
        )

    def _end_epoch(
        self, position: RunPosition, train_loss: float, seconds: float, images_per_second: float
    ) -> Optional[Dict[str, float]]:
        epoch = position.epoch
        row = {
            "epoch": epoch,
            "global_step": position.global_step,
            "train_loss": train_loss,
            "lr": self._current_lr(),
            "epoch_seconds": seconds,
            "images_per_second": images_per_second,
            "nonfinite_steps": position.nonfinite_steps,
        }
        result = None
        position.epoch_top1 = -1.0
        if self.evaluator is not None and (epoch % self.val_interval == 0 or epoch == self.epochs):
            with self._evaluated_weights():
                result = self.evaluator(self.val_loader, self.dist.distributed, self.progress)
            position.epoch_top1 = result["top1"]
            if result["top1"] > position.best_top1:
                position.best_top1, position.best_epoch = result["top1"], epoch
            row.update({f"val_{k}": v for k, v in result.items() if k != "num_samples"})
        elif self.evaluator is None and self._checkpoint_epoch(epoch):
            position.best_epoch = epoch  # without validation the best is the latest
        if self.dist.distributed:
            checksum = check_replicas_agree(self.train_step.network)
            _logger.info("weights identical on %d ranks (checksum %.6g)", self.dist.group_size, checksum)
        if self.dist.is_main:
            # The metrics row first: a restart from the previous resume state rewrites it. Then
            # the resume state, then the files a restart can rewrite from it.
            self.metrics.append(row)
            self._save_resume_point(position)
            self._write_epoch_files(position)
            _logger.info(
                "epoch %d/%d: %s",
                epoch,
                self.epochs,
                ", ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k != "epoch"),
            )
        return result

    def _checkpoint_epoch(self, epoch: int) -> bool:
        return epoch % self.ckpt_save_interval == 0 or epoch == self.epochs

    def _write_epoch_files(self, position: RunPosition, only_missing: bool = False) -> None:
        """The epoch checkpoint and the best one after epoch `position.epoch`, from the weights
        the train step holds then; `only_missing`: just those a kill kept from being written."""
        epoch = position.epoch
        if self._checkpoint_epoch(epoch):
            top1 = position.epoch_top1 if position.epoch_top1 >= 0 else None
            path = self.checkpoints.epoch_path(epoch, self.steps_per_epoch)
            if not (only_missing and path.exists()):
                weights = self._weights() + self._ema_entries()
                self.checkpoints.save_epoch(weights, epoch, self.steps_per_epoch, top1)
        if position.best_epoch == epoch and not (only_missing and self.checkpoints.best_epoch() == epoch):
            with self._evaluated_weights():
                self.checkpoints.save_best(self._weights(), epoch)

    def _weights(self) -> list:
        return [{"name": p.name, "data": p} for p in self.train_step.network.get_parameters()]

    def _ema_entries(self) -> list:
        if not self.train_step.ema:
            return []
        return [{"name": p.name, "data": p} for p in self.train_step.ema_weights]

    def _evaluated_weights(self):
        """Context in which the network holds the weights that are validated and saved as best:
        the EMA weights when EMA is on."""
        return EmaSwap(self.train_step) if self.train_step.ema else contextlib.nullcontext()


class EmaSwap:
    """Temporarily load the EMA weights into the network, restoring the trained ones on exit."""

    def __init__(self, train_step: TrainStep):
        self.pairs = list(zip(train_step.network_weights, train_step.ema_weights))

    def __enter__(self):
        self.saved = [w.asnumpy().copy() for w, _ in self.pairs]
        for weight, ema in self.pairs:
            weight.set_data(ema.data.astype(weight.dtype))
        return self

    def __exit__(self, *exc):
        for (weight, _), value in zip(self.pairs, self.saved):
            weight.set_data(type(weight.data)(value))
        return False


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
