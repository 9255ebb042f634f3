"""Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023), which MindSpore 2.10
lacks: the sign of an interpolated momentum, so every weight moves by exactly `lr` per step.

`w -= lr * (sign(beta1 * m + (1 - beta1) * g) + weight_decay * w)`, then
`m = beta2 * m + (1 - beta2) * g`; the decay is decoupled, as in MindCV and the paper.
"""

import mindspore as ms
from mindspore import nn, ops

__all__ = ["Lion"]

_lion_step = ops.MultitypeFuncGraph("lion_step")


@_lion_step.register("Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Bool")
def _update(beta1, beta2, unscale, lr, weight_decay, param, m, grad, decay):
    update = ops.sign(beta1 * m + (1 - beta1) * grad)
    if decay:
        update = update + unscale * weight_decay * param
    ops.assign(m, beta2 * m + (1 - beta2) * grad)
    return ops.assign(param, param - lr * update)


class Lion(nn.Optimizer):
    """Lion over parameters or parameter groups, with per-step learning rates and a loss scale."""

    def __init__(self, params, learning_rate=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0, loss_scale=1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.beta1 = ms.Tensor(beta1, ms.float32)
        self.beta2 = ms.Tensor(beta2, ms.float32)
        self.moments = self._parameters.clone(prefix="lion_m", init="zeros")

    @ms.jit
    def construct(self, gradients):
        gradients = self.scale_grad(gradients)
        lr = self.get_lr()
        weight_decay = self.get_weight_decay()
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        n = self.param_length
        lrs = lr if self.is_group_lr else (lr,) * n
        decays = weight_decay if self.is_group else (weight_decay,) * n
        # nn.Optimizer stores weight_decay times loss_scale; a decoupled decay undoes that.
        step = ops.partial(_lion_step, self.beta1, self.beta2, self.reciprocal_scale)
        return self.hyper_map(step, lrs, decays, self._parameters, self.moments, gradients, self.decay_flags)
