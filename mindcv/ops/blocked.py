"""oneDNN's blocked activation layout inside MindSpore: layout changes and a BatchNorm for it.

The layout is nChw16c where oneDNN runs its AVX-512 kernels and nChw8c where it runs its AVX2 ones,
the block those kernels use (`channel_block`, from oneDNN's effective ISA, so ONEDNN_MAX_CPU_ISA
counts). A tensor in it is a 5-D MindSpore tensor (N, C/B, H, W, B): element-wise ops (ReLU,
Dropout) and concatenation along axis 1 work on it unchanged, and the native convolutions take
it without the reorders they need around NCHW data. DenseNet's dense blocks change to it once at
their start and back at their end (`ToBlocked`, `ToPlain`), with `BlockedBatchNorm2d` for their
BatchNorms. Inside `builtin_convolutions` every cell here runs its plain MindSpore equivalent.
"""

import ctypes
import functools

import mindspore as ms
from mindspore import nn, ops

from . import checks
from .float32_cell import Float32Cell


@functools.cache
def channel_block(library: str) -> int:
    """Channels per block: every channel count in a blocked region is a multiple of it. The
    native `library` asks oneDNN, whose ISA (16 for AVX-512, 8 for AVX2) honours ONEDNN_MAX_CPU_ISA."""
    return ctypes.CDLL(library).mindcv_channel_block()


def _layout_ops(library: str):
    """(to_blocked, to_plain) Custom ops, each one's gradient the other's change."""

    block = channel_block(library)

    def to_blocked_shape(x):
        n, c, h, w, b = checks.activation("ToBlocked", "x", x)
        if b:
            raise ValueError(f"ToBlocked: x must be NCHW, got shape {list(x)}")
        return checks.activation_shape("ToBlocked", "x", n, c, h, w, block)

    def to_plain_shape(x):
        n, c, h, w, b = checks.activation("ToPlain", "x", x)
        if not b:
            raise ValueError(f"ToPlain: x must be blocked (N, C/B, H, W, B), got shape {list(x)}")
        return [n, c, h, w]

    def change(name, shape, bprop=None):
        return ops.Custom(f"{library}:mindcv_{name}", shape, _float32, func_type="aot", bprop=bprop)

    gradient_to_plain = change("to_plain", to_plain_shape)
    gradient_to_blocked = change("to_blocked", to_blocked_shape)

    def to_blocked_bprop(x, out, dout):  # a def: Graph mode cannot parse a lambda bprop
        return (gradient_to_plain(dout),)

    def to_plain_bprop(x, out, dout):
        return (gradient_to_blocked(dout),)

    to_blocked = change("to_blocked", to_blocked_shape, to_blocked_bprop)
    return to_blocked, change("to_plain", to_plain_shape, to_plain_bprop)


def _float32(x):
    checks.dtypes("layout change", [x])
    return x


class _LayoutChange(Float32Cell):
    def __init__(self, library: str, index: int):
        super().__init__()
        self.change = _layout_ops(library)[index]
        self.use_builtin = False

    def construct(self, x):
        if self.use_builtin:
            return x
        if x.dtype != ms.float32:
            return self.change(x.astype(ms.float32)).astype(x.dtype)
        return self.change(x)


class ToBlocked(_LayoutChange):
    """NCHW -> blocked (N, C/B, H, W, B), B = `channel_block()`; C must be a multiple of B."""

    def __init__(self, library: str):
        super().__init__(library, 0)


class ToPlain(_LayoutChange):
    """Blocked (N, C/B, H, W, B) -> NCHW."""

    def __init__(self, library: str):
        super().__init__(library, 1)


def update_moving_statistics(norm: nn.BatchNorm2d, mean, var, count: int):
    """Update `norm`'s moving mean and variance from a batch's mean and biased variance over
    `count` values per channel, as BatchNorm2d does (the variance stored unbiased)."""
    weight = norm.momentum  # BatchNorm2d(momentum=0.9) stores the batch's weight, 0.1
    mean, var = ops.stop_gradient(mean), ops.stop_gradient(var)
    unbiased = var * (count / max(count - 1, 1))
    ops.assign(norm.moving_mean, norm.moving_mean * (1 - weight) + mean * weight)
    ops.assign(norm.moving_variance, norm.moving_variance * (1 - weight) + unbiased * weight)


def _norm_ops(library: str):
    """(training, inference) Custom ops: with the batch's statistics, which it also returns, or
    with given ones, held constant in the gradient. The training op also returns oneDNN's ReLU
    workspace (where the fused ReLU passed), which its backward reads instead of masking dy in a
    pass of its own."""

    op = "BlockedBatchNorm2d"
    workspace_bytes = ctypes.CDLL(library).mindcv_bn_relu_workspace_bytes
    workspace_bytes.restype = ctypes.c_int64
    workspace_bytes.argtypes = [ctypes.c_int64] * 5

    @functools.cache
    def workspace_shape(n, c, h, w, block):
        size = workspace_bytes(n, c, h, w, block)
        if size < 1:
            raise ValueError(f"{op}: oneDNN has no batch normalization for x of shape {[n, c, h, w]}")
        return [size]

    def vectors(x, names, *shapes):
        """Checks x and the per-channel vectors (then cfg's shape); returns C."""
        channels = checks.activation(op, "x", x)[1]
        for name, shape in zip(names.split(), shapes[:-1]):
            checks.vector(op, name, shape, channels)
        checks.same_shape(op, "cfg", shapes[-1], [2])
        return channels

    def training_shape(x, gamma, beta, cfg):
        channels = vectors(x, "gamma beta", gamma, beta, cfg)
        return list(x), [channels], [channels], workspace_shape(*checks.activation(op, "x", x))

    def inference_shape(x, gamma, beta, mean, var, cfg):
        vectors(x, "gamma beta mean var", gamma, beta, mean, var, cfg)
        return list(x)

    def backward_shape(x, y, dy, gamma, mean, var, cfg):  # y: the inference op's output
        channels = vectors(x, "gamma mean var", gamma, mean, var, cfg)
        checks.same_shape(op, "y", y, x)
        checks.same_shape(op, "dy", dy, x)
        return list(x), [channels], [channels]

    def training_backward_shape(x, ws, dy, gamma, mean, var, cfg):
        checks.same_shape(op, "ws", ws, workspace_shape(*checks.activation(op, "x", x)))
        return backward_shape(x, x, dy, gamma, mean, var, cfg)

    def float32(*types):
        checks.dtypes(op, types)
        return types[0]

    def three_float32(*types):
        return (float32(*types),) * 3

    def training_dtypes(*types):
        return (*three_float32(*types), ms.uint8)

    def training_backward_dtypes(x, ws, *rest):
        checks.dtypes(op, [ws], [ms.uint8])
        return three_float32(x, *rest)

    def backward(name, shape, dtype):
        return ops.Custom(f"{library}:{name}", shape, dtype, func_type="aot")

    batch_backward = backward("mindcv_bn_backward", training_backward_shape, training_backward_dtypes)
    given_backward = backward("mindcv_bn_inference_backward", backward_shape, three_float32)

    def training_bprop(x, gamma, beta, cfg, out, dout):  # the batch statistics' own gradients are unused
        dx, dgamma, dbeta = batch_backward(x, out[3], dout[0], gamma, out[1], out[2], cfg)
        return dx, dgamma, dbeta, ops.zeros_like(cfg)

    def inference_bprop(x, gamma, beta, mean, var, cfg, out, dout):
        dx, dgamma, dbeta = given_backward(x, out, dout, gamma, mean, var, cfg)
        return dx, dgamma, dbeta, ops.zeros_like(mean), ops.zeros_like(var), ops.zeros_like(cfg)

    def forward(name, shape, dtype, bprop):
        return ops.Custom(f"{library}:{name}", shape, dtype, func_type="aot", bprop=bprop)

    training = forward("mindcv_bn_forward", training_shape, training_dtypes, training_bprop)
    return training, forward("mindcv_bn_inference", inference_shape, float32, inference_bprop)


class BlockedBatchNorm2d(Float32Cell, nn.BatchNorm2d):
    """BatchNorm2d over blocked tensors on oneDNN's kernels, with BatchNorm2d's parameters and names.

    Training normalizes with the batch statistics (their gradient included) and updates the
    moving ones; inference normalizes with the moving ones. `relu=True` also applies the ReLU
    that follows it in DenseNet, in the same pass over the data.
    """

    def __init__(self, library: str, num_features: int, relu: bool = False):
        super().__init__(num_features)
        self.norm, self.inference_norm = _norm_ops(library)
        self.relu = relu
        self.cfg = ms.Tensor([self.eps, float(relu)], ms.float32)
        self.use_builtin = False

    def construct(self, x):
        if self.use_builtin:
            y = super().construct(x)
            return ops.relu(y) if self.relu else y
        dtype = x.dtype
        x = x.astype(ms.float32)
        if self.training:
            y, mean, var, _ = self.norm(x, self.gamma, self.beta, self.cfg)
            update_moving_statistics(self, mean, var, x.shape[0] * x.shape[2] * x.shape[3])
        else:
            statistics = (self.moving_mean, self.moving_variance)
            y = self.inference_norm(x, self.gamma, self.beta, *statistics, self.cfg)
        return y.astype(dtype)
