"""The train step: forward, loss, scaled backward, all-reduce, accumulation, clipping, update, EMA.

Every piece of state a resumed run needs (optimizer moments and step, loss scale, accumulation
buffers, EMA weights) is a Parameter of `TrainStep`, so saving the cell saves the whole state.

Non-finite gradients never reach the weights: the step is skipped and reported, and with a
dynamic loss scale the scale is lowered. Overflow is detected with `mindspore.amp.all_finite`,
which works on CPU, unlike the float-status kernels behind `TrainOneStepWithLossScaleCell`.
"""

from typing import Optional

import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops
from mindspore.amp import all_finite

from ..amp import apply_mixed_precision

__all__ = ["TrainStep", "create_trainer"]

_map = ops.HyperMap()


def _divide(divisor, x):
    return x / divisor.astype(x.dtype)


def _add_into(buffer, x):
    return ops.assign_add(buffer, x)


def _zero(buffer):
    return ops.assign(buffer, ops.zeros_like(buffer))


def _ema_update(decay, ema, weight):
    return ops.assign(ema, ema * decay + weight.astype(ema.dtype) * (1 - decay))


class _NetworkWithLoss(nn.Cell):
    """network -> float32 logits -> loss, the function the gradients are taken of."""

    def __init__(self, network: nn.Cell, loss_fn: nn.Cell):
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn

    def construct(self, images, labels):
        logits = self.network(images)
        if isinstance(logits, tuple):
            logits = tuple(x.astype(ms.float32) for x in logits)
        else:
            logits = logits.astype(ms.float32)
        return self.loss_fn(logits, labels)


class TrainStep(nn.Cell):
    """One micro-batch of training; the optimizer runs every `accumulate_steps` micro-batches.

    Returns (loss, finite, loss_scale): `finite` is False when this micro-batch's gradients were
    not finite and were therefore dropped.
    """

    def __init__(
        self,
        network: nn.Cell,
        loss_fn: nn.Cell,
        optimizer: nn.Optimizer,
        loss_scale: float = 1.0,
        dynamic_loss_scale: bool = False,
        scale_factor: float = 2.0,
        scale_window: int = 1000,
        clip_grad: bool = False,
        clip_value: float = 15.0,
        accumulate_steps: int = 1,
        ema: bool = False,
        ema_decay: float = 0.9999,
        grad_reducer: nn.Cell = None,
    ):
        super().__init__(auto_prefix=False)
        self.network = network
        self.network_with_loss = _NetworkWithLoss(network, loss_fn)
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.grad_reducer = grad_reducer if grad_reducer is not None else nn.Identity()

        self.loss_scale = Parameter(Tensor(loss_scale, ms.float32), name="loss_scale", requires_grad=False)
        self.dynamic_loss_scale = dynamic_loss_scale
        # fp32's fixed scale of 1 needs no unscaling: one division per gradient saved (docs/performance.md)
        self.unscale = dynamic_loss_scale or loss_scale != 1.0
        self.scale_factor = scale_factor
        self.scale_window = scale_window
        self.finite_steps = Parameter(Tensor(0, ms.int32), name="finite_steps", requires_grad=False)

        self.clip_grad = clip_grad
        self.clip_value = clip_value

        self.accumulate_steps = accumulate_steps
        if accumulate_steps > 1:
            self.accumulated = self.weights.clone(prefix="accumulated", init="zeros")
            self.micro_step = Parameter(Tensor(0, ms.int32), name="micro_step", requires_grad=False)

        self.ema = ema
        self.ema_decay = ema_decay
        if ema:
            self.network_weights = ms.ParameterTuple(network.get_parameters())
            self.ema_weights = ms.ParameterTuple(
                Parameter(p.data.copy(), name=f"ema.{p.name}", requires_grad=False)
                for p in self.network_weights
            )
            self.ema_updates = Parameter(Tensor(0, ms.float32), name="ema_updates", requires_grad=False)

    def construct(self, images, labels):
        loss = self.network_with_loss(images, labels)
        scale = self.loss_scale
        grads = self.grad(self.network_with_loss, self.weights)(images, labels, scale.astype(loss.dtype))
        grads = self.grad_reducer(grads)
        if self.unscale:
            grads = _map(ops.partial(_divide, scale), grads)
        finite = ops.logical_and(all_finite(grads), ops.isfinite(loss))
        if self.dynamic_loss_scale:
            loss = ops.depend(loss, self._adjust_loss_scale(finite))
        if self.accumulate_steps > 1:
            loss = ops.depend(loss, self._accumulate(grads, finite))
        elif finite:
            loss = ops.depend(loss, self._apply(grads))
        return loss, finite, scale

    def _adjust_loss_scale(self, finite):
        """Halve (by `scale_factor`) on overflow; grow after `scale_window` finite steps in a row."""
        grown = self.finite_steps + 1 >= self.scale_window
        new_scale = ops.select(
            finite,
            ops.select(grown, self.loss_scale * self.scale_factor, self.loss_scale),
            ops.maximum(self.loss_scale / self.scale_factor, 1.0),
        )
        new_count = ops.select(ops.logical_and(finite, ops.logical_not(grown)), self.finite_steps + 1, 0)
        return ops.depend(ops.assign(self.loss_scale, new_scale), ops.assign(self.finite_steps, new_count))

    def _accumulate(self, grads, finite):
        """Add finite gradients to the buffers; every `accumulate_steps` micro-batches apply their mean."""
        if finite:
            _map(_add_into, self.accumulated, grads)
        step = self.micro_step + 1
        ops.assign(self.micro_step, step)
        if step % self.accumulate_steps == 0:
            count = Tensor(self.accumulate_steps, ms.float32)
            done = self._apply(_map(ops.partial(_divide, count), self.accumulated))
            step = ops.depend(step, _map(_zero, ops.depend(self.accumulated, done)))
        return step

    def _apply(self, grads):
        if self.clip_grad:
            grads = ops.clip_by_global_norm(grads, self.clip_value)
        done = self.optimizer(grads)
        if self.ema:
            done = ops.depend(done, self._update_ema())
        return done

    def _update_ema(self):
        """EMA with MindCV's warm-up: the decay ramps from 0 toward `ema_decay` over ~2000 updates."""
        updates = self.ema_updates + 1
        decay = self.ema_decay * (1 - ops.exp(-updates / 2000))
        ops.assign(self.ema_updates, updates)
        return _map(ops.partial(_ema_update, decay), self.ema_weights, self.network_weights)


def create_trainer(
    network: nn.Cell,
    loss_fn: nn.Cell,
    optimizer: nn.Optimizer,
    amp_level: str = "O0",
    loss_scale_type: str = "fixed",
    loss_scale: float = 1.0,
    scale_factor: float = 2.0,
    scale_window: int = 1000,
    clip_grad: bool = False,
    clip_value: float = 15.0,
    gradient_accumulation_steps: int = 1,
    ema: bool = False,
    ema_decay: float = 0.9999,
    distributed: bool = False,
    amp_cast_list: Optional[str] = None,
) -> TrainStep:
    """Wrap `network` for training: mixed precision (`amp_level`, `amp_cast_list`: see
    `mindcv.amp.apply_mixed_precision`), a fixed or dynamic loss scale ("auto" is resolved by
    `mindcv.amp.resolve_loss_scale_type`), clipping, accumulation, EMA and, when `distributed`,
    the data-parallel gradient mean."""
    apply_mixed_precision(network, amp_level, amp_cast_list)
    reducer = None
    if distributed:
        from mindspore.communication import get_group_size

        reducer = nn.DistributedGradReducer(optimizer.parameters, mean=True, degree=get_group_size())
    return TrainStep(
        network,
        loss_fn,
        optimizer,
        loss_scale=loss_scale,
        dynamic_loss_scale=loss_scale_type == "dynamic",
        scale_factor=scale_factor,
        scale_window=scale_window,
        clip_grad=clip_grad,
        clip_value=clip_value,
        accumulate_steps=gradient_accumulation_steps,
        ema=ema,
        ema_decay=ema_decay,
        grad_reducer=reducer,
    )
