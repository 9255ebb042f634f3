"""DenseNet architecture: MindCV's parameter names, torchvision's counts, timm's interface."""

import logging

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

from mindcv.models import DenseNet, create_model, densenet
from mindcv.models.densenet import _Transition
from mindcv.ops import BlockedBatchNorm2d
from mindcv.ops.dense_bottleneck import RecomputedDenseBottleneck
from mindcv.ops.selftest import relative_error

CONFIGS = {  # name: (growth, blocks, stem channels, torchvision's trainable parameter count)
    "densenet121": (32, (6, 12, 24, 16), 64, 7_978_856),
    "densenet161": (48, (6, 12, 36, 24), 96, 28_681_000),
    "densenet169": (32, (6, 12, 32, 32), 64, 14_149_480),
    "densenet201": (32, (6, 12, 48, 32), 64, 20_013_928),
}


def tiny(**kwargs) -> DenseNet:
    """A 2-block DenseNet small enough to differentiate in a second."""
    return DenseNet(
        growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=5, **kwargs
    )


def inputs(batch=2, size=32, channels=3, seed=0):
    return ms.Tensor(np.random.RandomState(seed).randn(batch, channels, size, size).astype(np.float32))


def expected_shapes(growth, blocks, stem, num_classes=1000, bn_size=4):
    """Name -> shape of every parameter, written from MindCV's naming scheme."""
    shapes = {"features.conv0.weight": (stem, 3, 7, 7)}

    def bn(prefix, channels):
        for suffix in ("gamma", "beta", "moving_mean", "moving_variance"):
            shapes[f"{prefix}.{suffix}"] = (channels,)

    bn("features.norm0", stem)
    channels = stem
    for b, num_layers in enumerate(blocks, start=1):
        for i in range(num_layers):
            prefix = f"features.denseblock{b}.cell_list.{i}"
            bn(f"{prefix}.norm1", channels + i * growth)
            shapes[f"{prefix}.conv1.weight"] = (bn_size * growth, channels + i * growth, 1, 1)
            bn(f"{prefix}.norm2", bn_size * growth)
            shapes[f"{prefix}.conv2.weight"] = (growth, bn_size * growth, 3, 3)
        channels += num_layers * growth
        if b < len(blocks):
            bn(f"features.transition{b}.features.norm", channels)
            shapes[f"features.transition{b}.features.conv.weight"] = (channels // 2, channels, 1, 1)
            channels //= 2
    bn("features.norm5", channels)
    shapes["classifier.weight"] = (num_classes, channels)
    shapes["classifier.bias"] = (num_classes,)
    return shapes


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parameter_names_shapes_and_counts(name):
    growth, blocks, stem, count = CONFIGS[name]
    model = create_model(name)
    actual = {p.name: tuple(p.shape) for p in model.get_parameters()}
    assert actual == expected_shapes(growth, blocks, stem)
    assert sum(p.size for p in model.trainable_params()) == count
    assert not [n for n in actual if ".conv" in n and n.endswith("bias")]


@pytest.mark.parametrize("size", [32, 224])
def test_forward_shape(size):
    model = create_model("densenet121", num_classes=7)
    model.set_train(False)
    assert model(inputs(size=size)).shape == (2, 7)


def test_graph_and_pynative_agree(mode):
    ms.set_seed(1)
    model = tiny()
    model.set_train(False)
    out = model(inputs()).asnumpy()
    ms.set_context(mode=ms.PYNATIVE_MODE)
    np.testing.assert_allclose(model(inputs()).asnumpy(), out, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_head_interface(mode):
    model = tiny()
    model.set_train(False)
    features = model.forward_features(inputs())
    assert features.shape == (2, model.num_features, 4, 4)
    assert model.forward_head(features, pre_logits=True).shape == (2, model.num_features)
    assert model.get_classifier().weight.shape == (5, model.num_features)
    model.reset_classifier(3)
    assert model(inputs()).shape == (2, 3)
    assert model.classifier.weight.name == "classifier.weight"
    model.reset_classifier(0)
    assert model(inputs()).shape == (2, model.num_features)


def test_features_only_levels():
    model = create_model("densenet121", features_only=True)
    model.set_train(False)
    outs = model(inputs(size=64))
    assert [tuple(o.shape) for o in outs] == [
        (2, 64, 32, 32),
        (2, 256, 16, 16),
        (2, 512, 8, 8),
        (2, 1024, 4, 4),
        (2, 1024, 2, 2),
    ]
    assert [f["num_chs"] for f in model.feature_info] == [64, 256, 512, 1024, 1024]
    assert [f["reduction"] for f in model.feature_info] == [2, 4, 8, 16, 32]
    assert not [p for p in model.get_parameters() if p.name.startswith("classifier")]


def test_features_only_subset_in_graph_mode(mode):
    model = tiny(features_only=True, out_indices=(1, 2))
    model.set_train(False)
    assert [tuple(o.shape) for o in model(inputs())] == [(2, 16, 8, 8), (2, 16, 4, 4)]
    with pytest.raises(ValueError, match="out_indices"):
        tiny(features_only=True, out_indices=(3,))


def _train_step(model, x):
    """Loss and gradients of one training-mode step (a plain function: Graph mode parses it)."""
    model.set_train(True)

    def loss_fn(data):
        return (model(data) ** 2).mean()

    loss, grads = ms.value_and_grad(loss_fn, None, model.trainable_params())(x)
    return loss.asnumpy(), [g.asnumpy() for g in grads]


def build(name, **kwargs):
    """`tiny` (NCHW chunks: its channel counts fit no block) or `densenet_test` (blocked chunks)."""
    return tiny(**kwargs) if name == "tiny" else create_model(name, num_classes=5, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny", "densenet_test"])
def test_memory_efficient_matches_normal_gradients_and_statistics(mode, name):
    """Whole-network gradients, loss and moving statistics (updated once, not once more by the
    recomputation) equal the default path's, and so do eval-mode logits; the parameter names
    too, so checkpoints interchange."""
    # densenet_test at 64x64, not 32: at 32 its last block is 1x1, BatchNorm there normalizes 4
    # values per channel, and a 1e-7 relative change of the input moves the default path's own
    # gradients by 4e-5; at 64 by 5e-6 (so kernels that round differently, as the native
    # transition's BatchNorm on blocked chunks does, can meet 1e-5 at all)
    size = 64 if name == "densenet_test" else 32
    results = []
    for memory_efficient in (False, True):
        ms.set_seed(3)
        model = build(name, memory_efficient=memory_efficient)
        loss, grads = _train_step(model, inputs(batch=4, size=size))
        stats = {p.name: p.asnumpy() for p in model.get_parameters() if "moving" in p.name}
        names = [p.name for p in model.get_parameters()]
        model.set_train(False)  # eval mode on the chunks, with the moving statistics just updated
        logits = model(inputs(batch=4, size=size)).asnumpy()
        results.append((loss, np.concatenate([g.ravel() for g in grads]), stats, names, logits))
    (loss_a, grads_a, stats_a, names_a, logits_a), (loss_b, grads_b, stats_b, names_b, logits_b) = results
    assert names_b == names_a
    assert relative_error(loss_b, loss_a) <= 1e-5
    assert relative_error(logits_b, logits_a) <= 1e-5
    assert relative_error(grads_b, grads_a) <= 1e-5
    for name in stats_a:
        assert relative_error(stats_b[name], stats_a[name]) <= 1e-5, name


def test_memory_efficient_on_the_native_path_recomputes_from_the_chunks():
    """Each dense layer gets the block input and earlier outputs as chunks (kept once) and its
    bottleneck is the native op; the blocks stay in the blocked layout."""
    model = create_model("densenet_test", memory_efficient=True)
    block = model.features.denseblock1
    assert block.chunked and isinstance(model.features.norm0, BlockedBatchNorm2d)  # blocked from the stem on
    assert [layer.chunks for layer in block.cell_list] == [1, 2]
    for layer in block.cell_list:
        assert isinstance(layer.recomputed_bottleneck, RecomputedDenseBottleneck)
        assert isinstance(layer.recomputed_norm2_conv2, RecomputedDenseBottleneck)  # norm2's output not kept
    # the transitions take the chunks too: no concatenation, BN-ReLU or pooled tensor kept
    assert block.return_chunks and not model.features.denseblock4.return_chunks
    transition = model.features.transition1
    assert transition.chunks == 3 and isinstance(transition.recomputed, RecomputedDenseBottleneck)


def test_memory_efficient_eval_uses_moving_statistics():
    ms.set_seed(4)
    normal = tiny()
    ms.set_seed(4)
    efficient = tiny(memory_efficient=True)
    for model in (normal, efficient):
        model.set_train(False)
    np.testing.assert_allclose(efficient(inputs()).asnumpy(), normal(inputs()).asnumpy(), rtol=1e-5)


def test_drop_rate_is_active_only_in_training():
    model = tiny(drop_rate=0.5)
    model.set_train(True)
    assert not np.allclose(model(inputs()).asnumpy(), model(inputs()).asnumpy())
    model.set_train(False)
    np.testing.assert_array_equal(model(inputs()).asnumpy(), model(inputs()).asnumpy())
    assert any(isinstance(c, nn.Dropout) for _, c in model.cells_and_names())


def test_stem_pool_exports_without_argmax_maxpool():
    """The stem pool is a zero border + unpadded max-pool (ONNX-exportable), equal to -inf padding
    after ReLU; the border is concatenated because the CPU Pad kernel is slow."""
    model = tiny()
    pool = model.features.pool0
    assert not any(isinstance(c, nn.Pad) for _, c in pool.cells_and_names())
    assert pool[1].pad_mode.lower() == "valid"
    x = np.abs(np.random.RandomState(0).randn(1, 2, 6, 6).astype(np.float32))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    reference = np.array(
        [
            [
                [[padded[0, c, i : i + 3, j : j + 3].max() for j in range(0, 6, 2)] for i in range(0, 6, 2)]
                for c in range(2)
            ]
        ]
    )
    np.testing.assert_array_equal(pool(ms.Tensor(x)).asnumpy(), reference)


@pytest.mark.parametrize("memory_efficient", [False, True], ids=["default", "memory_efficient"])
def test_the_native_path_trains_under_o2_mixed_precision(mode, memory_efficient):
    """O2 marks every cell float16. PyNative then cast the inputs of every op to float16, which
    the native ops refused, and Graph mode cast their float32 cfg tensors (the seed's mpirun recipe
    is O2): they stay float32 cells (mindcv/ops/float32_cell.py)."""
    ms.set_seed(0)
    model = create_model("densenet_test", num_classes=3, memory_efficient=memory_efficient)
    ms.amp.auto_mixed_precision(model, "O2")
    model.set_train(True)

    def loss_fn(x):
        return model(x).astype(ms.float32).sum()

    loss, grads = ms.value_and_grad(loss_fn, None, model.trainable_params())(inputs(size=32))
    assert np.isfinite(loss.asnumpy()) and all(np.isfinite(g.asnumpy()).all() for g in grads)
    assert any(np.abs(g.asnumpy()).max() > 0 for g in grads)


@pytest.mark.slow
def test_o1_mixed_precision_compiles_in_graph_mode(mode, tmp_path, monkeypatch):
    """The block's Concat primitive keeps auto_mixed_precision O1 working (functional concat broke it)."""
    monkeypatch.chdir(tmp_path)  # O1 writes its rewritten network into ./rewritten_network
    model = tiny()
    model.set_train(False)
    ms.amp.auto_mixed_precision(model, "O1")
    out = model(inputs())
    assert out.shape == (2, 5) and np.isfinite(out.asnumpy()).all()


def test_memory_efficient_without_the_native_ops_warns_and_is_off(caplog, monkeypatch):
    """On MindSpore's own CPU kernels recomputation raised peak memory (measured), so it is off."""
    with caplog.at_level(logging.WARNING, logger="mindcv.models.densenet"):
        tiny(memory_efficient=True)
    assert not caplog.records  # the native ops are there: it saves memory, nothing to say
    monkeypatch.setattr(densenet, "_native_library", lambda: None)
    with caplog.at_level(logging.WARNING, logger="mindcv.models.densenet"):
        model = tiny(memory_efficient=True)
    assert any("memory_efficient=True is off" in r.getMessage() for r in caplog.records)
    assert not any(layer.memory_efficient for layer in model.features.denseblock1.cell_list)


class _ConvThenPool(nn.Cell):
    """The paper's transition order (torchvision's): BN-ReLU-Conv1x1, then the 2x2 average pool,
    on `transition`'s own parameters, with MindSpore's built-in ops."""

    def __init__(self, transition):
        super().__init__()
        self.norm, self.weight = transition.features.norm, transition.features.conv.weight

    def construct(self, x):
        y = ops.conv2d(ops.relu(self.norm(x)), self.weight)
        return ops.avg_pool2d(y, kernel_size=2, stride=2)


def _weighted_sum(net, dy):
    """(net(x) * dy).sum() and net(x): its gradient back-propagates dy (a plain function for Graph mode)."""

    def loss_fn(x):
        y = net(x)
        return (y * dy).sum(), y

    return loss_fn


def test_transition_pools_before_its_conv_with_the_old_order_s_values_and_gradients(mode):
    """Pooling first is a quarter of the conv's work; a bias-free 1x1 conv commutes with the pool."""
    ms.set_seed(5)
    transition = _Transition(32, 16)
    transition.set_train(True)
    x, dy = inputs(batch=4, size=16, channels=32), inputs(batch=4, size=8, channels=16, seed=1)
    params = transition.trainable_params()
    results = []
    for net in (transition, _ConvThenPool(transition)):
        (_, y), (dx, dparams) = ms.value_and_grad(_weighted_sum(net, dy), 0, params, has_aux=True)(x)
        results.append([t.asnumpy() for t in (y, dx, *dparams)])
    for new, old in zip(*results):
        assert np.linalg.norm(new - old) <= 1e-5 * np.linalg.norm(old)
