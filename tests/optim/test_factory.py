"""`create_optimizer`: the class per name, learning-rate forms, loss scale, training, errors."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv import MindCVError
from mindcv.optim import AdamW, Lamb, create_optimizer
from mindcv.scheduler import create_scheduler

X = ms.Tensor(np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32))
Y = ms.Tensor(np.arange(16, dtype=np.int32) % 3)


def tiny_net():
    ms.set_seed(0)
    return nn.SequentialCell([nn.Dense(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3)])


@pytest.mark.parametrize(
    "opt, cls",
    [
        ("sgd", nn.SGD),
        ("Momentum", nn.Momentum),
        ("nesterov", nn.Momentum),
        ("adam", nn.Adam),
        ("adamW", AdamW),
        ("RMSProp", nn.RMSProp),
        ("adagrad", nn.Adagrad),
        ("LAMB", Lamb),
    ],
)
def test_class_per_name_and_one_step_lowers_the_loss(opt, cls):
    net = tiny_net()
    optimizer = create_optimizer(net, opt, lr=0.05, weight_decay=1e-4, weight_decay_filter="auto")
    assert type(optimizer) is cls
    loss_net = nn.WithLossCell(net, nn.CrossEntropyLoss())
    step = nn.TrainOneStepCell(loss_net, optimizer)
    net.set_train(False)
    before = loss_net(X, Y).asnumpy()
    net.set_train(True)
    step(X, Y)
    net.set_train(False)
    assert loss_net(X, Y).asnumpy() < before


def test_nesterov_and_momentum_settings():
    net = tiny_net()
    assert create_optimizer(net, "nesterov").use_nesterov
    assert not create_optimizer(net, "momentum").use_nesterov
    sgd = create_optimizer(net, "sgd", momentum=0.5, nesterov=True)
    assert sgd.nesterov and sgd.momentum.asnumpy() == pytest.approx(0.5)
    assert create_optimizer(net, "rmsprop", eps=1e-6).epsilon == pytest.approx(1e-6)


@pytest.mark.parametrize(
    "lr",
    [
        [0.1, 0.01],
        np.array([0.1, 0.01]),
        ms.Tensor(np.array([0.1, 0.01], np.float32)),
        create_scheduler(
            1, "step_decay", lr=0.1, warmup_epochs=0, decay_epochs=1, decay_rate=0.1, num_epochs=2
        ),
    ],
    ids=["list", "ndarray", "tensor", "scheduler"],
)
def test_per_step_learning_rates(lr):
    """Plain SGD moves each step by that step's rate times the gradient (scaled by 4 here)."""
    w = ms.Parameter(ms.Tensor(np.ones(2, np.float32)), name="w")
    opt = create_optimizer([w], "sgd", lr=lr, momentum=0.0, loss_scale=4.0)
    grad = (ms.Tensor(np.array([4.0, -8.0], np.float32)),)
    opt(grad)
    np.testing.assert_allclose(w.asnumpy(), [1 - 0.1, 1 + 0.2], rtol=1e-6)
    opt(grad)
    np.testing.assert_allclose(w.asnumpy(), [1 - 0.11, 1 + 0.22], rtol=1e-6)


def test_a_learning_rate_schedule_cell_is_kept():
    schedule = nn.CosineDecayLR(0.0, 0.1, 10)
    assert create_optimizer(tiny_net(), "momentum", lr=schedule).learning_rate is schedule


@pytest.mark.parametrize("weight_decay_filter, shrinks", [("disable", True), ("auto", False)])
def test_weight_decay_reaches_batchnorm_only_without_filter(weight_decay_filter, shrinks):
    net = tiny_net()
    gamma = net[1].gamma
    opt = create_optimizer(
        net, "sgd", lr=0.5, momentum=0.0, weight_decay=0.1, weight_decay_filter=weight_decay_filter
    )
    opt(tuple(ms.Tensor(np.zeros(p.shape, np.float32)) for p in opt.parameters))
    np.testing.assert_allclose(gamma.asnumpy(), np.full(8, 0.95 if shrinks else 1.0), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"opt": "adamm"}, "unknown optimizer 'adamm': did you mean 'adam'"),
        ({"lr": [[0.1, 0.2]]}, "lr must be a number or a non-empty list"),
        ({"lr": []}, "lr must be a number or a non-empty list"),
    ],
)
def test_bad_arguments_are_errors(kwargs, message):
    with pytest.raises(MindCVError, match=message):
        create_optimizer(tiny_net(), **kwargs)
