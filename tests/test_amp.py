"""mindcv/amp.py: the amp levels, bf16 convolutions on the native path, and its clear errors."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

import mindcv.ops
from mindcv.amp import AMP_LEVELS, apply_mixed_precision, resolve_loss_scale_type
from mindcv.engine.train_step import create_trainer
from mindcv.models import DenseNet
from mindcv.ops import OneDNNConv2d, use_bf16_convolutions
from mindcv.ops.selftest import relative_error
from mindcv.utils.errors import MindCVError
from tests.native_marks import needs_bf16, needs_native


def tiny(memory_efficient=False) -> DenseNet:
    ms.set_seed(0)
    return DenseNet(
        growth_rate=4,
        block_config=(2, 2),
        num_init_features=8,
        bn_size=2,
        num_classes=5,
        memory_efficient=memory_efficient,
    )


def batch():
    rng = np.random.RandomState(0)
    return ms.Tensor(rng.randn(4, 3, 32, 32).astype(np.float32)), ms.Tensor(
        rng.randint(0, 5, 4).astype(np.int32)
    )


def loss_and_gradients(network):
    x, labels = batch()
    step = ms.value_and_grad(
        nn.WithLossCell(network, nn.CrossEntropyLoss()), None, network.trainable_params()
    )
    loss, grads = step(x, labels)
    return float(loss.asnumpy()), np.concatenate([g.asnumpy().ravel() for g in grads])


def test_auto_loss_scale_is_dynamic_at_the_float16_levels_only():
    assert [resolve_loss_scale_type("auto", level) for level in AMP_LEVELS] == [
        "fixed", "dynamic", "dynamic", "dynamic", "fixed",
    ]  # fmt: skip
    assert resolve_loss_scale_type("fixed", "O2") == "fixed"
    assert resolve_loss_scale_type("dynamic", "O0") == "dynamic"


def test_an_unknown_level_is_one_clear_error():
    with pytest.raises(MindCVError, match="amp_level 'O4' is unknown: choose one of O0, O1, O2, O3, bf16"):
        apply_mixed_precision(nn.Dense(2, 2), "O4")


@needs_bf16
@pytest.mark.parametrize("memory_efficient", [False, True], ids=["plain", "recomputed"])
def test_bf16_computes_every_native_convolution_in_bfloat16(mode, memory_efficient):
    """Loss and gradients stay within bfloat16's rounding of float32's, and do change (bf16 ran).

    The recomputed bottleneck runs with its conv1's cfg, so switching conv1 switches it too: with
    it missed, the 1x1 convolutions' gradients would equal float32's.
    """
    fp32_loss, fp32_grads = loss_and_gradients(tiny(memory_efficient))
    network = tiny(memory_efficient)
    assert apply_mixed_precision(network, "bf16") is network
    convs = sum(isinstance(cell, OneDNNConv2d) for _, cell in network.cells_and_names())
    cfgs = [
        cell.cfg for _, cell in network.cells_and_names() if isinstance(getattr(cell, "cfg", None), ms.Tensor)
    ]
    assert cfgs and all(int(cfg.asnumpy()[2]) == 1 for cfg in cfgs)
    bf16_loss, bf16_grads = loss_and_gradients(network)
    assert bf16_loss == pytest.approx(fp32_loss, rel=1e-2)
    assert 1e-4 < relative_error(bf16_grads, fp32_grads) < 0.1
    assert convs == 10  # stem, 2 x 2 per dense layer in two blocks, one transition
    assert use_bf16_convolutions(network) == convs


@needs_bf16
def test_bf16_train_step_learns_without_a_loss_scale(mode):
    network = tiny()
    step = create_trainer(network, nn.CrossEntropyLoss(), nn.SGD(network.trainable_params(), 0.1), "bf16")
    step.set_train()
    x, labels = batch()
    losses = [float(step(x, labels)[0].asnumpy()) for _ in range(4)]
    assert losses[-1] < losses[0], losses


def test_bf16_without_the_native_path_says_what_to_do(monkeypatch):
    monkeypatch.setattr(mindcv.ops, "native_conv_library", lambda: None)
    with pytest.raises(MindCVError, match="needs the native oneDNN convolutions.*use --amp_level O0"):
        apply_mixed_precision(tiny(), "bf16")


def test_bf16_by_default_on_a_cpu_without_avx2_says_what_to_do(monkeypatch):
    monkeypatch.delenv("MINDCV_NATIVE_CONV", raising=False)
    monkeypatch.setattr(mindcv.ops, "native_conv_library", lambda: None)
    monkeypatch.setattr(mindcv.ops, "cpu_has_avx2", lambda: False)
    expected = "bf16 on CPU needs .* x86 CPUs with AVX2 only .*MINDCV_NATIVE_CONV=1.*use --amp_level O0"
    with pytest.raises(MindCVError, match=expected):
        apply_mixed_precision(tiny(), "bf16")


@needs_native
def test_bf16_on_a_cpu_without_bf16_convolutions_says_what_to_do(monkeypatch):
    monkeypatch.setattr(mindcv.ops, "native_bf16_supported", lambda: False)
    with pytest.raises(MindCVError, match="no oneDNN bfloat16 convolutions .*AVX-512.*use --amp_level O0"):
        apply_mixed_precision(tiny(), "bf16")


@needs_bf16
def test_bf16_on_a_network_without_native_convolutions_says_so():
    with pytest.raises(MindCVError, match="this network has none"):
        apply_mixed_precision(nn.SequentialCell([nn.Conv2d(3, 4, 3), nn.ReLU()]), "bf16")


def test_cast_list_outside_o1_o2_warns(caplog):
    apply_mixed_precision(nn.Dense(2, 2), "O0", "[nn.BatchNorm2d]")
    assert "amp_cast_list has no effect at amp_level O0" in caplog.text
