"""DenseNet's memory-efficient bottleneck as one native op (dense_bottleneck.cc).

A dense layer's bottleneck is concat(chunks) -> BatchNorm -> ReLU -> 1x1 convolution, the chunks
being the block input and every earlier layer's output; its second half, BatchNorm -> ReLU ->
3x3 convolution of the bottleneck's output, is the same op on one chunk. Stored, the
concatenation and the BN-ReLU output of every layer make training memory grow with the square of
the depth. This op takes the chunks themselves and builds both in scratch memory it does not
return; its gradient rebuilds them from the chunks (torchvision's `memory_efficient=True`), so
MindSpore keeps each chunk once. With `pool`, the same op is a transition layer (BatchNorm,
ReLU, 2x2 average pool, 1x1 convolution) on a block's chunks: the block's concatenation, its
BN-ReLU output and the pooled tensor are not kept either.

The default (not memory-efficient) dense layer trains on the same chunks through the stored
variant (`StoredDenseBottleneck`): it returns the BN-ReLU output for the backward instead of
rebuilding it, and takes the earlier chunks' batch statistics from the previous layer, so a
layer neither copies the concatenation nor reads it for statistics, and keeps one
concatenation-sized tensor instead of two. Its pooling variant is the transition after such a
block, which keeps only the pooled tensor.
"""

import importlib.util
import sys
from pathlib import Path

import mindspore as ms
from mindspore import ops

from ..utils.atomic import atomic_write_bytes
from . import checks
from .float32_cell import Float32Cell

_OP = "DenseBottleneck"


def _layer(shapes, chunks: int, pool: bool = False):
    """Checks the chunks and parameters of one call; returns (N, H, W, B, C, O)."""
    dims = [checks.activation(_OP, f"chunk {i + 1}", shape) for i, shape in enumerate(shapes[:chunks])]
    n, _, h, w, block = dims[0]
    if any((d[0], d[2], d[3], d[4]) != (n, h, w, block) for d in dims):
        listed = [list(s) for s in shapes[:chunks]]
        raise ValueError(f"{_OP}: the chunks differ in batch, size or layout: {listed}")
    total = sum(d[1] for d in dims)
    gamma, beta, weight, bn_cfg, conv_cfg = shapes[chunks : chunks + 5]
    checks.vector(_OP, "gamma", gamma, total)
    checks.vector(_OP, "beta", beta, total)
    square = len(weight) == 4 and list(weight[1:]) == [total, weight[2], weight[2]]
    if not square or weight[0] < 1 or weight[2] % 2 != 1:
        raise ValueError(f"{_OP}: the weight must be (O, {total}, S, S), S odd, got {list(weight)}")
    if pool and (weight[2] != 1 or h < 2 or w < 2):
        raise ValueError(f"{_OP}: a transition needs a 1x1 weight and H, W >= 2, got {list(weight)}, {h}x{w}")
    checks.same_shape(_OP, "bn_cfg", bn_cfg, [2])
    checks.same_shape(_OP, "conv_cfg", conv_cfg, [3])
    return n, h, w, block, total, weight[0]


def _bottleneck_ops(
    library: str,
    chunks: int,
    pool: bool = False,
    stored: bool = False,
    known: bool = False,
    fixed: bool = False,
):
    """The forward Custom op for `chunks` chunks (with `pool`, a transition's); its bprop runs
    the backward op. `stored`: the forward also returns the convolution's input (the BN-ReLU
    output of the concatenation, pooled by a transition), which the backward reads instead of
    rebuilding it; with `known`, it takes the statistics of all chunks but the last (the previous
    layer's) instead of computing them again. `fixed` (eval mode): it takes every channel's
    statistics (the moving ones) and returns y alone."""
    scale = 2 if pool else 1  # y's H and W: x's, halved (floor) by the pool
    entry = ("mindcv_dense_transition" if pool else "mindcv_dense_bottleneck") + ("_stored" if stored else "")
    entry += "_fixed" if fixed else ""
    extra = 2 if known or fixed else 0  # known_mean, known_var (or mean, var) after conv_cfg

    def conv_input_shape(n, h, w, block, total):
        """The stored tensor: the BN-ReLU output of the concatenation (pooled by a transition)."""
        return checks.activation_shape(
            _OP, "the convolution's input", n, total, h // scale, w // scale, block
        )

    def forward_shape(*shapes):
        n, h, w, block, total, out = _layer(shapes, chunks, pool)
        if known:
            prefix = total - checks.activation(_OP, "the last chunk", shapes[chunks - 1])[1]
            checks.vector(_OP, "known_mean", shapes[chunks + 5], prefix)
            checks.vector(_OP, "known_var", shapes[chunks + 6], prefix)
        y = checks.activation_shape(_OP, "y", n, out, h // scale, w // scale, block)
        if fixed:
            checks.vector(_OP, "mean", shapes[chunks + 5], total)
            checks.vector(_OP, "var", shapes[chunks + 6], total)
            return y
        if stored:
            return y, [total], [total], conv_input_shape(n, h, w, block, total)
        return y, [total], [total]

    def backward_shape(*shapes):
        n, h, w, block, total, out = _layer(shapes, chunks, pool)
        y = checks.activation_shape(_OP, "dy", n, out, h // scale, w // scale, block)
        if stored or fixed:
            checks.vector(_OP, "mean", shapes[chunks + 5], total)
            checks.vector(_OP, "var", shapes[chunks + 6], total)
        if stored:
            stored_shape = conv_input_shape(n, h, w, block, total)
            checks.same_shape(_OP, "the stored convolution input", shapes[chunks + 7], stored_shape)
        checks.same_shape(_OP, "dy", shapes[-1], y)
        return (*shapes[:chunks], shapes[chunks], shapes[chunks + 1], shapes[chunks + 2])

    def expect(types, more):
        """Every input float32 but the int32 conv_cfg (then `more` more float32 inputs)."""
        checks.dtypes(_OP, types, [ms.float32] * (chunks + 4) + [ms.int32] + [ms.float32] * more)
        return types[0]

    def forward_dtype(*types):
        if fixed:
            return expect(types, extra)
        return (expect(types, extra),) * (4 if stored else 3)

    def backward_dtype(*types):
        return (expect(types, 4 if stored else 3 if fixed else 1),) * (chunks + 3)

    backward = ops.Custom(f"{library}:{entry}_backward", backward_shape, backward_dtype, func_type="aot")

    forward = ops.Custom(
        f"{library}:{entry}{'_known' if known else ''}",
        forward_shape,
        forward_dtype,
        func_type="aot",
        bprop=_bprop(library, backward, chunks, pool, stored, known, fixed),
    )
    # Graph mode reuses a bprop graph across Custom ops of equal attributes: one per arity and kind
    for op in (forward, backward):
        op.add_prim_attr("chunks", chunks)
        op.add_prim_attr("pool", pool)
        op.add_prim_attr("stored", stored)
        op.add_prim_attr("known", known)
        op.add_prim_attr("fixed", fixed)
    return forward


def _bprop(library: str, backward, chunks: int, pool: bool, stored: bool, known: bool, fixed: bool):
    """The bprop of a `chunks`-chunk op: backward's gradients, none for the cfgs or statistics.

    Graph mode parses a bprop's source file and wants one named parameter per input (`*args` is
    refused), so the bprop of each arity is written out as a module beside the built library
    (the build folder, keyed by this file too) and imported from there.
    """
    names = ", ".join(f"chunk{i}" for i in range(chunks))
    statistics = ", known_mean, known_var" if known else ", mean, var" if fixed else ""
    inputs = f"{names}, gamma, beta, weight, bn_cfg, conv_cfg{statistics}"
    # then the forward's statistics and convolution input (stored), or the given statistics
    # (fixed), and y's gradient (dout is y's alone when y is the only output)
    kept = "out[1], out[2], out[3], dout[0]" if stored else "mean, var, dout" if fixed else "dout[0]"
    zeros = "zeros_like(bn_cfg), zeros_like(conv_cfg)" + "".join(
        f", zeros_like({name})" for name in statistics.split(", ")[1:]
    )
    source = (
        f'"""Generated by mindcv/ops/dense_bottleneck.py: the bprop of its {chunks}-chunk op."""\n\n\n'
        "def make(backward, zeros_like):\n"
        f"    def bprop({inputs}, out, dout):\n"
        f"        grads = backward({names}, gamma, beta, weight, bn_cfg, conv_cfg, {kept})\n"
        f"        return grads + ({zeros})\n\n"
        "    return bprop\n"
    )
    flags = {"pool": pool, "stored": stored, "known": known, "fixed": fixed}
    kind = f"{chunks}" + "".join(f"_{flag}" for flag, on in flags.items() if on)
    path = Path(library).parent / f"dense_bottleneck_bprop_{kind}.py"
    if not path.exists() or path.read_text() != source:
        atomic_write_bytes(path, source.encode())
    name = f"mindcv_dense_bottleneck_bprop_{kind}"  # the parser looks its module up by this name
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make(backward, ops.zeros_like)


class RecomputedDenseBottleneck(Float32Cell):
    """Training-mode BN-ReLU-Conv of the concatenation of `chunks` tensors, neither kept; the
    convolution's stride is 1 and its padding keeps H and W (a 1x1 or 3x3 kernel).

    It owns no parameters: the dense layer passes a norm's gamma and beta and a conv's weight and
    cfg (norm1 and conv1, or norm2 and conv2), so parameter names stay MindCV's, and updates that
    norm's moving statistics from the batch mean and variance this returns with the output.
    With `pool` it is a transition: a 2x2 average pool (stride 2) between the ReLU and a 1x1
    convolution, so the output has half the height and width.
    """

    def __init__(self, library: str, chunks: int, eps: float, pool: bool = False):
        super().__init__()
        self.op = _bottleneck_ops(library, chunks, pool)
        self.bn_cfg = ms.Tensor([eps, 1.0], ms.float32)  # {epsilon, relu}, batch_norm.cc's

    def construct(self, chunks, gamma, beta, weight, conv_cfg):
        return self.op(*chunks, gamma, beta, weight, self.bn_cfg, conv_cfg)


class StoredDenseBottleneck(Float32Cell):
    """Training-mode BN-ReLU-Conv1x1 of the concatenation of `chunks` tensors, the bottleneck of
    the default (not memory-efficient) dense layer on the native path: the concatenation is never
    built (MindSpore keeps the chunks, once), and the convolution's input, the BN-ReLU output, is
    kept for the backward rather than rebuilt. Each layer passes the next its batch statistics, so
    only the newest chunk's are computed (`known`: every layer of a block but the first).

    With `pool` it is a transition on a block's chunks (BN, ReLU, 2x2 average pool, 1x1
    convolution; the statistics known from the block's last layer), keeping the pooled tensor.

    Returns (y, mean, var): the caller updates the norm's moving statistics from the batch's.
    """

    def __init__(self, library: str, chunks: int, eps: float, known: bool, pool: bool = False):
        super().__init__()
        self.known = known
        self.op = _bottleneck_ops(library, chunks, pool=pool, stored=True, known=known)
        self.bn_cfg = ms.Tensor([eps, 1.0], ms.float32)  # {epsilon, relu}, batch_norm.cc's

    def construct(self, chunks, gamma, beta, weight, conv_cfg, known_mean, known_var):
        if self.known:
            y, mean, var, _ = self.op(
                *chunks, gamma, beta, weight, self.bn_cfg, conv_cfg, known_mean, known_var
            )
        else:
            y, mean, var, _ = self.op(*chunks, gamma, beta, weight, self.bn_cfg, conv_cfg)
        return y, mean, var


class FixedDenseBottleneck(Float32Cell):
    """Eval-mode BN-ReLU-Conv of the concatenation of `chunks` tensors: the norm's moving
    statistics, given, normalize, and the concatenation is never built. A dense layer in eval
    mode is two of these (bottleneck, then norm2-relu2-conv2 on one chunk) instead of five ops,
    and a transition (`pool`) one instead of six. Its gradient is eval-mode BatchNorm's (the
    statistics constants), for saliency maps and other input gradients of a model in eval mode.
    """

    def __init__(self, library: str, chunks: int, eps: float, pool: bool = False):
        super().__init__()
        self.op = _bottleneck_ops(library, chunks, pool=pool, fixed=True)
        self.bn_cfg = ms.Tensor([eps, 1.0], ms.float32)  # {epsilon, relu}, batch_norm.cc's

    def construct(self, chunks, gamma, beta, weight, conv_cfg, moving_mean, moving_var):
        return self.op(*chunks, gamma, beta, weight, self.bn_cfg, conv_cfg, moving_mean, moving_var)
