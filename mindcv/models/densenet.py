"""DenseNet-121/161/169/201 (Huang et al., "Densely Connected Convolutional Networks", 2016).

Parameter names and shapes equal MindCV's, so its published checkpoints load unchanged; trainable
parameter counts equal torchvision's. Three MindSpore 2.10 facts shape the code:
- the stem max-pool is a zero border then an unpadded 3x3/2 pool (equal to -inf padding after
  ReLU); `MaxPool2d(pad_mode="pad")` lowers to MaxPool3DWithArgmax, which ONNX cannot export, and
  the CPU `Pad` kernel was a large part of a train step (docs/performance.md), so the border is concatenated
  (on the native path the stem pool is oneDNN's blocked max pool with padding 1 instead, which is
  the same after ReLU; the export runs the border and MindSpore's pool);
- concatenation uses a `Concat` primitive instance: functional `ops.concat` breaks O1 mixed precision;
- on CPU the convolutions are `mindcv.ops.OneDNNConv2d` (oneDNN's blocked-layout kernels), chosen when this
  module is imported, before any CPU kernel runs (mindcv/ops/native.py says why that moment); the
  dense blocks then keep their activations in oneDNN's blocked layout (mindcv/ops/blocked.py), so
  their convolutions need no reorders and their BatchNorms run on oneDNN's kernels too, and so
  do the stem pool and the transitions (mindcv/ops/pooling.py).
"""

import functools
import logging
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import mindspore as ms
from mindspore import nn, ops
from mindspore.common.initializer import HeNormal, Zero

from ..data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from ..ops import (
    BlockedBatchNorm2d,
    OneDNNConv2d,
    ToBlocked,
    ToPlain,
    channel_block,
    native_conv_bf16,
    native_conv_library,
    update_moving_statistics,
)
from ..ops.dense_bottleneck import FixedDenseBottleneck, RecomputedDenseBottleneck, StoredDenseBottleneck
from ..ops.pooling import OneDNNPool2d
from .factory import load_weights
from .features import feature_map
from .registry import register_model

_logger = logging.getLogger(__name__)

__all__ = [
    "ARCHITECTURES",
    "DenseNet",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "densenet_test",
    "default_cfgs",
]

_URL = "https://download.mindspore.cn/toolkits/mindcv/densenet/{}-120_5004_Ascend.ckpt"


def _cfg(name: str, top1: Optional[float], top5: Optional[float], num_params: Optional[int]) -> dict:
    """Pretrained-weight metadata kept beside the model, as torchvision does."""
    return {
        "url": _URL.format(name),
        "num_classes": 1000,
        "first_conv": "features.conv0",
        "classifier": "classifier",
        "input_size": (3, 224, 224),
        "mean": IMAGENET_DEFAULT_MEAN,  # 0-255 scale, as MindCV's transforms expect
        "std": IMAGENET_DEFAULT_STD,
        "crop_pct": 0.875,
        "interpolation": "bilinear",
        "metrics": {"imagenet_top1": top1, "imagenet_top5": top5},
        "num_params": num_params,
    }


default_cfgs = {
    "densenet121": _cfg("densenet121", 75.60, 92.73, 7_978_856),
    "densenet161": _cfg("densenet161", 79.10, 94.65, 28_681_000),
    "densenet169": _cfg("densenet169", 76.38, 93.34, 14_149_480),
    "densenet201": _cfg("densenet201", 78.08, 94.13, 20_013_928),
    # The tests' small DenseNet: the family's preprocessing, no published weights.
    "densenet_test": dict(_cfg("densenet_test", None, None, None), url="", metrics={}),
}


if ms.get_context("device_target") == "CPU":
    native_conv_library()  # decide now: falling back caps oneDNN, which must precede the first kernel


def _native_library():
    return native_conv_library() if ms.get_context("device_target") == "CPU" else None


def _blocked_library(*channels: int) -> Optional[str]:
    """The native library if every channel count is a multiple of its channel block (all four
    DenseNets'), so activations of these widths can stay in the blocked layout; else None."""
    library = _native_library()
    return library if library and all(c % channel_block(library) == 0 for c in channels) else None


def _conv(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, blocked_output: bool = False
) -> nn.Conv2d:
    """A bias-free convolution keeping H and W (at stride 1); `blocked_output`: NCHW input gives
    a blocked output (the native stem)."""
    library = _native_library()
    if library:
        return OneDNNConv2d(
            library,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            bf16=native_conv_bf16(),
            weight_init=HeNormal(),
            blocked_output=blocked_output,
        )
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        pad_mode="pad",
        padding=kernel_size // 2,
        has_bias=False,
        weight_init=HeNormal(),
    )


class _ZeroBorder(nn.Cell):
    """Adds a one-pixel zero border with two concatenations: 5x faster than `Pad` on CPU."""

    def __init__(self):
        super().__init__()
        self.concat_rows = ops.Concat(axis=2)
        self.concat_columns = ops.Concat(axis=3)

    def construct(self, x):
        n, c, h, w = x.shape
        column = ops.zeros((n, c, h, 1), x.dtype)
        x = self.concat_columns((column, x, column))
        row = ops.zeros((n, c, 1, w + 2), x.dtype)
        return self.concat_rows((row, x, row))


def _stem_pool(blocked_library: Optional[str]) -> nn.Cell:
    """The 3x3/2 max pool after the stem's ReLU, as a zero border then an unpadded pool (equal to
    -inf padding on non-negative input). With `blocked_library` it pools the blocked stem on
    oneDNN's blocked kernel, handing the first dense block blocked activations: MindSpore's NCHW
    pooling runs oneDNN's generic kernel, 10-40x slower (docs/performance.md)."""
    builtin = nn.SequentialCell([_ZeroBorder(), nn.MaxPool2d(kernel_size=3, stride=2)])
    if not blocked_library:
        return builtin
    return OneDNNPool2d(blocked_library, builtin, 3, 2, 1)


class _BlockedReLU0(nn.Identity):
    """relu0 on the native path: norm0 applied the ReLU, and the stem stays blocked for the pool;
    `feature_map` gives the NCHW map `feature_info` names (features_only, FeatureExtractWrapper),
    so the stem is not changed to NCHW and back (four whole-tensor reorders a train step)."""

    def __init__(self, library: str):
        super().__init__()
        self.to_plain = ToPlain(library)

    def feature_map(self, x):
        return self.to_plain(x)


class _RecomputedBottleneck(nn.Cell):
    """norm1 -> relu1 -> conv1 on given batch statistics, recomputed by MindSpore in the backward
    pass: memory_efficient=True on GPU/Ascend (on CPU the native op replaces it).

    It owns no parameters (they arrive as inputs), so the dense layer keeps MindCV's names, and
    the BN moving statistics are updated once, outside the recomputed region: recomputing a
    `BatchNorm2d` cell would update them twice per step.
    """

    def __init__(self, eps: float):
        super().__init__()
        self.eps = eps
        self.recompute()

    def construct(self, x, mean, var, gamma, beta, weight):
        scale = gamma * ops.rsqrt(var + self.eps)
        shift = beta - mean * scale
        x = ops.relu(x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1))
        return ops.conv2d(x, weight)


def _recomputed(op, chunks, norm, conv):
    """`op` (a RecomputedDenseBottleneck: norm -> relu (-> pool) -> conv over `chunks`, recomputed
    in the backward pass) on the cells' parameters, updating `norm`'s moving statistics once from
    the batch's."""
    y, mean, var = op(chunks, norm.gamma, norm.beta, conv.weight, conv.cfg)
    _update_from_batch(norm, mean, var, chunks)
    return y


def _fixed(op, chunks, norm, conv):
    """`op` (a FixedDenseBottleneck: eval-mode norm -> relu (-> pool) -> conv over `chunks`) on
    the cells' parameters and `norm`'s moving statistics."""
    return op(chunks, norm.gamma, norm.beta, conv.weight, conv.cfg, norm.moving_mean, norm.moving_variance)


def _update_from_batch(norm, mean, var, chunks):
    """`norm`'s moving statistics from the batch statistics of the concatenation of `chunks`."""
    first = chunks[0]
    update_moving_statistics(norm, mean, var, first.shape[0] * first.shape[2] * first.shape[3])


class _DenseLayer(nn.Cell):
    """BN-ReLU-Conv1x1 bottleneck, then BN-ReLU-Conv3x3 producing `growth_rate` new channels.

    With `blocked_library` (nChw8c / nChw16c activations) each BN-ReLU pair is one oneDNN op, the norm
    cell applying the ReLU and the relu cell an identity. With `chunks` (memory_efficient=True on
    the native CPU path) its input is the tuple of the block input and the earlier layers'
    outputs, and in training the bottleneck is one native op that recomputes their concatenation
    and BN-ReLU in the backward pass instead of keeping them (mindcv/ops/dense_bottleneck.py);
    norm2-relu2-conv2 is the same op on the bottleneck's output, so norm2's output is not kept.
    With `stored_chunks` (the default on the blocked path) the block trains it through
    `forward_stored` on that tuple too, whose bottleneck keeps the BN-ReLU output but builds no
    concatenation and takes the earlier chunks' batch statistics from the previous layer. On
    either tuple, eval mode runs `forward_fixed`: two native ops on the moving statistics.
    """

    def __init__(
        self,
        num_input_features: int,
        growth_rate: int,
        bn_size: int,
        drop_rate: float,
        memory_efficient: bool,
        blocked_library: Optional[str] = None,
        chunks: int = 0,
        stored_chunks: int = 0,
    ):
        super().__init__()
        if blocked_library:
            norm, relu = functools.partial(BlockedBatchNorm2d, blocked_library, relu=True), nn.Identity
        else:
            norm, relu = nn.BatchNorm2d, nn.ReLU
        self.norm1 = norm(num_input_features)
        self.relu1 = relu()
        self.conv1 = _conv(num_input_features, bn_size * growth_rate, 1)
        self.norm2 = norm(bn_size * growth_rate)
        # The recomputed paths read the norms' parameters; a tuple keeps them reachable when
        # mixed precision wraps the norm cells (O2 keeps BatchNorm float32 in a wrapper).
        self.recomputed_norms = (self.norm1, self.norm2)
        self.relu2 = relu()
        self.conv2 = _conv(bn_size * growth_rate, growth_rate, 3)
        self.dropout = nn.Dropout(p=drop_rate) if drop_rate > 0 else nn.Identity()
        self.memory_efficient = memory_efficient
        self.chunks = chunks
        self.concat = ops.Concat(axis=1) if chunks else None
        if chunks:
            self.recomputed_bottleneck = RecomputedDenseBottleneck(_native_library(), chunks, self.norm1.eps)
            # norm2 -> relu2 -> conv2 recomputed too: only conv1's output is kept, not norm2's
            self.recomputed_norm2_conv2 = RecomputedDenseBottleneck(_native_library(), 1, self.norm2.eps)
        else:
            self.recomputed_bottleneck = _RecomputedBottleneck(self.norm1.eps) if memory_efficient else None
        if chunks or stored_chunks:  # eval mode on the chunks: the moving statistics
            library = blocked_library or _native_library()
            self.fixed_bottleneck = FixedDenseBottleneck(library, chunks or stored_chunks, self.norm1.eps)
            self.fixed_norm2_conv2 = FixedDenseBottleneck(library, 1, self.norm2.eps)
        if stored_chunks:  # the first layer of a block computes all its statistics, the others one chunk's
            known = stored_chunks > 1
            self.stored_bottleneck = StoredDenseBottleneck(
                blocked_library, stored_chunks, self.norm1.eps, known
            )

    def bottleneck(self, x):
        if self.chunks:  # x: the tuple of chunks
            if self.training:
                return _recomputed(self.recomputed_bottleneck, x, self.recomputed_norms[0], self.conv1)
            x = self.concat(x)
        elif self.memory_efficient and self.training:
            mean, var = self._batch_statistics(x)
            norm1 = self.recomputed_norms[0]
            return self.recomputed_bottleneck(x, mean, var, norm1.gamma, norm1.beta, self.conv1.weight)
        return self.conv1(self.relu1(self.norm1(x)))

    def _batch_statistics(self, x):
        """Batch mean/variance of `x`, updating norm1's moving statistics as BatchNorm2d does."""
        mean = x.mean(axis=(0, 2, 3))
        var = ((x - mean.reshape(1, -1, 1, 1)) ** 2).mean(axis=(0, 2, 3))
        update_moving_statistics(self.recomputed_norms[0], mean, var, x.shape[0] * x.shape[2] * x.shape[3])
        return mean, var

    def forward_stored(self, chunks, known_mean, known_var):
        """Training on the tuple of chunks, given the batch statistics of all but the last (None
        in a block's first layer): (the new features, the batch statistics of all chunks)."""
        norm1 = self.recomputed_norms[0]
        conv1 = self.conv1
        x, mean, var = self.stored_bottleneck(
            chunks, norm1.gamma, norm1.beta, conv1.weight, conv1.cfg, known_mean, known_var
        )
        _update_from_batch(norm1, mean, var, chunks)
        return self.dropout(self.conv2(self.relu2(self.norm2(x)))), mean, var

    def forward_fixed(self, chunks):
        """Eval mode on the tuple of chunks: the new features."""
        norm1, norm2 = self.recomputed_norms
        x = _fixed(self.fixed_bottleneck, chunks, norm1, self.conv1)
        return self.dropout(_fixed(self.fixed_norm2_conv2, (x,), norm2, self.conv2))

    def construct(self, x):
        x = self.bottleneck(x)
        if self.chunks and self.training:
            out = _recomputed(self.recomputed_norm2_conv2, (x,), self.recomputed_norms[1], self.conv2)
        else:
            out = self.conv2(self.relu2(self.norm2(x)))
        return self.dropout(out)


class _DenseBlock(nn.Cell):
    """`num_layers` dense layers, each fed the concatenation of the block input and all earlier outputs.

    On the native CPU path the block works in nChw8c / nChw16c (the channel block), changing layout
    once at each end, when every channel count is a multiple of the block (all four DenseNets').
    There, memory_efficient=True passes each layer the tuple of chunks instead (keeping each once),
    and with `return_chunks` the block returns that tuple, in its layout, for the transition after
    it (which then keeps no concatenation either). By default there, training passes each layer
    the tuple of chunks too, with the previous layer's batch statistics (`forward_stored`), and
    concatenates once, at the end. Eval mode passes each layer the chunks on either path
    (`forward_fixed`), but while exporting (`use_builtin`, set by builtin_convolutions: an
    exported file holds standard operators only). Its output is the chunks (`return_chunks`) or
    NCHW; `feature_map` gives the NCHW map `feature_info` promises either way. With
    `blocked_input` its input already is in the blocked layout.
    """

    def __init__(
        self,
        num_layers: int,
        num_input_features: int,
        bn_size: int,
        growth_rate: int,
        memory_efficient: bool = False,
        return_chunks: bool = False,
        blocked_input: bool = False,
        **layer_kwargs,
    ):
        super().__init__()
        library = _native_library()
        blocked = _blocked_library(num_input_features, growth_rate, bn_size * growth_rate)
        self.blocked = blocked
        self.chunked = bool(memory_efficient and library)
        self.stored = bool(blocked and not self.chunked)
        self.return_chunks = (self.chunked or self.stored) and return_chunks
        self.cell_list = nn.CellList(
            [
                _DenseLayer(
                    num_input_features + i * growth_rate,
                    growth_rate,
                    bn_size,
                    memory_efficient=memory_efficient,
                    blocked_library=blocked,
                    chunks=i + 1 if self.chunked else 0,
                    stored_chunks=i + 1 if self.stored else 0,
                    **layer_kwargs,
                )
                for i in range(num_layers)
            ]
        )
        self.concat = ops.Concat(axis=1)
        self.to_blocked = ToBlocked(blocked) if blocked and not blocked_input else nn.Identity()
        self.to_plain = ToPlain(blocked) if blocked else nn.Identity()
        self.use_builtin = False

    def feature_map(self, out):
        """The NCHW map of `feature_info` from this block's output, which may be its chunks (in
        training with the batch statistics), handed on to the transition."""
        if not isinstance(out, tuple):
            return out
        chunks = out[0] if isinstance(out[0], tuple) else out
        return self.to_plain(self.concat(chunks))

    def construct(self, x):
        x = self.to_blocked(x)
        if (self.chunked or self.stored) and not self.training and not self.use_builtin:
            chunks = (x,)
            for layer in self.cell_list:
                chunks = chunks + (layer.forward_fixed(chunks),)
            if self.return_chunks:
                return chunks
            return self.to_plain(self.concat(chunks))
        if self.chunked:
            chunks = (x,)
            for layer in self.cell_list:
                chunks = chunks + (layer(chunks),)
            if self.return_chunks:
                return chunks
            return self.to_plain(self.concat(chunks))
        if self.stored and self.training:
            chunks, mean, var = (x,), None, None
            for layer in self.cell_list:
                out, mean, var = layer.forward_stored(chunks, mean, var)
                chunks = chunks + (out,)
            if self.return_chunks:  # and the statistics of all but the last, for the transition
                return chunks, mean, var
            return self.to_plain(self.concat(chunks))
        for layer in self.cell_list:
            x = self.concat((x, layer(x)))
        return self.to_plain(x)


class _Transition(nn.Cell):
    """BN-ReLU, 2x2 average pooling, then Conv1x1 compression between dense blocks.

    The paper (and torchvision) convolve before pooling; a bias-free 1x1 convolution commutes with
    a 2x2 average pool, so pooling first gives the same output (to fp32 rounding) for a quarter of
    the convolution's work, forward and backward. The parameters and their names are unchanged.

    With `chunks` (memory_efficient=True on the native CPU path) its input is the tuple of the
    block's chunks, in the block's layout (nChw8c / nChw16c with `blocked_library`, else NCHW),
    and in training all four steps are one native op that recomputes the concatenation, BN-ReLU
    and pooling in the backward pass instead of keeping them (mindcv/ops/dense_bottleneck.py).
    With `to_blocked` (and no chunks) it changes its NCHW input to `blocked_library`'s layout
    first, runs the BN-ReLU and the pool on oneDNN's blocked kernels and hands the next dense
    block a blocked output. With `stored_chunks` too (the default on the blocked path), in
    training its input is the block's chunks with the batch statistics of all but the last, and
    all four steps are one native op that keeps only the pooled tensor for the backward. On the
    chunks, eval mode runs one native op on the moving statistics (but while exporting,
    `use_builtin`).
    """

    def __init__(
        self,
        num_input_features: int,
        num_output_features: int,
        chunks: int = 0,
        blocked_library: Optional[str] = None,
        to_blocked: bool = False,
        stored_chunks: int = 0,
    ):
        super().__init__()
        self.chunks = chunks
        pool = nn.AvgPool2d(kernel_size=2, stride=2)
        blocked = to_blocked and not chunks  # chunks bring their own layout
        self.to_blocked = ToBlocked(blocked_library) if blocked else nn.Identity()
        if blocked:
            norm, relu = BlockedBatchNorm2d(blocked_library, num_input_features, relu=True), nn.Identity()
            pool = OneDNNPool2d(blocked_library, pool, 2, 2, max_pool=False)
        else:
            norm, relu = nn.BatchNorm2d(num_input_features), nn.ReLU()
        self.features = nn.SequentialCell(
            OrderedDict(
                [
                    ("norm", norm),
                    ("relu", relu),
                    ("pool", pool),
                    ("conv", _conv(num_input_features, num_output_features, 1)),
                ]
            )
        )
        self.fixed = None  # eval mode on the block's chunks
        if chunks or stored_chunks:
            self.recomputed_norm = (norm,)  # reachable under mixed precision, as in _DenseLayer
            library = blocked_library or _native_library()
            self.fixed = FixedDenseBottleneck(library, chunks or stored_chunks, norm.eps, pool=True)
        if chunks:
            self.recomputed = RecomputedDenseBottleneck(_native_library(), chunks, norm.eps, pool=True)
            self.concat = ops.Concat(axis=1)
            self.to_plain = ToPlain(blocked_library) if blocked_library else nn.Identity()
        self.stored = None
        if stored_chunks:
            self.stored = StoredDenseBottleneck(
                blocked_library, stored_chunks, norm.eps, known=True, pool=True
            )
        self.use_builtin = False

    def construct(self, x):
        if self.fixed is not None and not self.training and not self.use_builtin:  # x: the block's chunks
            y = _fixed(self.fixed, x, self.recomputed_norm[0], self.features.conv)
            return self.to_plain(y) if self.chunks else y
        if self.chunks:  # x: the tuple of the block's chunks
            if self.training:
                norm, conv = self.recomputed_norm[0], self.features.conv
                return self.to_plain(_recomputed(self.recomputed, x, norm, conv))
            x = self.to_plain(self.concat(x))
        if self.stored is not None and self.training:
            chunks, known_mean, known_var = x  # the block's chunks, the statistics of all but the last
            norm, conv = self.recomputed_norm[0], self.features.conv
            y, mean, var = self.stored(
                chunks, norm.gamma, norm.beta, conv.weight, conv.cfg, known_mean, known_var
            )
            _update_from_batch(norm, mean, var, chunks)
            return y
        return self.features(self.to_blocked(x))


class DenseNet(nn.Cell):
    """DenseNet-BC with timm's interface: `forward_features`, `forward_head`, `reset_classifier`.

    With `features_only=True` the network returns the feature maps selected by `out_indices`
    (default: all) from the five levels (stem, then after each dense block; reductions 2, 4, 8,
    16, 32) and has no classifier. `memory_efficient=True` recomputes each dense layer's bottleneck in the
    backward pass instead of storing its activations.
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        in_channels: int = 3,
        num_classes: int = 1000,
        memory_efficient: bool = False,
        features_only: bool = False,
        out_indices: Optional[Sequence[int]] = None,
    ):
        super().__init__()
        if memory_efficient and ms.get_context("device_target") == "CPU" and not _native_library():
            _logger.warning(
                "memory_efficient=True is off: on CPU it saves memory only with the native oneDNN ops; "
                "MindSpore 2.10's recomputation on its own CPU kernels raised peak memory (3.9x in Graph "
                "mode, 1.5x in PyNative; docs/performance.md)"
            )
            memory_efficient = False
        layers = OrderedDict()
        # The first block's layout, where the native ops keep it from the stem convolution's
        # output on: norm0 and relu0 are one BN-ReLU op on it (oneDNN's NCHW BatchNorm is its
        # generic kernel), and the stem pool keeps it
        stem_library = _blocked_library(num_init_features, growth_rate, bn_size * growth_rate)
        layers["conv0"] = _conv(
            in_channels, num_init_features, 7, stride=2, blocked_output=bool(stem_library)
        )
        if stem_library:
            layers["norm0"] = BlockedBatchNorm2d(stem_library, num_init_features, relu=True)
            layers["relu0"] = _BlockedReLU0(stem_library)
        else:
            layers["norm0"] = nn.BatchNorm2d(num_init_features)
            layers["relu0"] = nn.ReLU()
        layers["pool0"] = _stem_pool(stem_library)
        input_blocked = bool(stem_library)  # the next dense block's input
        self.feature_info = [{"num_chs": num_init_features, "reduction": 2, "module": "features.relu0"}]
        stage_ends = [2]

        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            last = i == len(block_config) - 1
            block = _DenseBlock(
                num_layers,
                num_features,
                bn_size,
                growth_rate,
                drop_rate=drop_rate,
                memory_efficient=memory_efficient,
                return_chunks=not last,  # its feature_map gives the level's map (forward_intermediates)
                blocked_input=input_blocked,
            )
            layers[f"denseblock{i + 1}"] = block
            num_features += num_layers * growth_rate
            self.feature_info.append(
                {"num_chs": num_features, "reduction": 4 * 2**i, "module": f"features.denseblock{i + 1}"}
            )
            stage_ends.append(len(layers) - 1)
            # Whether the transition's output (the next block's input) fits the block's layout
            next_fits = bool(block.blocked) and bool(
                _blocked_library(num_features // 2, growth_rate, bn_size * growth_rate)
            )
            if block.return_chunks and block.blocked and not next_fits:
                block.return_chunks = False  # the chunked transition could not hand it on blocked
            # The transition works in the blocked layout, handing it to the next block, when that
            # block fits it (memory_efficient=True on the native path hands it the chunks instead).
            blocked_transition = next_fits and not (last or memory_efficient)
            if not last:
                chunks = num_layers + 1 if block.return_chunks else 0
                layers[f"transition{i + 1}"] = _Transition(
                    num_features,
                    num_features // 2,
                    chunks if block.chunked else 0,
                    block.blocked,
                    to_blocked=blocked_transition,
                    stored_chunks=chunks if block.stored else 0,
                )
                num_features //= 2
            input_blocked = blocked_transition
        layers["norm5"] = nn.BatchNorm2d(num_features)
        layers["relu5"] = nn.ReLU()
        self.features = nn.SequentialCell(layers)
        self.feature_info[-1]["module"] = "features.relu5"
        stage_ends[-1] = len(layers) - 1

        self.num_features = num_features
        self.features_only = features_only
        self.out_indices = tuple(range(len(stage_ends)) if out_indices is None else out_indices)
        if features_only:
            bad = [i for i in self.out_indices if not 0 <= i < len(stage_ends)]
            if bad:
                raise ValueError(
                    f"out_indices {bad} out of range: DenseNet has levels 0..{len(stage_ends) - 1}"
                )
            self.feature_info = [self.feature_info[i] for i in self.out_indices]
            self._selected_ends = tuple(stage_ends[i] for i in self.out_indices)
        else:
            self.num_classes = num_classes
            self.classifier = self._make_classifier(num_classes)

    def _make_classifier(self, num_classes: int) -> nn.Cell:
        if num_classes <= 0:
            return nn.Identity()
        return nn.Dense(self.num_features, num_classes, bias_init=Zero())

    def get_classifier(self) -> nn.Cell:
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head for `num_classes` outputs (0 returns pooled features)."""
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes)
        # Graph mode keys compiled graphs by input signature only: forget them so the new head is used.
        self.compile_cache.clear()

    def forward_features(self, x):
        return self.features(x)

    def forward_head(self, x, pre_logits: bool = False):
        x = x.mean(axis=(2, 3))
        return x if pre_logits else self.classifier(x)

    def forward_intermediates(self, x) -> Tuple:
        """The feature maps at the levels chosen by `out_indices`."""
        outs = ()
        for i, cell in enumerate(self.features):
            x = cell(x)
            if i in self._selected_ends:
                outs += (feature_map(cell, x),)
        return outs

    def construct(self, x):
        if self.features_only:
            return self.forward_intermediates(x)
        return self.forward_head(self.forward_features(x))


# growth rate, layers per block, stem channels: the papers' (and torchvision's) configurations.
ARCHITECTURES = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
    "densenet_test": (16, (2, 2, 2, 2), 32),
}


def _densenet(name, pretrained, num_classes, in_channels, **kwargs) -> DenseNet:
    """MindCV's entry point: `pretrained` loads the published weights into the built model."""
    growth_rate, block_config, num_init_features = ARCHITECTURES[name]
    model = DenseNet(
        growth_rate=growth_rate,
        block_config=block_config,
        num_init_features=num_init_features,
        num_classes=num_classes,
        in_channels=in_channels,
        **kwargs,
    )
    if pretrained:
        load_weights(model, name, pretrained=True, in_channels=in_channels)
    return model


@register_model
def densenet121(
    pretrained: bool = False, num_classes: int = 1000, in_channels: int = 3, **kwargs
) -> DenseNet:
    """DenseNet-121: growth 32, blocks (6, 12, 24, 16), 64 stem channels."""
    return _densenet("densenet121", pretrained, num_classes, in_channels, **kwargs)


@register_model
def densenet161(
    pretrained: bool = False, num_classes: int = 1000, in_channels: int = 3, **kwargs
) -> DenseNet:
    """DenseNet-161: growth 48, blocks (6, 12, 36, 24), 96 stem channels."""
    return _densenet("densenet161", pretrained, num_classes, in_channels, **kwargs)


@register_model
def densenet169(
    pretrained: bool = False, num_classes: int = 1000, in_channels: int = 3, **kwargs
) -> DenseNet:
    """DenseNet-169: growth 32, blocks (6, 12, 32, 32), 64 stem channels."""
    return _densenet("densenet169", pretrained, num_classes, in_channels, **kwargs)


@register_model
def densenet201(
    pretrained: bool = False, num_classes: int = 1000, in_channels: int = 3, **kwargs
) -> DenseNet:
    """DenseNet-201: growth 32, blocks (6, 12, 48, 32), 64 stem channels."""
    return _densenet("densenet201", pretrained, num_classes, in_channels, **kwargs)


@register_model
def densenet_test(
    pretrained: bool = False, num_classes: int = 1000, in_channels: int = 3, **kwargs
) -> DenseNet:
    """A DenseNet of the same cells at a fraction of the depth and width (growth 16, blocks
    (2, 2, 2, 2), 32 stem channels, every count a multiple of 16), for end-to-end tests where depth
    does not matter, like timm's `test_*` models: it compiles and trains in seconds. No weights."""
    return _densenet("densenet_test", pretrained, num_classes, in_channels, **kwargs)
