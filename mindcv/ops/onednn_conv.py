"""nn.Conv2d running on the native oneDNN library (conv2d.cc) through `ops.Custom(func_type="aot")`.

Module and class names are unlike MindSpore's own (`conv`, `Conv2d`): its O1 mixed-precision
rewrite imports cells by bare module and class name, and a clash broke it.
"""

import contextlib

import mindspore as ms
from mindspore import nn, ops

from . import checks
from .blocked import channel_block
from .float32_cell import Float32Cell


def _operands(op: str, x, w, cfg):
    """Checks the shapes of a convolution's x, weight and cfg; returns x's (N, C, H, W, B)."""
    n, c, h, width, block = checks.activation(op, "x", x)
    if len(w) != 4 or w[1] != c or min(w) < 1:
        raise ValueError(f"{op}: the weight must be (O, {c}, KH, KW) for x of shape {list(x)}, got {list(w)}")
    checks.same_shape(op, "cfg", cfg, [3])
    return n, c, h, width, block


def _output_block(x_block: int, out_block: int) -> int:
    """The output's channel block: x's, or `out_block` (the stem's blocked output) for NCHW x."""
    return x_block or out_block


def _backward_shape(op: str, like_weight: bool, out_block: int):
    """The shape function of a backward op: dx is shaped like x, dw like w.

    It checks dy's batch, channels and layout but not its height and width (the kernel does, from
    cfg): Graph mode keeps the bprop graph of the first convolution it compiled and runs it for
    every stride and padding, so these functions must not depend on them.
    """

    def shape(x, w, dy, cfg):
        n, _, _, _, block = _operands(op, x, w, cfg)
        dy_n, dy_c, _, _, dy_block = checks.activation(op, "dy", dy)
        if (dy_n, dy_c, dy_block) != (n, w[0], _output_block(block, out_block)):
            raise ValueError(f"{op}: dy of shape {list(dy)} is no output of x {list(x)} and weight {list(w)}")
        return list(w if like_weight else x)

    return shape


def _dtype(x, w, *rest):
    """Every input float32 but the int32 cfg (rest: cfg, or dy and cfg); every output float32."""
    checks.dtypes("OneDNNConv2d", (x, w, *rest), [ms.float32] * (len(rest) + 1) + [ms.int32])
    return x


def _conv_ops(library: str, stride: int, padding: int, out_block: int):
    """The forward Custom op for one stride and padding (and, with `out_block`, a blocked output
    for NCHW input); its bprop runs the backward-data and backward-weights ops.

    The forward's shape function closes over stride and padding; the library reads them from the
    int32 `cfg` input, because MindSpore 2.10 hands aot kernels default attribute values. Every
    shape function checks its inputs (checks.py).
    """

    def forward_shape(x, w, cfg):
        op = "OneDNNConv2d"
        n, _, h, width, block = _operands(op, x, w, cfg)
        out_h, out_w = ((size + 2 * padding - k) // stride + 1 for size, k in ((h, w[2]), (width, w[3])))
        if min(out_h, out_w) < 1:
            raise ValueError(f"{op}: a {w[2]}x{w[3]} kernel exceeds x ({h}x{width}) padded by {padding}")
        return checks.activation_shape(
            op, "the output", n, w[0], out_h, out_w, _output_block(block, out_block)
        )

    def custom(name, shape, **kwargs):
        op = ops.Custom(f"{library}:mindcv_conv_{name}", shape, _dtype, func_type="aot", **kwargs)
        # MindSpore caches shapes per op name and attributes, not per shape function (the stem's
        # blocked output was given to NCHW convolutions of the same input shape)
        op.add_prim_attr("out_block", out_block)
        return op

    backward_data = custom("backward_data", _backward_shape("OneDNNConv2d backward-data", False, out_block))
    backward_weights = custom(
        "backward_weights", _backward_shape("OneDNNConv2d backward-weights", True, out_block)
    )

    def bprop(x, w, cfg, out, dout):
        return backward_data(x, w, dout, cfg), backward_weights(x, w, dout, cfg), ops.zeros_like(cfg)

    return custom("forward", forward_shape, bprop=bprop)


class OneDNNConv2d(Float32Cell, nn.Conv2d):
    """A bias-free, ungrouped, undilated `nn.Conv2d(pad_mode="pad")` computed by oneDNN's blocked kernels.

    It keeps nn.Conv2d's `weight` parameter (name, shape, OIHW layout), so checkpoints load on
    either path. `bf16=True` runs the convolution in bfloat16 (AVX512_BF16 or AMX) on float32
    tensors. Float16 inputs (mixed precision) are computed in float32 and cast back: nn.Conv2d's
    kernel would be the slow plain-layout one. Activations may be NCHW or blocked (5-D, see
    mindcv/ops/blocked.py); a blocked output needs out_channels a multiple of the block. With
    `blocked_output`, NCHW input gives a blocked output (DenseNet's stem: the image's 3 channels
    make no block). Shapes and dtypes are checked before the kernel runs (ValueError, TypeError).
    Inside `builtin_convolutions` nn.Conv2d's runs (NCHW).
    """

    def __init__(
        self,
        library: str,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bf16: bool = False,
        weight_init="normal",
        blocked_output: bool = False,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            pad_mode="pad",
            padding=padding,
            has_bias=False,
            weight_init=weight_init,
        )
        self.native_conv = _conv_ops(
            library, stride, padding, channel_block(library) if blocked_output else 0
        )
        self.cfg = ms.Tensor([stride, padding, int(bf16)], ms.int32)
        self.use_builtin = False

    def construct(self, x):
        if self.use_builtin:
            return super().construct(x)
        if x.dtype != ms.float32:
            y = self.native_conv(x.astype(ms.float32), self.weight.astype(ms.float32), self.cfg)
            return y.astype(x.dtype)
        return self.native_conv(x, self.weight, self.cfg)


def use_bf16_convolutions(network: nn.Cell) -> int:
    """Make every native convolution of `network` compute in bfloat16 (amp_level bf16); returns how many.

    A native convolution is a cell holding a `native_conv` kernel and its int32 `cfg` tensor:
    OneDNNConv2d (DenseNet's recomputed bottleneck reads its conv1's). Call it before the
    network is first run: Graph mode keeps the `cfg` it compiled.
    """
    count = 0
    for _, cell in network.cells_and_names():
        cfg = getattr(cell, "cfg", None)
        if getattr(cell, "native_conv", None) is not None and isinstance(cfg, ms.Tensor):
            cfg = cfg.asnumpy().copy()
            cfg[2] = 1
            cell.cfg = ms.Tensor(cfg, ms.int32)
            count += 1
    return count


@contextlib.contextmanager
def builtin_convolutions(network: nn.Cell):
    """Run `network`'s native cells (OneDNNConv2d, and mindcv/ops/blocked.py's layout changes
    and BatchNorm) as their MindSpore equivalents inside the block, for `ms.export`.

    An exported file (ONNX, MINDIR) must hold standard operators, not custom ops naming a library
    on this machine. Graph mode keeps what it compiled, so call only `ms.export` inside.
    """
    cells = [cell for _, cell in network.cells_and_names() if hasattr(cell, "use_builtin")]
    for cell in cells:
        cell.use_builtin = True
    try:
        yield
    finally:
        for cell in cells:
            cell.use_builtin = False
