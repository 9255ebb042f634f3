"""nn.Conv2d running on the native oneDNN library (conv2d.cc) through `ops.Custom(func_type="aot")`.

Module and class names are unlike MindSpore's own (`conv`, `Conv2d`): its O1 mixed-precision
rewrite imports cells by bare module and class name, and a clash broke it.
"""

import contextlib

import mindspore as ms
from mindspore import nn, ops


def _conv_ops(library: str, stride: int, padding: int):
    """The forward Custom op for one stride and padding; its bprop runs the backward-data and
    backward-weights ops.

    The output-shape functions close over stride and padding; the library reads them from the
    int32 `cfg` input, because MindSpore 2.10 hands aot kernels default attribute values.
    """

    def out_size(size, kernel):
        return (size + 2 * padding - kernel) // stride + 1

    def forward_shape(x, w, cfg):
        if len(x) == 5:  # nChw16c activations (mindcv/ops/blocked.py): (N, C/16, H, W, 16)
            return [x[0], w[0] // x[4], out_size(x[2], w[2]), out_size(x[3], w[3]), x[4]]
        return [x[0], w[0], out_size(x[2], w[2]), out_size(x[3], w[3])]

    def dtype(x, *_):
        return x

    backward_data = ops.Custom(
        f"{library}:mindcv_conv_backward_data", lambda x, w, dy, cfg: x, dtype, func_type="aot"
    )
    backward_weights = ops.Custom(
        f"{library}:mindcv_conv_backward_weights", lambda x, w, dy, cfg: w, dtype, func_type="aot"
    )

    def bprop(x, w, cfg, out, dout):
        return backward_data(x, w, dout, cfg), backward_weights(x, w, dout, cfg), ops.zeros_like(cfg)

    return ops.Custom(f"{library}:mindcv_conv_forward", forward_shape, dtype, func_type="aot", bprop=bprop)


class OneDNNConv2d(nn.Conv2d):
    """A bias-free, ungrouped, undilated `nn.Conv2d(pad_mode="pad")` computed by oneDNN's blocked kernels.

    It keeps nn.Conv2d's `weight` parameter (name, shape, OIHW layout), so checkpoints load on
    either path. `bf16=True` runs the convolution in bfloat16 (AVX512_BF16 or AMX) on float32
    tensors. Float16 inputs (mixed precision) are computed in float32 and cast back: nn.Conv2d's
    kernel would be the slow plain-layout one. Activations may be NCHW or nChw16c (5-D, see
    mindcv/ops/blocked.py). Inside `builtin_convolutions` nn.Conv2d's runs.
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
        self.native_conv = _conv_ops(library, stride, padding)
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
    OneDNNConv2d and the cells that call its kernel directly (DenseNet's recomputed bottleneck).
    Call it before the network is first run: Graph mode keeps the `cfg` it compiled.
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
