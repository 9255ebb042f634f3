"""Optimizer state saved after training steps comes back through `checkpoint_path`."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv import MindCVError
from mindcv.optim import create_optimizer, optimizer_state


def tiny_net():
    return nn.SequentialCell([nn.Dense(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3)])


@pytest.fixture
def trained_adam(tmp_path):
    """An Adam optimizer after two training steps, and the checkpoint it was saved to."""
    ms.set_seed(0)
    net = tiny_net()
    opt = create_optimizer(net, "adam", lr=[0.1, 0.1, 0.1, 0.1], weight_decay=1e-3)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), opt)
    x = ms.Tensor(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    y = ms.Tensor(np.arange(8, dtype=np.int32) % 3)
    step(x, y)
    step(x, y)
    path = tmp_path / "optim.ckpt"
    ms.save_checkpoint(opt, str(path))
    return opt, path


def test_restores_moments_step_and_beta_powers(trained_adam):
    saved, path = trained_adam
    restored = create_optimizer(tiny_net(), "adam", lr=0.01, weight_decay=1e-3, checkpoint_path=str(path))
    state = optimizer_state(restored)
    assert {"global_step", "beta1_power", "beta2_power", "moment1.0.weight", "moment2.3.bias"} <= set(state)
    assert state["global_step"].asnumpy()[0] == 2
    for name, param in optimizer_state(saved).items():
        np.testing.assert_array_equal(state[name].asnumpy(), param.asnumpy(), err_msg=name)
    assert np.abs(state["moment1.0.weight"].asnumpy()).sum() > 0
    assert restored.learning_rate.asnumpy() == pytest.approx(0.01)  # from the argument, not the file


def test_missing_checkpoint_is_an_error(tmp_path):
    with pytest.raises(MindCVError, match="does not exist"):
        create_optimizer(tiny_net(), checkpoint_path=str(tmp_path / "nope.ckpt"))


def test_state_of_another_optimizer_is_an_error(trained_adam):
    _, path = trained_adam
    with pytest.raises(MindCVError, match="not hold the state of this Momentum: missing moments.0.weight"):
        create_optimizer(tiny_net(), "momentum", checkpoint_path=str(path))


def test_state_of_another_model_is_an_error(trained_adam):
    _, path = trained_adam
    other = nn.SequentialCell([nn.Dense(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dense(5, 3)])
    with pytest.raises(MindCVError, match=r"moment1.0.weight \(8, 4\) vs \(5, 4\)"):
        create_optimizer(other, "adam", checkpoint_path=str(path))
