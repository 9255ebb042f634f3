"""mindcv/ops/blocked.py: nChw16c / nChw8c layout changes and BatchNorm against MindSpore's own ops,
and DenseNet's blocked dense blocks against plain ones (values, gradients, statistics, names)."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv.models import DenseNet, densenet
from mindcv.ops import (
    BlockedBatchNorm2d,
    ToBlocked,
    ToPlain,
    builtin_convolutions,
    channel_block,
    cpu_has_avx512,
    native_conv_library,
)
from mindcv.ops.pooling import OneDNNPool2d
from mindcv.ops.selftest import relative_error
from tests.scripts import run

TOLERANCE = 1e-5
library = native_conv_library()
pytestmark = pytest.mark.skipif(library is None, reason="native ops unavailable (see the warning above)")


def blocked(x):
    """NCHW numpy -> (N, C/B, H, W, B), the layout's definition, written independently of oneDNN."""
    n, c, h, w = x.shape
    b = channel_block(library)
    return x.reshape(n, c // b, b, h, w).transpose(0, 1, 3, 4, 2)


class _Loss(nn.Cell):
    """sum(cell(x) * dy): its gradient in x is the cell's backward of dy."""

    def __init__(self, cell, dy):
        super().__init__()
        self.cell, self.dy = cell, dy

    def construct(self, x):
        return (self.cell(x) * self.dy).sum()


def test_layout_changes_match_the_definition_and_are_each_others_gradient(mode):
    x = np.random.RandomState(0).randn(2, 32, 5, 7).astype(np.float32)
    to_blocked, to_plain = ToBlocked(library), ToPlain(library)
    y = to_blocked(ms.Tensor(x))
    np.testing.assert_array_equal(y.asnumpy(), blocked(x))
    np.testing.assert_array_equal(to_plain(y).asnumpy(), x)
    weight = np.random.RandomState(1).randn(*y.shape).astype(np.float32)
    grad = ms.grad(_Loss(to_blocked, ms.Tensor(weight)))(ms.Tensor(x))
    np.testing.assert_array_equal(blocked(grad.asnumpy()), weight)


@pytest.mark.parametrize("relu", [False, True], ids=["bn", "bn_relu"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_matches_batchnorm2d(mode, training, relu):
    rng = np.random.RandomState(0)
    x = (rng.randn(4, 32, 6, 6) * 3 + 1).astype(np.float32)
    dy = rng.randn(*x.shape).astype(np.float32)
    gamma, beta = rng.rand(32).astype(np.float32) + 0.5, rng.randn(32).astype(np.float32)
    ours = BlockedBatchNorm2d(library, 32, relu=relu)
    theirs = nn.SequentialCell([nn.BatchNorm2d(32), nn.ReLU() if relu else nn.Identity()])
    for norm in (ours, theirs[0]):
        norm.gamma.set_data(ms.Tensor(gamma))
        norm.beta.set_data(ms.Tensor(beta))
        norm.moving_mean.set_data(ms.Tensor(np.full(32, 0.3, np.float32)))
        norm.moving_variance.set_data(ms.Tensor(np.full(32, 2.0, np.float32)))
    results = []
    for cell, norm, data, grad_out in ((ours, ours, blocked(x), blocked(dy)), (theirs, theirs[0], x, dy)):
        cell.set_train(training)
        step = ms.value_and_grad(_Loss(cell, ms.Tensor(grad_out)), 0, [norm.gamma, norm.beta])
        loss, (dx, (dgamma, dbeta)) = step(ms.Tensor(data))
        dx = dx.asnumpy() if cell is theirs else dx.asnumpy().transpose(0, 1, 4, 2, 3).reshape(x.shape)
        stats = [norm.moving_mean.asnumpy(), norm.moving_variance.asnumpy()]
        results.append([loss.asnumpy(), dx, dgamma.asnumpy(), dbeta.asnumpy(), *stats])
    names = ["loss", "dx", "dgamma", "dbeta", "moving_mean", "moving_variance"]
    for name, a, b in zip(names, *results):
        assert relative_error(a, b) <= TOLERANCE, name
    moved = not np.allclose(results[0][4], 0.3)
    assert moved == training  # training updates the moving statistics, inference does not


def small(seed=0) -> DenseNet:
    ms.set_seed(seed)
    return DenseNet(growth_rate=16, block_config=(2, 2), num_init_features=32, bn_size=2, num_classes=5)


def plain_small(monkeypatch) -> DenseNet:
    """The same network with plain (NCHW) dense blocks: no channel count fits a block of 10**6."""
    with monkeypatch.context() as patch:
        patch.setattr(densenet, "channel_block", lambda library: 10**6)
        return small()


def batch():
    rng = np.random.RandomState(0)
    images, labels = rng.randn(4, 3, 32, 32).astype(np.float32), rng.randint(0, 5, 4).astype(np.int32)
    return ms.Tensor(images), ms.Tensor(labels)


def trained(network):
    """Loss, eval logits (on the moving statistics it updated) and their gradient with respect to
    the images (a saliency map: eval-mode ops have a gradient too), all gradients as one vector
    (a few BN gradients are ~1e-7 by cancellation, where float32 rounding alone differs by
    percents) and the moving statistics."""
    network.set_train(True)
    with_loss = nn.WithLossCell(network, nn.CrossEntropyLoss())
    step = ms.value_and_grad(with_loss, None, network.trainable_params())
    loss, grads = step(*batch())
    network.set_train(False)
    moving = [p.asnumpy() for p in network.get_parameters() if "moving" in p.name]
    everything = np.concatenate([g.asnumpy().ravel() for g in grads])
    images = batch()[0]
    saliency = ms.grad(network)(images).asnumpy()
    return [loss.asnumpy(), network(images).asnumpy(), saliency, everything, *moving]


@pytest.mark.slow
def test_densenet_blocks_work_blocked_and_equal_plain_blocks(mode, monkeypatch):
    ours, theirs = small(), plain_small(monkeypatch)
    # ours: blocked from the stem convolution's output on, norm0-relu0 one blocked op (relu0 an
    # identity whose feature_map is NCHW), NCHW at each block's end (a feature map), blocked
    # again in the transition; theirs: NCHW throughout
    stem = ours.features
    assert stem.conv0(batch()[0]).ndim == 5 and theirs.features.conv0(batch()[0]).ndim == 4
    assert isinstance(stem.norm0, BlockedBatchNorm2d) and isinstance(stem.relu0.to_plain, ToPlain)
    assert isinstance(stem.pool0, OneDNNPool2d)
    transition = ours.features.transition1
    assert isinstance(transition.to_blocked, ToBlocked) and isinstance(transition.features.pool, OneDNNPool2d)
    assert isinstance(ours.features.denseblock2.to_blocked, nn.Identity)
    assert isinstance(theirs.features.denseblock1.to_blocked, nn.Identity)
    assert not any(isinstance(c, OneDNNPool2d) for _, c in theirs.cells_and_names())
    names = [p.name for p in ours.get_parameters()]
    assert names == [p.name for p in theirs.get_parameters()]  # checkpoints interchange
    for a, b in zip(trained(ours), trained(theirs)):
        assert relative_error(a, b) <= TOLERANCE


def test_blocks_that_do_not_fit_stay_plain_and_recomputed_ones_blocked():
    odd = DenseNet(growth_rate=4, block_config=(2,), num_init_features=8, bn_size=2, num_classes=5)
    block = odd.features.denseblock1
    assert isinstance(block.to_blocked, nn.Identity)
    assert not any(isinstance(cell, BlockedBatchNorm2d) for _, cell in block.cells_and_names())
    recomputed = DenseNet(growth_rate=16, block_config=(2,), num_init_features=16, memory_efficient=True)
    assert isinstance(
        recomputed.features.norm0, BlockedBatchNorm2d
    )  # its chunks are blocked from the stem on


def test_builtin_convolutions_runs_every_blocked_cell_as_mindspore_ops(mode):
    native, builtin = small(), small(seed=1)
    ms.load_param_into_net(builtin, native.parameters_dict())
    x, _ = batch()
    for network in (native, builtin):
        network.set_train(False)
    with builtin_convolutions(builtin):
        cells = [cell for _, cell in builtin.cells_and_names() if hasattr(cell, "use_builtin")]
        assert {type(cell) for cell in cells} >= {ToBlocked, ToPlain, BlockedBatchNorm2d, OneDNNPool2d}
        assert all(cell.use_builtin for cell in cells)
        assert relative_error(builtin(x).asnumpy(), native(x).asnumpy()) <= TOLERANCE


BLOCK_PROBE = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).mindcv_channel_block())"


@pytest.mark.parametrize("cap", ["AVX2", "ALL"])
def test_the_channel_block_is_the_one_of_onednns_effective_isa(tmp_path, cap):
    """Not /proc/cpuinfo's: an AVX-512 CPU capped at AVX2 runs AVX2 kernels, which block by 8."""
    expected = 16 if cap == "ALL" and cpu_has_avx512() else 8
    result = run(["python", "-c", BLOCK_PROBE, library], tmp_path, ONEDNN_MAX_CPU_ISA=cap)
    assert result.stdout.split() == [str(expected)], result.stderr[-2000:]
