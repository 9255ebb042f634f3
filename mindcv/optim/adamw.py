"""AdamW built from MindSpore ops, with the update LAMB shares (lamb.py), since MindSpore 2.10's own
fall short.

`nn.AdamWeightDecay` decouples the decay but skips Adam's bias correction (its first step is
about 3x Adam's) and takes no loss scale; `nn.Lamb` has no CPU kernel. AdamW and LAMB here are
bias-corrected, unscale gradients by `loss_scale`, and honour parameter groups, per-step
learning rates and MindSpore's per-parameter decay flags.
"""

import mindspore as ms
from mindspore import nn, ops

__all__ = ["AdamW"]

_adam_step = ops.MultitypeFuncGraph("adam_step")


@_adam_step.register(
    "Bool", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor",
    "Tensor", "Tensor", "Tensor", "Bool",
)  # fmt: skip
def _update(
    trust_ratio, beta1, beta2, eps, bias1, bias2, unscale, lr, weight_decay, param, m, v, grad, decay
):
    """Update one parameter in place with the bias-corrected Adam direction plus decoupled decay;
    LAMB scales that step by ||param|| / ||step|| (1 when either norm is 0)."""
    next_m = beta1 * m + (1 - beta1) * grad
    next_v = beta2 * v + (1 - beta2) * ops.square(grad)
    update = (next_m / bias1) / (ops.sqrt(next_v / bias2) + eps)
    if decay:
        update = update + unscale * weight_decay * param
    if trust_ratio:
        param_norm = ops.norm(param)
        update_norm = ops.norm(update)
        ratio = ops.where(
            (param_norm > 0) & (update_norm > 0), param_norm / update_norm, ops.ones_like(param_norm)
        )
        update = update * ratio
    ops.assign(m, next_m)
    ops.assign(v, next_v)
    return ops.assign(param, param - lr * update)


class AdamW(nn.Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch's and MindCV's AdamW:
    `w -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * w)`."""

    _trust_ratio = False

    def __init__(
        self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, loss_scale=1.0
    ):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.beta1 = ms.Tensor(beta1, ms.float32)
        self.beta2 = ms.Tensor(beta2, ms.float32)
        self.eps = ms.Tensor(eps, ms.float32)
        self.moments1 = self._parameters.clone(prefix="adam_m", init="zeros")
        self.moments2 = self._parameters.clone(prefix="adam_v", init="zeros")
        self.beta1_power = ms.Parameter(ms.Tensor(1.0, ms.float32), name="beta1_power")
        self.beta2_power = ms.Parameter(ms.Tensor(1.0, ms.float32), name="beta2_power")

    @ms.jit
    def construct(self, gradients):
        gradients = self.scale_grad(gradients)
        lr = self.get_lr()
        weight_decay = self.get_weight_decay()
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        beta1_power = self.beta1_power * self.beta1
        beta2_power = self.beta2_power * self.beta2
        ops.assign(self.beta1_power, beta1_power)
        ops.assign(self.beta2_power, beta2_power)
        n = self.param_length
        lrs = lr if self.is_group_lr else (lr,) * n
        decays = weight_decay if self.is_group else (weight_decay,) * n
        # nn.Optimizer stores weight_decay times loss_scale (its optimizers decay the scaled
        # gradients); a decoupled decay undoes that.
        step = ops.partial(
            _adam_step, self._trust_ratio, self.beta1, self.beta2, self.eps, 1 - beta1_power, 1 - beta2_power,
            self.reciprocal_scale,
        )  # fmt: skip
        return self.hyper_map(
            step, lrs, decays, self._parameters, self.moments1, self.moments2, gradients, self.decay_flags
        )
