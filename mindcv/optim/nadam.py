"""NAdam (Dozat, "Incorporating Nesterov Momentum into Adam", 2016), which MindSpore 2.10 has only
as an experimental optimizer outside `nn`: Adam with a Nesterov look-ahead whose momentum
`mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))` warms up, as in PyTorch, timm and
MindCV. Weight decay is L2 (added to the gradient), as theirs.
"""

import mindspore as ms
from mindspore import nn, ops

__all__ = ["NAdam"]

_nadam_step = ops.MultitypeFuncGraph("nadam_step")


@_nadam_step.register(*["Tensor"] * 11)
def _update(beta1, beta2, eps, grad_coef, momentum_coef, bias2, lr, param, m, v, grad):
    next_m = beta1 * m + (1 - beta1) * grad
    next_v = beta2 * v + (1 - beta2) * ops.square(grad)
    denom = ops.sqrt(next_v / bias2) + eps
    ops.assign(m, next_m)
    ops.assign(v, next_v)
    return ops.assign(param, param - lr * (grad_coef * grad + momentum_coef * next_m) / denom)


class NAdam(nn.Optimizer):
    """NAdam over parameters or parameter groups, with per-step learning rates and a loss scale."""

    def __init__(
        self,
        params,
        learning_rate=2e-3,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        loss_scale=1.0,
        schedule_decay=4e-3,
    ):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.beta1 = ms.Tensor(beta1, ms.float32)
        self.beta2 = ms.Tensor(beta2, ms.float32)
        self.eps = ms.Tensor(eps, ms.float32)
        self.schedule_decay = ms.Tensor(schedule_decay, ms.float32)
        self.moments1 = self._parameters.clone(prefix="nadam_m", init="zeros")
        self.moments2 = self._parameters.clone(prefix="nadam_v", init="zeros")
        self.mu_product = ms.Parameter(ms.Tensor(1.0, ms.float32), name="mu_product")
        self.beta2_power = ms.Parameter(ms.Tensor(1.0, ms.float32), name="beta2_power")
        self.steps = ms.Parameter(ms.Tensor(0.0, ms.float32), name="nadam_steps")

    def _mu(self, step):
        return self.beta1 * (1 - 0.5 * ops.pow(0.96, step * self.schedule_decay))

    @ms.jit
    def construct(self, gradients):
        gradients = self.decay_weight(gradients)
        gradients = self.scale_grad(gradients)
        lr = self.get_lr()
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        step = self.steps + 1
        ops.assign(self.steps, step)
        mu, mu_next = self._mu(step), self._mu(step + 1)
        mu_product = self.mu_product * mu
        ops.assign(self.mu_product, mu_product)
        beta2_power = self.beta2_power * self.beta2
        ops.assign(self.beta2_power, beta2_power)
        grad_coef = (1 - mu) / (1 - mu_product)
        momentum_coef = mu_next / (1 - mu_product * mu_next)
        lrs = lr if self.is_group_lr else (lr,) * self.param_length
        update = ops.partial(
            _nadam_step, self.beta1, self.beta2, self.eps, grad_coef, momentum_coef, 1 - beta2_power
        )
        return self.hyper_map(update, lrs, self._parameters, self.moments1, self.moments2, gradients)
