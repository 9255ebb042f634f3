"""Lion and NAdam (MindCV's `opt: lion` / `opt: nadam`) against a NumPy Lion and PyTorch's NAdam."""

import mindspore as ms
import numpy as np
import pytest

from mindcv.optim import create_optimizer

GRADS = [np.array([0.5, -0.25, 1.0], np.float32), np.array([-0.1, 0.3, 0.2], np.float32)] * 2
W0 = np.array([1.0, -2.0, 0.5], np.float32)
LR = [0.1, 0.05, 0.02, 0.01]


def _run(opt, weight_decay):
    decayed = ms.Parameter(ms.Tensor(W0), name="conv.weight")
    plain = ms.Parameter(ms.Tensor(W0), name="conv.bias")
    groups = [{"params": [decayed], "weight_decay": weight_decay}, {"params": [plain], "weight_decay": 0.0}]
    optimizer = create_optimizer(groups, opt, lr=LR, weight_decay=weight_decay, loss_scale=8.0)
    for g in GRADS:
        optimizer((ms.Tensor(g * 8), ms.Tensor(g * 8)))  # gradients of a loss scaled by 8
    return decayed.asnumpy(), plain.asnumpy()


def _lion(wd, b1=0.9, b2=0.99):
    w, m = W0.astype(np.float64), np.zeros(3)
    for lr, g in zip(LR, GRADS):
        w = w - lr * (np.sign(b1 * m + (1 - b1) * g) + wd * w)
        m = b2 * m + (1 - b2) * g
    return w


def test_lion_matches_the_paper(mode):
    decayed, plain = _run("lion", 0.1)
    np.testing.assert_allclose(decayed, _lion(0.1), rtol=1e-5)
    np.testing.assert_allclose(plain, _lion(0.0), rtol=1e-5)


def test_nadam_matches_pytorch(mode):
    torch = pytest.importorskip("torch")

    def theirs(wd):
        w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.NAdam([w], lr=LR[0], weight_decay=wd, momentum_decay=4e-3)
        for lr, g in zip(LR, GRADS):
            optimizer.param_groups[0]["lr"] = lr
            w.grad = torch.tensor(g, dtype=torch.float64)
            optimizer.step()
        return w.detach().numpy()

    decayed, plain = _run("nadam", 0.1)
    np.testing.assert_allclose(decayed, theirs(0.1), rtol=1e-5)
    np.testing.assert_allclose(plain, theirs(0.0), rtol=1e-5)
