"""mindcv/ops/pooling.py: oneDNN max and average pooling against MindSpore's own pooling cells
(values and input gradients, NCHW and blocked, Graph and PyNative), and its refusals."""

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv.models.densenet import _ZeroBorder
from mindcv.ops import channel_block, native_conv_library
from mindcv.ops.pooling import OneDNNPool2d
from mindcv.ops.selftest import relative_error

from .native_calls import call
from .test_blocked import _Loss, blocked

TOLERANCE = 1e-6
library = native_conv_library()
pytestmark = pytest.mark.skipif(library is None, reason="native ops unavailable (see the warning above)")


def plain(x):
    """(N, C/B, H, W, B) numpy -> NCHW."""
    n, blocks, h, w, b = x.shape
    return x.transpose(0, 1, 4, 2, 3).reshape(n, blocks * b, h, w)


# DenseNet's stem pool (a zero border then 3x3/2, as -inf padding 1 after its ReLU) and its
# transitions' 2x2/2 average pool, on an odd size whose last row and column the pool drops.
WINDOWS = {
    "stem_max": (lambda: nn.SequentialCell([_ZeroBorder(), nn.MaxPool2d(3, 2)]), (3, 2, 1, True), 9),
    "transition_avg": (lambda: nn.AvgPool2d(2, 2), (2, 2, 0, False), 7),
}


@pytest.mark.parametrize("layout", ["nchw", "blocked"])
@pytest.mark.parametrize("window", WINDOWS)
def test_pooling_matches_mindsporess_cells(mode, window, layout):
    make_builtin, (kernel, stride, padding, max_pool), size = WINDOWS[window]
    rng = np.random.RandomState(0)
    channels = 2 * channel_block(library)
    x = (rng.rand(3, channels, size, size) + 0.1).astype(np.float32)  # > 0 as after a ReLU; no ties
    builtin = make_builtin()
    expected = builtin(ms.Tensor(x)).asnumpy()
    dy = rng.randn(*expected.shape).astype(np.float32)
    expected_dx = ms.grad(_Loss(builtin, ms.Tensor(dy)))(ms.Tensor(x)).asnumpy()

    ours = OneDNNPool2d(library, make_builtin(), kernel, stride, padding, max_pool=max_pool)
    to_layout, from_layout = (blocked, plain) if layout == "blocked" else (np.asarray, np.asarray)
    for training in (True, False):  # inference mode is differentiable too
        ours.set_train(training)
        y = ours(ms.Tensor(to_layout(x))).asnumpy()
        dx = ms.grad(_Loss(ours, ms.Tensor(to_layout(dy))))(ms.Tensor(to_layout(x))).asnumpy()
        assert y.ndim == x.ndim + (layout == "blocked")
        assert relative_error(from_layout(y), expected) <= TOLERANCE
        assert relative_error(from_layout(dx), expected_dx) <= TOLERANCE


def test_pooling_runs_its_builtin_cell_for_export(mode):
    ours = OneDNNPool2d(library, nn.AvgPool2d(2, 2), 2, 2, max_pool=False)
    ours.use_builtin = True
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(ours(ms.Tensor(x)).asnumpy(), [[[[2.5, 4.5], [10.5, 12.5]]]])


def test_a_window_larger_than_the_input_is_refused(mode):
    pool = OneDNNPool2d(library, nn.MaxPool2d(3, 2), 3, 2)
    with pytest.raises(ValueError, match="window exceeds x"):
        pool(ms.Tensor(np.zeros((1, 8, 2, 2), np.float32)))


def f32(*shape):
    return np.full(shape, 7.0, np.float32)


def cfg(max_pool, kernel, stride, pad):
    return np.array([max_pool, kernel, stride, pad], np.int32)


STEM = cfg(1, 3, 2, 1)
WS = np.zeros((9, 9, 3), np.uint8)  # the (H, W, K) of a 9x9 input with 8 channels
FORWARD = "mindcv_pool_forward"
MISMATCHES = {
    "output of the wrong size": (FORWARD, f32(1, 8, 9, 9), STEM, f32(1, 8, 4, 4), WS),
    "ws of another height": (FORWARD, f32(1, 8, 9, 9), STEM, f32(1, 8, 5, 5), np.zeros((8, 9, 3), np.uint8)),
    "pad as large as the kernel": (FORWARD, f32(1, 8, 9, 9), cfg(1, 3, 2, 3), f32(1, 8, 7, 7), WS),
    "a float32 cfg": (FORWARD, f32(1, 8, 9, 9), STEM.astype(np.float32), f32(1, 8, 5, 5), WS),
    "stride 0": (FORWARD, f32(1, 8, 9, 9), cfg(1, 3, 0, 1), f32(1, 8, 5, 5), WS),
    "dx of another layout": ("mindcv_pool_backward", f32(1, 8, 5, 5), WS, STEM, f32(1, 1, 9, 9, 8)),
}  # fmt: skip


@pytest.mark.parametrize("entry, arrays", [(c[0], c[1:]) for c in MISMATCHES.values()], ids=MISMATCHES)
def test_the_library_refuses_a_mismatch_and_writes_nothing(capfd, entry, arrays):
    before = [a.copy() for a in arrays]
    assert call(entry, *arrays) == 1
    assert all(np.array_equal(a, b) for a, b in zip(arrays, before))
    assert "mindcv native op:" in capfd.readouterr().err


def test_the_library_runs_what_it_checked():
    x, y = np.arange(81, dtype=np.float32).reshape(1, 1, 9, 9).repeat(8, axis=1), f32(1, 8, 5, 5)
    assert call(FORWARD, x, STEM, y, WS.copy()) == 0
    assert y[0, 0, 0, 0] == 10 and y[0, 0, 4, 4] == 80  # the padded window's largest
