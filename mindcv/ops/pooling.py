"""Max and average pooling on oneDNN's JIT kernels (pooling.cc), for blocked activations.

MindSpore 2.10 pools NCHW tensors on oneDNN's generic kernel, 10-40x slower than its JIT ones in
the blocked layout (docs/performance.md, issue 20); DenseNet's stem and transitions pool here,
between cells that already work in that layout (blocked.py).
"""

import ctypes
import functools

import mindspore as ms
from mindspore import nn, ops

from . import checks
from .float32_cell import Float32Cell

_OP = "OneDNNPool2d"


def _pool_op(library: str, max_pool: bool, kernel: int, stride: int, padding: int):
    """The Custom op of one window, for training and inference alike (a model in inference mode
    may be differentiated too): x -> y, ws. ws is uint8 (H, W, K): x's height and width, which
    dx needs and dy cannot give (7 and 6 both pool to 3), and room for oneDNN's record of where
    each maximum came from. The backward reads the window from cfg, not from this closure: Graph
    mode keeps the bprop graph it compiled first and reuses it for other windows."""
    ws_depth = ctypes.CDLL(library).mindcv_pool_ws_depth
    ws_depth.restype = ctypes.c_int64
    ws_depth.argtypes = [ctypes.c_int64] * 9

    @functools.cache
    def ws_shape(n, c, h, w, block):
        depth = ws_depth(n, c, h, w, block, int(max_pool), kernel, stride, padding)
        if depth < 1:
            raise ValueError(f"{_OP}: oneDNN has no pooling for x of shape {[n, c, h, w]}")
        return [h, w, depth]

    def forward_shape(x, cfg):
        n, c, h, w, block = checks.activation(_OP, "x", x)
        checks.same_shape(_OP, "cfg", cfg, [4])
        out_h, out_w = ((size + 2 * padding - kernel) // stride + 1 for size in (h, w))
        if min(out_h, out_w) < 1:
            raise ValueError(f"{_OP}: a {kernel}x{kernel} window exceeds x ({h}x{w}) padded by {padding}")
        return checks.activation_shape(_OP, "y", n, c, out_h, out_w, block), ws_shape(n, c, h, w, block)

    def forward_dtypes(x, cfg):
        checks.dtypes(_OP, [x, cfg], [ms.float32, ms.int32])
        return x, ms.uint8

    def backward_shape(dy, ws, cfg):
        n, c, _, _, block = checks.activation(_OP, "dy", dy)
        if len(ws) != 3:
            raise ValueError(f"{_OP}: ws must be the forward's (H, W, K), got shape {list(ws)}")
        return checks.activation_shape(_OP, "dx", n, c, ws[0], ws[1], block)

    def backward_dtypes(dy, ws, cfg):
        checks.dtypes(_OP, [dy, ws, cfg], [ms.float32, ms.uint8, ms.int32])
        return dy

    backward = ops.Custom(f"{library}:mindcv_pool_backward", backward_shape, backward_dtypes, func_type="aot")

    def bprop(x, cfg, out, dout):
        return backward(dout[0], out[1], cfg), ops.zeros_like(cfg)

    return ops.Custom(
        f"{library}:mindcv_pool_forward", forward_shape, forward_dtypes, func_type="aot", bprop=bprop
    )


class OneDNNPool2d(Float32Cell):
    """A square max or average pooling on oneDNN's kernels, for NCHW or blocked (N, C/B, H, W, B)
    activations (fast on blocked ones), the output in the input's layout.

    Max pooling never picks padding (as -inf padding: after a ReLU equal to a zero border); average
    pooling divides by the window's unpadded elements. `builtin` is the MindSpore cell it stands
    for, run instead inside `builtin_convolutions` (for export), where activations are NCHW.
    """

    def __init__(
        self,
        library: str,
        builtin: nn.Cell,
        kernel_size: int,
        stride: int,
        padding: int = 0,
        max_pool: bool = True,
    ):
        super().__init__()
        self.builtin = builtin
        self.pool = _pool_op(library, max_pool, kernel_size, stride, padding)
        # int32, as the convolutions' cfg: mixed precision (O2) casts float tensors to float16
        self.cfg = ms.Tensor([int(max_pool), kernel_size, stride, padding], ms.int32)
        self.use_builtin = False

    def construct(self, x):
        if self.use_builtin:
            return self.builtin(x)
        dtype = x.dtype
        x = x.astype(ms.float32)
        return self.pool(x, self.cfg)[0].astype(dtype)
