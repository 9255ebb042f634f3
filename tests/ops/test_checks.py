"""A shape, rank or dtype mismatch on the native ops is a Python error, never a crash: their shape
and dtype functions check first, and the C++ entry points check again and write nothing."""

import mindspore as ms
import numpy as np
import pytest

from mindcv.ops import (
    BlockedBatchNorm2d,
    OneDNNConv2d,
    ToBlocked,
    ToPlain,
    channel_block,
    native_conv_library,
    onednn_conv,
)
from tests.native_marks import needs_native
from tests.ops.native_calls import call

pytestmark = needs_native
library = native_conv_library()


def tensor(*shape, dtype=ms.float32):
    return ms.Tensor(np.random.RandomState(0).randn(*shape).astype(np.float32), dtype)


def test_a_blocked_output_whose_channels_do_not_fit_the_block_is_refused(mode):
    """It overflowed the heap: the output was sized by floor division, oneDNN wrote them all."""
    block = channel_block(library)
    conv = OneDNNConv2d(library, block, block + 4, 3, padding=1)
    with pytest.raises(ValueError, match="not a multiple of the channel block"):
        conv(tensor(2, 1, 6, 6, block))


@pytest.mark.parametrize(
    "shape, match",
    [((2, 8, 6), "must be an NCHW"), ((2, 4, 6, 6), "weight must be"), ((2, 1, 6, 6, 4), "must be an NCHW")],
    ids=["rank3", "channels", "block4"],
)
def test_convolution_shapes_are_checked(mode, shape, match):
    conv = OneDNNConv2d(library, 8, 8, 3, padding=1)
    with pytest.raises(ValueError, match=match):
        conv(tensor(*shape))


def test_a_kernel_larger_than_the_input_is_refused(mode):
    with pytest.raises(ValueError, match="kernel exceeds"):
        OneDNNConv2d(library, 8, 8, 7)(tensor(1, 8, 4, 4))


def test_convolution_dtypes_are_checked(mode):
    conv = OneDNNConv2d(library, 8, 8, 3, padding=1)
    with pytest.raises(TypeError, match="must be Float32"):
        conv.native_conv(tensor(1, 8, 6, 6, dtype=ms.float16), conv.weight, conv.cfg)


def test_a_gradient_that_is_no_output_of_x_is_refused():
    """The backward ops check dy against x and the weight (only a bug would hand them another)."""
    shape = onednn_conv._backward_shape("backward-data", like_weight=False, out_block=0)
    assert shape([1, 8, 6, 6], [16, 8, 3, 3], [1, 16, 6, 6], [3]) == [1, 8, 6, 6]
    with pytest.raises(ValueError, match="is no output of x"):
        shape([1, 8, 6, 6], [16, 8, 3, 3], [1, 8, 6, 6], [3])
    stem = onednn_conv._backward_shape("backward-data", like_weight=False, out_block=8)  # blocked output
    assert stem([1, 3, 6, 6], [16, 3, 3, 3], [1, 2, 6, 6, 8], [3]) == [1, 3, 6, 6]
    with pytest.raises(ValueError, match="is no output of x"):
        stem([1, 3, 6, 6], [16, 3, 3, 3], [1, 16, 6, 6], [3])


def test_layout_changes_and_batch_norm_shapes_are_checked(mode):
    block = channel_block(library)
    with pytest.raises(ValueError, match="not a multiple of the channel block"):
        ToBlocked(library)(tensor(1, block + 4, 3, 3))
    with pytest.raises(ValueError, match="must be blocked"):
        ToPlain(library)(tensor(1, block, 3, 3))
    with pytest.raises(ValueError, match=rf"gamma must have shape \[{block}\]"):
        BlockedBatchNorm2d(library, 2 * block)(tensor(2, 1, 3, 3, block))


def f32(*shape):
    return np.full(shape, 7.0, np.float32)


CFG = np.array([1, 1, 0], np.int32)  # stride 1, padding 1, float32
BN_CFG = np.array([1e-5, 0], np.float32)
FORWARD, DATA, WEIGHTS = "mindcv_conv_forward", "mindcv_conv_backward_data", "mindcv_conv_backward_weights"
X, W, Y = f32(1, 16, 6, 6), f32(8, 16, 3, 3), f32(1, 8, 6, 6)
# y, mean, var, ws: ws is 72 bytes, not the 36 (a bit per element) of a blocked BN-ReLU workspace
BN_OUT = f32(2, 2, 3, 3, 8), f32(16), f32(16), np.zeros(72, np.uint8)
POOL, STEM = "mindcv_pool_forward", np.array([1, 3, 2, 1], np.int32)  # max 3x3/2, pad 1
POOL_WS = np.zeros((9, 9, 3), np.uint8)  # (H, W, K) of a 9x9 input with 8 channels
# the stored bottleneck on two 16-channel chunks: gamma, beta, w (1x1), bn_cfg, conv_cfg
STORED = "mindcv_dense_bottleneck_stored"
CHUNKS = f32(1, 16, 6, 6), f32(1, 16, 6, 6)
STORED_PARAMS = (
    f32(32),
    f32(32),
    f32(8, 32, 1, 1),
    np.array([1e-5, 1], np.float32),
    np.array([1, 0, 0], np.int32),
)
STORED_OUT = f32(1, 8, 6, 6), f32(32), f32(32), f32(1, 32, 6, 6)  # y, mean, var, normed
MISMATCHES = {
    "blocked output of 12 channels": (
        FORWARD,
        f32(1, 2, 6, 6, 8),
        f32(12, 16, 3, 3),
        CFG,
        f32(1, 1, 6, 6, 8),
    ),
    "output of the wrong size": (FORWARD, X, W, CFG, f32(1, 8, 5, 5)),
    "blocked output of NCHW x, wrong size": (FORWARD, X, W, CFG, f32(1, 1, 5, 5, 8)),
    "NCHW output of blocked x": (FORWARD, f32(1, 2, 6, 6, 8), W, CFG, Y),
    "blocked dy of NCHW x, other channels": (WEIGHTS, X, W, f32(1, 2, 6, 6, 8), CFG, f32(8, 16, 3, 3)),
    "float64 input": (FORWARD, np.zeros((1, 16, 6, 6)), W, CFG, Y),
    "no output": (FORWARD, X, W, CFG),
    "weight of other channels": (FORWARD, X, f32(8, 8, 3, 3), CFG, Y),
    "rank-3 weight": (FORWARD, X, f32(8, 16, 9), CFG, Y),
    "stride 0": (FORWARD, X, W, np.array([0, 1, 0], np.int32), Y),
    "dy of other channels": (DATA, X, W, f32(1, 4, 6, 6), CFG, f32(1, 16, 6, 6)),
    "dw of another shape": (WEIGHTS, X, W, Y, CFG, f32(8, 16, 1, 1)),
    "gamma of other channels": ("mindcv_bn_forward", f32(2, 2, 3, 3, 8), f32(8), f32(16), BN_CFG, *BN_OUT),
    "y of another shape": ("mindcv_bn_inference", X, *[f32(16)] * 4, BN_CFG, f32(1, 16, 6, 5)),
    "ws of another size": ("mindcv_bn_forward", f32(2, 2, 3, 3, 8), f32(16), f32(16), BN_CFG, *BN_OUT),
    "block of 4": ("mindcv_to_blocked", f32(1, 16, 3, 3), f32(1, 4, 3, 3, 4)),
    "plain side of other channels": ("mindcv_to_plain", f32(1, 2, 3, 3, 8), f32(1, 8, 3, 3)),
    "pooled output of the wrong size": (POOL, f32(1, 8, 9, 9), STEM, f32(1, 8, 4, 4), POOL_WS),
    "pool ws of another height": (
        POOL,
        f32(1, 8, 9, 9),
        STEM,
        f32(1, 8, 5, 5),
        np.zeros((8, 9, 3), np.uint8),
    ),
    "pad as large as the window": (
        POOL,
        f32(1, 8, 9, 9),
        np.array([1, 3, 2, 3], np.int32),
        f32(1, 8, 7, 7),
        POOL_WS,
    ),
    "float32 pool cfg": (POOL, f32(1, 8, 9, 9), STEM.astype(np.float32), f32(1, 8, 5, 5), POOL_WS),
    # avg 2x2/2 on a width of 1: C++'s division rounds (1 - 2) / 2 + 1 up to one output column
    "window wider than the input": (
        POOL,
        f32(1, 8, 9, 1),
        np.array([0, 2, 2, 0], np.int32),
        f32(1, 8, 4, 1),
        np.zeros((9, 1, 1), np.uint8),
    ),
    "pool stride 0": (POOL, f32(1, 8, 9, 9), np.array([1, 3, 0, 1], np.int32), f32(1, 8, 5, 5), POOL_WS),
    "pool dx of another layout": ("mindcv_pool_backward", f32(1, 8, 5, 5), POOL_WS, STEM, f32(1, 1, 9, 9, 8)),
    "normed of the last chunk's channels": (
        STORED,
        *CHUNKS,
        *STORED_PARAMS,
        *STORED_OUT[:3],
        f32(1, 16, 6, 6),
    ),
    # the known statistics cover the 16 channels before the last chunk, not all 32
    "known statistics of every channel": (
        STORED + "_known",
        *CHUNKS,
        *STORED_PARAMS,
        f32(32),
        f32(32),
        *STORED_OUT,
    ),
    "stored backward's mean of another length": (
        STORED + "_backward",
        *CHUNKS,
        *STORED_PARAMS,
        f32(16),
        f32(32),
        f32(1, 32, 6, 6),
        f32(1, 8, 6, 6),
        *CHUNKS,
        *STORED_PARAMS[:3],
    ),
}


@pytest.mark.parametrize("entry, arrays", [(c[0], c[1:]) for c in MISMATCHES.values()], ids=MISMATCHES)
def test_the_library_refuses_a_mismatch_and_writes_nothing(capfd, entry, arrays):
    before = [a.copy() for a in arrays]
    assert call(entry, *arrays) == 1
    assert all(np.array_equal(a, b) for a, b in zip(arrays, before))
    assert "mindcv native op:" in capfd.readouterr().err


def test_the_library_runs_what_it_checked():
    x, y = f32(1, 16, 6, 6), f32(1, 8, 6, 6)
    assert call(FORWARD, x, np.ones((8, 16, 3, 3), np.float32), CFG, y) == 0
    assert y[0, 0, 2, 2] == 7.0 * 16 * 9
    blocked_y = f32(1, 1, 6, 6, 8)  # NCHW x, blocked y: the stem's
    assert call(FORWARD, x, np.ones((8, 16, 3, 3), np.float32), CFG, blocked_y) == 0
    assert blocked_y[0, 0, 2, 2, 3] == 7.0 * 16 * 9
