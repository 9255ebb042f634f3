"""AdamW and LAMB steps against NumPy references of the published algorithms."""

import mindspore as ms
import numpy as np
import pytest

from mindcv.optim import AdamW, Lamb

B1, B2 = 0.9, 0.999
GRADS = [np.array([0.5, -0.25, 1.0], np.float32), np.array([-0.1, 0.3, 0.2], np.float32)]


def reference(w, lr, wd, eps, trust_ratio, steps=2, scale=1.0):
    """Bias-corrected Adam direction plus decoupled decay; LAMB rescales it per tensor."""
    w, m, v = w.astype(np.float64), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS[:steps], start=1):
        g = g / scale
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g**2
        update = (m / (1 - B1**t)) / (np.sqrt(v / (1 - B2**t)) + eps) + wd * w
        if trust_ratio:
            update *= np.linalg.norm(w) / np.linalg.norm(update)
        w = w - lr[t - 1] * update
    return w


@pytest.mark.parametrize("cls, eps, trust_ratio", [(AdamW, 1e-8, False), (Lamb, 1e-6, True)])
def test_two_steps_with_groups_and_per_step_lr(cls, eps, trust_ratio, mode):
    w0 = np.array([1.0, -2.0, 0.5], np.float32)
    decayed = ms.Parameter(ms.Tensor(w0), name="conv.weight")
    plain = ms.Parameter(ms.Tensor(w0), name="conv.bias")
    groups = [{"params": [decayed], "weight_decay": 0.1}, {"params": [plain], "weight_decay": 0.0}]
    lr = [0.1, 0.05]
    opt = cls(groups, learning_rate=ms.Tensor(np.array(lr, np.float32)), loss_scale=8.0)
    for g in GRADS:
        opt((ms.Tensor(g * 8), ms.Tensor(g * 8)))  # gradients of a loss scaled by 8
    np.testing.assert_allclose(decayed.asnumpy(), reference(w0, lr, 0.1, eps, trust_ratio), rtol=1e-5)
    np.testing.assert_allclose(plain.asnumpy(), reference(w0, lr, 0.0, eps, trust_ratio), rtol=1e-5)
    assert opt.global_step.asnumpy()[0] == 2


def test_first_adamw_step_is_lr_times_sign():
    """The bias correction MindSpore's nn.AdamWeightDecay lacks: step one moves by lr, not ~3x."""
    w = ms.Parameter(ms.Tensor(np.array([1.0, -2.0], np.float32)), name="w")
    AdamW([w], learning_rate=0.1)((ms.Tensor(np.array([0.5, -0.5], np.float32)),))
    np.testing.assert_allclose(w.asnumpy(), [0.9, -1.9], rtol=1e-6)
