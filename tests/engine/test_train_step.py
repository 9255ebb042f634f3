"""The train step: loss scaling, non-finite skipping, accumulation, clipping and EMA."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv.engine.train_step import create_trainer


def dense_net(seed=0):
    ms.set_seed(seed)
    return nn.SequentialCell([nn.Flatten(), nn.Dense(12, 8), nn.ReLU(), nn.Dense(8, 3)])


def batch(n=4, seed=0, poison=False):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 3, 2, 2).astype(np.float32)
    if poison:
        x[0, 0, 0, 0] = np.inf
    return ms.Tensor(x), ms.Tensor(rng.randint(0, 3, n).astype(np.int32))


def weights(net):
    return [p.asnumpy().copy() for p in net.trainable_params()]


def trainer(net, **kwargs):
    opt = nn.SGD(net.trainable_params(), learning_rate=0.1)
    step = create_trainer(net, nn.CrossEntropyLoss(), opt, **kwargs)
    step.set_train()
    return step


def test_loss_scale_does_not_change_the_update(mode):
    plain, scaled = dense_net(), dense_net()
    trainer(plain)(*batch())
    trainer(scaled, loss_scale=1024.0)(*batch())
    for a, b in zip(weights(plain), weights(scaled)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)


def test_nonfinite_step_is_skipped_and_dynamic_scale_lowered(mode):
    net = dense_net()
    step = trainer(net, loss_scale_type="dynamic", loss_scale=256.0, scale_window=2)
    before = weights(net)
    _, finite, scale = step(*batch(poison=True))
    assert not bool(finite)
    assert float(step.loss_scale.asnumpy()) == 128.0
    for a, b in zip(before, weights(net)):
        np.testing.assert_array_equal(a, b)
    step(*batch())
    step(*batch())  # two finite steps in a row: the window of 2 is full
    assert float(step.loss_scale.asnumpy()) == 256.0


def test_accumulation_equals_one_large_batch(mode):
    big, small = dense_net(), dense_net()
    x, y = batch(n=4)
    trainer(big)(x, y)
    step = trainer(small, gradient_accumulation_steps=2)
    step(x[:2], y[:2])
    unchanged = weights(small)
    step(x[2:], y[2:])
    for a, b in zip(weights(dense_net()), unchanged):  # no update after the first micro-batch
        np.testing.assert_array_equal(a, b)
    for a, b in zip(weights(big), weights(small)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    assert not np.any(step.accumulated[0].asnumpy())  # buffers cleared after the update


def test_clipping_bounds_the_update(mode):
    net = dense_net()
    before = weights(net)
    trainer(net, clip_grad=True, clip_value=1e-3)(*batch())
    delta = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(weights(net), before)))
    assert delta == pytest.approx(0.1 * 1e-3, rel=1e-3)  # lr x clipped global norm


def test_ema_follows_mindcv_warmup_formula(mode):
    net = dense_net()
    start = weights(net)
    step = trainer(net, ema=True, ema_decay=0.99)
    step(*batch())
    decay = 0.99 * (1 - np.exp(-1 / 2000))
    for ema, w0, w1 in zip(step.ema_weights, start, weights(net)):
        np.testing.assert_allclose(ema.asnumpy(), w0 * decay + w1 * (1 - decay), rtol=1e-5, atol=1e-7)
    assert step.ema_weights[0].name.startswith("ema.")
