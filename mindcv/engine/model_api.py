"""Training through `mindspore.Model`, as MindCV's train.py does: `create_model_trainer` (MindCV's
`create_trainer`) and the callbacks `StateMonitor` and `ValCallback`.

train.py runs its own epoch loop (`trainer.py`); this is for scripts written against MindCV's
API. The `Model` trains our train step (`train_step.create_trainer`: amp, loss scale, clipping,
accumulation, EMA), and `StateMonitor` writes through our checkpoint managers: atomic epoch
checkpoints ranked by the validation metric, the best checkpoint, and a resume state. MindCV's
import paths, `mindcv.utils.create_trainer`, `mindcv.utils.StateMonitor`, ..., re-export these.
"""

import contextlib
import logging
import os
from dataclasses import asdict
from time import time
from typing import Optional, Sequence

import numpy as np
from mindspore import nn
from mindspore.train import Callback, Model

from ..amp import resolve_loss_scale_type
from ..utils.atomic import atomic_save_checkpoint
from .checkpoint_manager import CheckpointManager as RunCheckpoints
from .mindcv_checkpoint_manager import CheckpointManager
from .train_step import create_trainer
from .trainer import EmaSwap, RunPosition

__all__ = ["StateMonitor", "ValCallback", "create_model_trainer"]

_logger = logging.getLogger(__name__)


def create_model_trainer(
    network: nn.Cell,
    loss: nn.Cell,
    optimizer: nn.Optimizer,
    metrics,
    amp_level: str = "O0",
    amp_cast_list: Optional[str] = None,
    loss_scale_type: str = "fixed",
    loss_scale: float = 1.0,
    drop_overflow_update: bool = False,
    ema: bool = False,
    ema_decay: float = 0.9999,
    clip_grad: bool = False,
    clip_value: float = 15.0,
    gradient_accumulation_steps: int = 1,
) -> Model:
    """MindCV's `create_trainer`: a `mindspore.Model` training our train step, evaluating
    `network` with `loss` and `metrics`. An update whose gradients overflow is always skipped
    (`drop_overflow_update` is accepted and has no effect), on CPU too."""
    train_step = create_trainer(
        network,
        loss,
        optimizer,
        amp_level=amp_level,
        loss_scale_type=resolve_loss_scale_type(loss_scale_type, amp_level),
        loss_scale=loss_scale,
        clip_grad=clip_grad,
        clip_value=clip_value,
        gradient_accumulation_steps=gradient_accumulation_steps,
        ema=ema,
        ema_decay=ema_decay,
        amp_cast_list=amp_cast_list,
    )
    train_step.set_train()
    eval_network = nn.WithEvalCell(network, loss, amp_level in ("O2", "O3"))
    return Model(train_step, eval_network=eval_network, metrics=metrics, eval_indexes=[0, 1, 2])


class StateMonitor(Callback):
    """MindCV's `StateMonitor` (same arguments): logs the loss every `log_interval` steps,
    validates on `dataset_val` every `val_interval` epochs (on the EMA weights when `model_ema`),
    and on rank 0 saves `<model_name>-<epoch>_<step>.ckpt` (kept by `ckpt_save_policy`, ranked by
    `metric_name[0]`), `<model_name>_best.ckpt` and our resume state `<model_name>-resume.ckpt`.
    `summary_dir` is accepted and unused (no MindInsight summary); under data parallel each rank
    reports its own shard's metrics."""

    def __init__(
        self,
        model: Model,
        model_name: str = "",
        model_ema: bool = False,
        last_epoch: int = 0,
        dataset_sink_mode: bool = True,
        dataset_val=None,
        metric_name: Sequence[str] = ("accuracy",),
        val_interval: int = 1,
        val_start_epoch: int = 1,
        save_best_ckpt: bool = True,
        ckpt_save_dir: str = "./",
        ckpt_save_interval: int = 1,
        ckpt_save_policy: Optional[str] = None,
        ckpt_keep_max: int = 10,
        summary_dir: str = "./",
        log_interval: int = 100,
        rank_id: Optional[int] = None,
        device_num: Optional[int] = None,
    ):
        super().__init__()
        self.model = model
        self.model_name = model_name
        self.model_ema = model_ema
        self.last_epoch = last_epoch
        self.dataset_val = dataset_val
        self.metric_name = list(metric_name)
        self.val_interval = val_interval
        self.val_start_epoch = val_start_epoch
        self.save_best_ckpt = save_best_ckpt
        self.ckpt_save_dir = ckpt_save_dir
        self.ckpt_save_interval = ckpt_save_interval
        self.ckpt_keep_max = ckpt_keep_max
        self.log_interval = log_interval
        self.is_main = rank_id in (0, None)
        self.ckpt_manager = CheckpointManager(ckpt_save_policy=ckpt_save_policy)
        self.run_files = RunCheckpoints(ckpt_save_dir, model_name, ckpt_keep_max, ckpt_save_policy)
        self.best_res, self.best_epoch = -1.0, -1
        self.last_epoch_of_run = None  # known when training begins
        self.epoch_start = time()
        if self.is_main:
            os.makedirs(ckpt_save_dir, exist_ok=True)

    @property
    def train_step(self):
        return self.model.train_network

    def on_train_begin(self, run_context):
        self.last_epoch_of_run = self.last_epoch + run_context.original_args().epoch_num

    def on_train_epoch_begin(self, run_context):
        self.epoch_start = time()

    def on_train_step_end(self, run_context):
        params = run_context.original_args()
        batch = (params.cur_step_num - 1) % params.batch_num + 1
        if batch % self.log_interval == 0 or batch in (1, params.batch_num):
            _logger.info(
                "Epoch: [%d/%d], batch: [%d/%d], loss: %.6f",
                params.cur_epoch_num + self.last_epoch,
                params.epoch_num,
                batch,
                params.batch_num,
                _loss(params.net_outputs),
            )

    def on_train_epoch_end(self, run_context):
        params = run_context.original_args()
        epoch = params.cur_epoch_num + self.last_epoch
        res = self._validate(epoch)
        if res is not None and res[0] > self.best_res:
            self.best_res, self.best_epoch = res[0], epoch
            _logger.info("=> New best val %s: %.4f", self.metric_name[0], res[0])
        if self.is_main:
            self._save(epoch, params.batch_num, res)
        _logger.info(
            "epoch %d: loss %.6f, %s, %.2f s",
            epoch,
            _loss(params.net_outputs),
            "no validation" if res is None else dict(zip(self.metric_name, np.round(res, 6).tolist())),
            time() - self.epoch_start,
        )

    def on_train_end(self, run_context):
        if self.dataset_val is not None:
            _logger.info(
                "best validation %s: %.4f at epoch %d", self.metric_name[0], self.best_res, self.best_epoch
            )

    def _validate(self, epoch: int) -> Optional[list]:
        due = epoch >= self.val_start_epoch and (epoch - self.val_start_epoch) % self.val_interval == 0
        if self.dataset_val is None or not due:
            return None
        with self._evaluated_weights():
            results = self.model.eval(self.dataset_val, dataset_sink_mode=False)
        return [float(results[name]) for name in self.metric_name if name in results] or list(
            results.values()
        )

    def _evaluated_weights(self):
        ema = self.model_ema and self.train_step.ema
        return EmaSwap(self.train_step) if ema else contextlib.nullcontext()

    def _save(self, epoch: int, batches: int, res: Optional[list]) -> None:
        weights = [{"name": p.name, "data": p} for p in self.train_step.network.get_parameters()]
        if self.save_best_ckpt and self.best_epoch == epoch:
            with self._evaluated_weights():
                atomic_save_checkpoint(
                    weights, os.path.join(self.ckpt_save_dir, f"{self.model_name}_best.ckpt")
                )
        if epoch % self.ckpt_save_interval == 0 or epoch == self.last_epoch_of_run:
            ema = (
                [{"name": p.name, "data": p} for p in self.train_step.ema_weights]
                if self.train_step.ema
                else []
            )
            path = os.path.join(self.ckpt_save_dir, f"{self.model_name}-{epoch}_{batches}.ckpt")
            metric = res[0] if res else 0.0
            self.ckpt_manager.save_ckpoint(weights + ema, self.ckpt_keep_max, metric, path)
        position = RunPosition(
            epoch=epoch,
            global_step=epoch * batches,
            best_top1=self.best_res,
            best_epoch=max(self.best_epoch, 0),
        )
        self.run_files.save_resume_state(self.train_step, asdict(position))


def _loss(outputs) -> float:
    """The loss among a train network's outputs (the first of a tuple)."""
    loss = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    return float(np.mean(loss.asnumpy()))


class ValCallback(Callback):
    """MindCV's `ValCallback`: logs evaluation progress every `log_interval` batches."""

    def __init__(self, log_interval: int = 100):
        super().__init__()
        self.log_interval = log_interval
        self.start = time()

    def on_eval_step_end(self, run_context):
        params = run_context.original_args()
        if params.cur_step_num % self.log_interval == 0 or params.cur_step_num == params.batch_num:
            _logger.info(
                "batch: %d/%d, time: %.6fs", params.cur_step_num, params.batch_num, time() - self.start
            )
            self.start = time()
