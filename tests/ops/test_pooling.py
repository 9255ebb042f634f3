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


def test_the_pool_runs_what_it_checked():
    """The library's refusals are in test_checks.py; this is the stem pool it accepts."""
    x, y = np.arange(81, dtype=np.float32).reshape(1, 1, 9, 9).repeat(8, axis=1), f32(1, 8, 5, 5)
    ws = np.zeros((9, 9, 3), np.uint8)  # the (H, W, K) of a 9x9 input with 8 channels
    assert call("mindcv_pool_forward", x, np.array([1, 3, 2, 1], np.int32), y, ws) == 0  # max 3x3/2, pad 1
    assert y[0, 0, 0, 0] == 10 and y[0, 0, 4, 4] == 80  # the padded window's largest
