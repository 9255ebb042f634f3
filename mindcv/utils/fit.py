"""The epoch loop: train steps under a progress bar, validation, checkpoints, metrics, resume.

The loop owns no model logic: the train step does the optimisation, the data package decides
the sample order of each epoch, and `CheckpointManager`/`MetricsLog` own the files. Only the
main rank writes files and shows progress.
"""

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Sequence

import numpy as np
from tqdm import tqdm

from ..data import epoch_iterator
from .checkpoints import CheckpointManager
from .distributed import DistributedInfo, check_replicas_agree
from .errors import MindCVError
from .evaluate import evaluate
from .metrics_log import MetricsLog
from .train_step import TrainStep

__all__ = ["RunPosition", "Trainer"]

_logger = logging.getLogger(__name__)


@dataclass
class RunPosition:
    """Where a run stands; saved in the resume state so `--resume` continues exactly there."""

    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches of the current epoch completed
    global_step: int = 0  # micro-batches completed over the whole run
    best_top1: float = -1.0
    nonfinite_steps: int = 0


class Trainer:
    """Runs epochs `position.epoch .. epochs - 1` of `train_step` over `train_loader`."""

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
        log_interval: int = 100,
    ):
        self.train_step = train_step
        self.train_loader = train_loader
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

    def fit(self, position: RunPosition) -> Optional[Dict[str, float]]:
        """Train to the last epoch; return the final validation metrics (None without validation)."""
        last = None
        while position.epoch < self.epochs:
            started = time.perf_counter()
            train_loss = self._train_epoch(position)
            seconds = time.perf_counter() - started
            position.epoch += 1
            position.step_in_epoch = 0
            last = self._end_epoch(position, train_loss, seconds)
        return last

    def _train_epoch(self, position: RunPosition) -> float:
        epoch, start = position.epoch, position.step_in_epoch
        self.train_step.set_train(True)
        losses = []
        with tqdm(
            total=self.steps_per_epoch,
            initial=start,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            disable=not self.progress,
            dynamic_ncols=True,
        ) as bar:  # closed on errors too, so a message starts on a line of its own
            tick = time.perf_counter()
            for images, labels in epoch_iterator(self.train_loader, epoch, start):
                loss, finite, _ = self.train_step(images, labels)
                position.step_in_epoch += 1
                position.global_step += 1
                if not bool(finite.asnumpy()):
                    self._on_nonfinite(position, float(loss.asnumpy()))
                else:
                    losses.append(float(loss.asnumpy()))
                now = time.perf_counter()
                stats = {
                    "loss": f"{np.mean(losses[-20:]) if losses else math.nan:.4f}",
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
        return float(np.mean(losses)) if losses else math.nan

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
        self, position: RunPosition, train_loss: float, seconds: float
    ) -> Optional[Dict[str, float]]:
        epoch = position.epoch
        row = {
            "epoch": epoch,
            "global_step": position.global_step,
            "train_loss": train_loss,
            "lr": self._current_lr(),
            "epoch_seconds": seconds,
            "images_per_second": self.steps_per_epoch * self.global_batch_size / max(seconds, 1e-9),
            "nonfinite_steps": position.nonfinite_steps,
        }
        result = None
        validate = self.val_loader is not None and (epoch % self.val_interval == 0 or epoch == self.epochs)
        if validate:
            with self._evaluated_weights():
                result = evaluate(
                    self.train_step.network, self.val_loader, self.dist.distributed, self.progress
                )
                improved = result["top1"] > position.best_top1
                if improved:
                    position.best_top1 = result["top1"]
                    if self.dist.is_main:
                        self.checkpoints.save_best(self._weights())
            row.update({f"val_{k}": v for k, v in result.items() if k != "num_samples"})
        if self.dist.distributed:
            checksum = check_replicas_agree(self.train_step.network)
            _logger.info("weights identical on %d ranks (checksum %.6g)", self.dist.group_size, checksum)
        if self.dist.is_main:
            self._save(position, result["top1"] if result else None)
            self.metrics.append(row)
            _logger.info(
                "epoch %d/%d: %s",
                epoch,
                self.epochs,
                ", ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k != "epoch"),
            )
        return result

    def _save(self, position: RunPosition, top1: Optional[float]) -> None:
        """`top1`: this epoch's validation top-1 (None if not validated), which ranks the
        checkpoint under --ckpt_save_policy top_k."""
        epoch = position.epoch
        if epoch % self.ckpt_save_interval == 0 or epoch == self.epochs:
            weights = self._weights() + self._ema_entries()
            self.checkpoints.save_epoch(weights, epoch, self.steps_per_epoch, top1)
            if self.val_loader is None:
                with self._evaluated_weights():
                    self.checkpoints.save_best(self._weights())
        self.checkpoints.save_resume_state(self.train_step, asdict(position))

    def _weights(self) -> list:
        return [{"name": p.name, "data": p} for p in self.train_step.network.get_parameters()]

    def _ema_entries(self) -> list:
        if not self.train_step.ema:
            return []
        return [{"name": p.name, "data": p} for p in self.train_step.ema_weights]

    def _evaluated_weights(self):
        """Context in which the network holds the weights that are validated and saved as best:
        the EMA weights when EMA is on."""
        return _SwappedWeights(self.train_step) if self.train_step.ema else contextlib.nullcontext()


class _SwappedWeights:
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
