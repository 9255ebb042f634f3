"""mindcv/ops/dense_bottleneck.py: the recomputed, the stored and the eval-mode (fixed) bottleneck
ops against MindSpore's own ops (concat, BatchNorm2d, ReLU, Conv2d), in NCHW and blocked chunks,
with the 1x1 convolution of a bottleneck and the 3x3 one of a dense layer's second half, and
their input checks."""

import functools

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

from mindcv.ops import channel_block, native_conv_library
from mindcv.ops.dense_bottleneck import FixedDenseBottleneck, RecomputedDenseBottleneck, StoredDenseBottleneck
from mindcv.ops.selftest import relative_error

TOLERANCE = 1e-5
library = native_conv_library()
pytestmark = pytest.mark.skipif(library is None, reason="native ops unavailable (see the warning above)")
CHANNELS, OUT = (32, 16, 16), 16  # a block input and two growth-16 chunks: multiples of 8 and 16


def blocked(x):
    """NCHW numpy -> (N, C/B, H, W, B), the layout's definition, written independently of oneDNN."""
    n, c, h, w = x.shape
    b = channel_block(library)
    return np.ascontiguousarray(x.reshape(n, c // b, b, h, w).transpose(0, 1, 3, 4, 2))


def plain(x):
    n, blocks, h, w, b = x.shape
    return x.transpose(0, 1, 4, 2, 3).reshape(n, blocks * b, h, w)


class Builtin(nn.Cell):
    """sum(conv1x1(relu(bn(concat(chunks)))) * dy) on MindSpore's own ops."""

    def __init__(self, gamma, beta, weight):
        super().__init__()
        self.norm = nn.BatchNorm2d(len(gamma), gamma_init=ms.Tensor(gamma), beta_init=ms.Tensor(beta))
        self.conv = nn.Conv2d(len(gamma), len(weight), 1, has_bias=False, weight_init=ms.Tensor(weight))
        self.concat = ops.Concat(axis=1)

    def construct(self, a, b, c, dy):
        return (self.conv(ops.relu(self.norm(self.concat((a, b, c))))) * dy).sum()


class Native(nn.Cell):
    def __init__(self, gamma, beta, weight):
        super().__init__()
        self.op = RecomputedDenseBottleneck(library, len(CHANNELS), 1e-5)
        self.gamma, self.beta = ms.Parameter(ms.Tensor(gamma)), ms.Parameter(ms.Tensor(beta))
        self.weight = ms.Parameter(ms.Tensor(weight))
        self.cfg = ms.Tensor([1, 0, 0], ms.int32)

    def construct(self, a, b, c, dy):
        y, mean, var = self.op((a, b, c), self.gamma, self.beta, self.weight, self.cfg)
        return (y * dy).sum(), mean, var


def operands(seed=0):
    rng = np.random.default_rng(seed)
    chunks = [(rng.standard_normal((2, c, 5, 5)) * 2 + 1).astype(np.float32) for c in CHANNELS]
    total = sum(CHANNELS)
    gamma, beta = (rng.standard_normal(total).astype(np.float32) for _ in range(2))
    weight = rng.standard_normal((OUT, total, 1, 1)).astype(np.float32)
    return chunks, gamma, beta, weight, rng.standard_normal((2, OUT, 5, 5)).astype(np.float32)


def assert_native_matches_builtin(builtin_cell, native_cell, chunks, gamma, beta, weight, dy, layout):
    """The native cell's loss, batch statistics and gradients (chunks, gamma, beta, weight) equal
    the built-in cell's, with the chunks and dy given in `layout`."""
    to, back = (blocked, plain) if layout == "blocked" else (np.asarray, np.asarray)
    builtin = builtin_cell(gamma, beta, weight)
    builtin.set_train(True)
    grad = ms.value_and_grad(builtin, (0, 1, 2), builtin.trainable_params())
    loss, (dchunks, dparams) = grad(*map(ms.Tensor, chunks), ms.Tensor(dy))

    native = native_cell(gamma, beta, weight)
    grad = ms.value_and_grad(native, (0, 1, 2), native.trainable_params(), has_aux=True)
    (native_loss, mean, var), (native_dchunks, native_dparams) = grad(
        *(ms.Tensor(to(c)) for c in chunks), ms.Tensor(to(dy))
    )
    concat = np.concatenate(chunks, axis=1)
    assert relative_error(native_loss.asnumpy(), loss.asnumpy()) <= TOLERANCE
    assert relative_error(mean.asnumpy(), concat.mean(axis=(0, 2, 3))) <= TOLERANCE
    assert relative_error(var.asnumpy(), concat.var(axis=(0, 2, 3))) <= TOLERANCE  # biased, as BN uses
    for ours, theirs in zip(native_dchunks, dchunks):
        assert relative_error(back(ours.asnumpy()), theirs.asnumpy()) <= TOLERANCE
    for ours, theirs in zip(native_dparams, dparams):  # gamma, beta, weight
        assert relative_error(ours.asnumpy(), theirs.asnumpy()) <= TOLERANCE


@pytest.mark.parametrize("layout", ["nchw", "blocked"])
def test_values_gradients_and_statistics_match_mindspore_ops(mode, layout):
    chunks, gamma, beta, weight, dy = operands()
    assert_native_matches_builtin(Builtin, Native, chunks, gamma, beta, weight, dy, layout)


class NativeStored(Native):
    """The stored op (the default dense layer's), given the first two chunks' statistics or not."""

    def __init__(self, gamma, beta, weight, known=None):
        super().__init__(gamma, beta, weight)
        self.op = StoredDenseBottleneck(library, len(CHANNELS), 1e-5, known=known is not None)
        self.known = tuple(map(ms.Tensor, known)) if known else (None, None)

    def construct(self, a, b, c, dy):
        y, mean, var = self.op((a, b, c), self.gamma, self.beta, self.weight, self.cfg, *self.known)
        return (y * dy).sum(), mean, var


@pytest.mark.parametrize("layout", ["nchw", "blocked"])
@pytest.mark.parametrize("known", [False, True], ids=["computed_statistics", "known_statistics"])
def test_stored_op_matches_mindspore_ops(mode, layout, known):
    chunks, gamma, beta, weight, dy = operands()
    first_two = np.concatenate(chunks[:2], axis=1)
    statistics = (first_two.mean(axis=(0, 2, 3)), first_two.var(axis=(0, 2, 3))) if known else None
    native = functools.partial(NativeStored, known=statistics)
    assert_native_matches_builtin(Builtin, native, chunks, gamma, beta, weight, dy, layout)


def test_stored_op_uses_the_known_statistics_as_given():
    """Known statistics are taken, not computed again: what the op returns for those channels is
    what it was given (here deliberately not the chunks' own), and the last chunk's are computed."""
    chunks, gamma, beta, weight, dy = operands()
    known = (np.full(48, 0.5, np.float32), np.full(48, 2.0, np.float32))
    _, mean, var = NativeStored(gamma, beta, weight, known)(*map(ms.Tensor, chunks), ms.Tensor(dy))
    assert np.array_equal(mean.asnumpy()[:48], known[0]) and np.array_equal(var.asnumpy()[:48], known[1])
    assert relative_error(mean.asnumpy()[48:], chunks[2].mean(axis=(0, 2, 3))) <= TOLERANCE
    assert relative_error(var.asnumpy()[48:], chunks[2].var(axis=(0, 2, 3))) <= TOLERANCE


def test_stored_op_refuses_known_statistics_of_another_length():
    chunks, gamma, beta, weight, _ = operands()
    op = StoredDenseBottleneck(library, 3, 1e-5, known=True)
    params = ms.Tensor(gamma), ms.Tensor(beta), ms.Tensor(weight), ms.Tensor([1, 0, 0], ms.int32)
    wrong = ms.Tensor(np.zeros(64, np.float32))  # all 64 channels, not the 48 before the last chunk
    with pytest.raises(ValueError, match=r"DenseBottleneck: known_mean must have shape \[48\]"):
        op(tuple(map(ms.Tensor, chunks)), *params, wrong, wrong)


def test_mismatched_chunks_are_a_clear_error():
    chunks, gamma, beta, weight, _ = operands()
    op = RecomputedDenseBottleneck(library, 2, 1e-5)
    cfg = ms.Tensor([1, 0, 0], ms.int32)
    params = ms.Tensor(gamma[:48]), ms.Tensor(beta[:48]), ms.Tensor(weight[:, :48]), cfg
    short = ms.Tensor(chunks[1][:, :, :4])  # another height
    with pytest.raises(ValueError, match="DenseBottleneck: the chunks differ"):
        op((ms.Tensor(chunks[0]), short), *params)
    with pytest.raises(ValueError, match=r"DenseBottleneck: gamma must have shape \[48\]"):
        op(tuple(map(ms.Tensor, chunks[:2])), ms.Tensor(gamma), ms.Tensor(beta), ms.Tensor(weight), cfg)
    with pytest.raises(TypeError, match="DenseBottleneck: input 0 must be Float32"):
        halves = tuple(ms.Tensor(c, ms.float16) for c in chunks[:2])
        op(halves, *params)


class Builtin3x3(nn.Cell):
    """sum(conv3x3(relu(bn(x))) * dy) on MindSpore's own ops: a dense layer's second half."""

    def __init__(self, gamma, beta, weight):
        super().__init__()
        self.norm = nn.BatchNorm2d(len(gamma), gamma_init=ms.Tensor(gamma), beta_init=ms.Tensor(beta))
        init = ms.Tensor(weight)
        self.conv = nn.Conv2d(
            len(gamma), len(weight), 3, pad_mode="pad", padding=1, has_bias=False, weight_init=init
        )

    def construct(self, x, dy):
        return (self.conv(ops.relu(self.norm(x))) * dy).sum()


class Native3x3(nn.Cell):
    def __init__(self, gamma, beta, weight):
        super().__init__()
        self.op = RecomputedDenseBottleneck(library, 1, 1e-5)
        self.gamma, self.beta = ms.Parameter(ms.Tensor(gamma)), ms.Parameter(ms.Tensor(beta))
        self.weight = ms.Parameter(ms.Tensor(weight))
        self.cfg = ms.Tensor([1, 1, 0], ms.int32)

    def construct(self, x, dy):
        y, mean, var = self.op((x,), self.gamma, self.beta, self.weight, self.cfg)
        return (y * dy).sum(), mean, var


@pytest.mark.parametrize("layout", ["nchw", "blocked"])
def test_one_chunk_3x3_matches_mindspore_ops(mode, layout):
    """norm2 -> relu2 -> conv2 as the op on one chunk: values, gradients and statistics."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 16, 5, 5)) * 2 + 1).astype(np.float32)
    gamma, beta = (rng.standard_normal(16).astype(np.float32) for _ in range(2))
    weight = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 16, 5, 5)).astype(np.float32)
    to, back = (blocked, plain) if layout == "blocked" else (np.asarray, np.asarray)
    builtin = Builtin3x3(gamma, beta, weight)
    builtin.set_train(True)
    grad = ms.value_and_grad(builtin, 0, builtin.trainable_params())
    loss, (dx, dparams) = grad(ms.Tensor(x), ms.Tensor(dy))

    native = Native3x3(gamma, beta, weight)
    grad = ms.value_and_grad(native, 0, native.trainable_params(), has_aux=True)
    (native_loss, mean, var), (native_dx, native_dparams) = grad(ms.Tensor(to(x)), ms.Tensor(to(dy)))
    assert relative_error(native_loss.asnumpy(), loss.asnumpy()) <= TOLERANCE
    assert relative_error(mean.asnumpy(), x.mean(axis=(0, 2, 3))) <= TOLERANCE
    assert relative_error(var.asnumpy(), x.var(axis=(0, 2, 3))) <= TOLERANCE
    assert relative_error(back(native_dx.asnumpy()), dx.asnumpy()) <= TOLERANCE
    for ours, theirs in zip(native_dparams, dparams):  # gamma, beta, weight
        assert relative_error(ours.asnumpy(), theirs.asnumpy()) <= TOLERANCE


def test_padding_must_keep_the_size(capfd):
    """A 3x3 kernel with padding 0 would shrink y: the op refuses it before writing (cfg values
    are read at run time, so the refusal is the kernel's error and its reason on stderr)."""
    op = RecomputedDenseBottleneck(library, 1, 1e-5)
    x = ms.Tensor(np.ones((2, 16, 5, 5), np.float32))
    params = ms.Tensor(np.ones(16, np.float32)), ms.Tensor(np.zeros(16, np.float32))
    weight = ms.Tensor(np.ones((8, 16, 3, 3), np.float32))
    with pytest.raises(RuntimeError):
        op((x,), *params, weight, ms.Tensor([1, 0, 0], ms.int32))[0].asnumpy()
    assert "conv_cfg must hold stride 1, padding S / 2" in capfd.readouterr().err


class BuiltinTransition(nn.Cell):
    """sum(conv1x1(avgpool2x2(relu(bn(concat(chunks))))) * dy) on MindSpore's own ops: a
    transition layer (densenet.py's _Transition) on a block's chunks."""

    def __init__(self, gamma, beta, weight):
        super().__init__()
        self.norm = nn.BatchNorm2d(len(gamma), gamma_init=ms.Tensor(gamma), beta_init=ms.Tensor(beta))
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        self.conv = nn.Conv2d(len(gamma), len(weight), 1, has_bias=False, weight_init=ms.Tensor(weight))
        self.concat = ops.Concat(axis=1)

    def construct(self, a, b, c, dy):
        return (self.conv(self.pool(ops.relu(self.norm(self.concat((a, b, c)))))) * dy).sum()


class NativeTransition(Native):
    def __init__(self, gamma, beta, weight):
        super().__init__(gamma, beta, weight)
        self.op = RecomputedDenseBottleneck(library, len(CHANNELS), 1e-5, pool=True)


class NativeStoredTransition(NativeStored):
    """The stored transition (the default path's), given the first two chunks' statistics or not."""

    def __init__(self, gamma, beta, weight, known=None):
        super().__init__(gamma, beta, weight, known)
        self.op = StoredDenseBottleneck(library, len(CHANNELS), 1e-5, known=known is not None, pool=True)


def transition_cell(variant, chunks):
    """The recomputed transition, or the stored one, given the statistics of all chunks but the
    last ("stored", as densenet.py's) or computing them all ("stored_unknown")."""
    if variant == "recomputed":
        return NativeTransition
    if variant == "stored_unknown":
        return NativeStoredTransition
    first = np.concatenate(chunks[:-1], axis=1)
    known = first.mean(axis=(0, 2, 3)), first.var(axis=(0, 2, 3))
    return functools.partial(NativeStoredTransition, known=known)


@pytest.mark.parametrize("variant", ["recomputed", "stored", "stored_unknown"])
@pytest.mark.parametrize("layout", ["nchw", "blocked"])
@pytest.mark.parametrize("size", [(6, 6), (5, 7)])  # odd: the last row or column is in no window
def test_transition_matches_mindspore_ops(mode, layout, size, variant):
    """pool=True: BN-ReLU-AvgPool-Conv1x1 of the chunks, values, gradients and statistics."""
    rng = np.random.default_rng(2)
    h, w = size
    chunks = [(rng.standard_normal((2, c, h, w)) * 2 + 1).astype(np.float32) for c in CHANNELS]
    total = sum(CHANNELS)
    gamma, beta = (rng.standard_normal(total).astype(np.float32) for _ in range(2))
    weight = rng.standard_normal((OUT, total, 1, 1)).astype(np.float32)
    dy = rng.standard_normal((2, OUT, h // 2, w // 2)).astype(np.float32)
    native = transition_cell(variant, chunks)
    assert_native_matches_builtin(BuiltinTransition, native, chunks, gamma, beta, weight, dy, layout)


def test_transition_needs_a_1x1_weight():
    chunks, gamma, beta, _, _ = operands()
    op = RecomputedDenseBottleneck(library, len(CHANNELS), 1e-5, pool=True)
    weight = ms.Tensor(np.ones((OUT, sum(CHANNELS), 3, 3), np.float32))
    cfg = ms.Tensor([1, 1, 0], ms.int32)
    with pytest.raises(ValueError, match="DenseBottleneck: a transition needs a 1x1 weight"):
        op(tuple(map(ms.Tensor, chunks)), ms.Tensor(gamma), ms.Tensor(beta), weight, cfg)


def off_the_relu_kink(chunks, gamma, beta):
    """The chunks with every value whose BN output lies within 1e-3 of 0 moved to 0.01 above it.

    MindSpore's BatchNorm and the op round differently, so where the BN output is within
    rounding of 0 the ReLU's gradient (0 or the whole upstream gradient) can go either way: at
    9.4 million values, one did, a relative error of 4e-4 in its chunk's gradient.
    """
    x = np.concatenate(chunks, axis=1).astype(np.float64)
    sigma = np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    g, b = gamma.reshape(1, -1, 1, 1).astype(np.float64), beta.reshape(1, -1, 1, 1)
    y = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / sigma * g + b
    x = np.where(np.abs(y) < 1e-3, x + (0.01 - y) * sigma / g, x).astype(np.float32)
    return np.split(x, np.cumsum([c.shape[1] for c in chunks])[:-1], axis=1)


@pytest.mark.parametrize("op", ["bottleneck", "recomputed_transition", "stored_transition"])
def test_a_batch_rebuilt_in_slices_matches_mindspore_ops(op):
    """At 192x192 an image's concatenation of 64 channels is 9.4 MB, so the op rebuilds it (and
    recomputes the ReLU's gradient) 3 images at a time within its 32 MB: a batch of 4 is a slice
    of 3 and one of 1, and the weights' gradient is summed over them. The stored transition
    writes and reads its pooled tensor a slice at a time too."""
    rng = np.random.default_rng(3)
    chunks = [(rng.standard_normal((4, c, 192, 192)) * 2 + 1).astype(np.float32) for c in CHANNELS]
    total = sum(CHANNELS)
    gamma, beta = (rng.standard_normal(total).astype(np.float32) for _ in range(2))
    chunks = off_the_relu_kink(chunks, gamma, beta)
    weight = rng.standard_normal((OUT, total, 1, 1)).astype(np.float32)
    if op == "bottleneck":
        builtin, native, side = Builtin, Native, 192
    else:
        builtin, native, side = BuiltinTransition, transition_cell(op.split("_")[0], chunks), 96
    dy = rng.standard_normal((4, OUT, side, side)).astype(np.float32)
    assert_native_matches_builtin(builtin, native, chunks, gamma, beta, weight, dy, "blocked")


class BuiltinEval(nn.Cell):
    """sum(conv(pool?(relu(bn(concat(chunks))))) * dy) on MindSpore's own ops, BatchNorm in eval
    mode on the given moving statistics."""

    def __init__(self, gamma, beta, weight, mean, var, pool):
        super().__init__()
        self.norm = nn.BatchNorm2d(
            len(gamma),
            gamma_init=ms.Tensor(gamma),
            beta_init=ms.Tensor(beta),
            moving_mean_init=ms.Tensor(mean),
            moving_var_init=ms.Tensor(var),
        )
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2) if pool else nn.Identity()
        size = weight.shape[2]
        self.conv = nn.Conv2d(
            len(gamma),
            len(weight),
            size,
            pad_mode="pad",
            padding=size // 2,
            has_bias=False,
            weight_init=ms.Tensor(weight),
        )
        self.concat = ops.Concat(axis=1)

    def construct(self, a, b, c, dy):
        return (self.conv(self.pool(ops.relu(self.norm(self.concat((a, b, c)))))) * dy).sum()


class NativeEval(nn.Cell):
    def __init__(self, gamma, beta, weight, mean, var, pool):
        super().__init__()
        self.op = FixedDenseBottleneck(library, len(CHANNELS), 1e-5, pool=pool)
        self.gamma, self.beta = ms.Parameter(ms.Tensor(gamma)), ms.Parameter(ms.Tensor(beta))
        self.weight = ms.Parameter(ms.Tensor(weight))
        self.mean = ms.Parameter(ms.Tensor(mean), requires_grad=False)
        self.var = ms.Parameter(ms.Tensor(var), requires_grad=False)
        size = weight.shape[2]
        self.cfg = ms.Tensor([1, size // 2, 0], ms.int32)

    def construct(self, a, b, c, dy):
        y = self.op((a, b, c), self.gamma, self.beta, self.weight, self.cfg, self.mean, self.var)
        return (y * dy).sum()


@pytest.mark.parametrize("layout", ["nchw", "blocked"])
@pytest.mark.parametrize("kind", ["bottleneck", "3x3", "transition"])
def test_fixed_op_matches_eval_mode_mindspore_ops(mode, layout, kind):
    """Eval mode: BatchNorm on given moving statistics (not the batch's), values and gradients
    of the chunks, gamma, beta and the weight (an input gradient of a model in eval mode)."""
    rng = np.random.default_rng(4)
    h, w = (6, 7) if kind == "transition" else (5, 5)
    chunks = [(rng.standard_normal((2, c, h, w)) * 2 + 1).astype(np.float32) for c in CHANNELS]
    total = sum(CHANNELS)
    gamma, beta = (rng.standard_normal(total).astype(np.float32) for _ in range(2))
    mean = rng.standard_normal(total).astype(np.float32)  # not the chunks' own: they must not be used
    var = rng.uniform(0.5, 4.0, total).astype(np.float32)
    size, pool = (3, False) if kind == "3x3" else (1, kind == "transition")
    weight = rng.standard_normal((OUT, total, size, size)).astype(np.float32)
    scale = 2 if pool else 1
    dy = rng.standard_normal((2, OUT, h // scale, w // scale)).astype(np.float32)
    to, back = (blocked, plain) if layout == "blocked" else (np.asarray, np.asarray)

    builtin = BuiltinEval(gamma, beta, weight, mean, var, pool)
    builtin.set_train(False)
    grad = ms.value_and_grad(builtin, (0, 1, 2), builtin.trainable_params())
    loss, (dchunks, dparams) = grad(*map(ms.Tensor, chunks), ms.Tensor(dy))
    native = NativeEval(gamma, beta, weight, mean, var, pool)
    native.set_train(False)
    grad = ms.value_and_grad(native, (0, 1, 2), native.trainable_params())
    native_loss, (native_dchunks, native_dparams) = grad(
        *(ms.Tensor(to(c)) for c in chunks), ms.Tensor(to(dy))
    )

    assert relative_error(native_loss.asnumpy(), loss.asnumpy()) <= TOLERANCE
    for ours, theirs in zip(native_dchunks, dchunks):
        assert relative_error(back(ours.asnumpy()), theirs.asnumpy()) <= TOLERANCE
    assert len(native_dparams) == len(dparams) == 3  # gamma, beta, weight
    for ours, theirs in zip(native_dparams, dparams):
        assert relative_error(ours.asnumpy(), theirs.asnumpy()) <= TOLERANCE
