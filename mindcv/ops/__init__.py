"""Native CPU operators: oneDNN blocked-layout convolutions and BatchNorm as MindSpore custom ops."""

from .blocked import BlockedBatchNorm2d, ToBlocked, ToPlain, channel_block, update_moving_statistics
from .native import (
    cap_onednn_isa,
    conv_path,
    cpu_has_avx2,
    cpu_has_avx512,
    native_bf16_supported,
    native_conv_bf16,
    native_conv_library,
)
from .onednn_conv import OneDNNConv2d, builtin_convolutions, use_bf16_convolutions

__all__ = [
    "BlockedBatchNorm2d",
    "ToBlocked",
    "ToPlain",
    "channel_block",
    "update_moving_statistics",
    "OneDNNConv2d",
    "builtin_convolutions",
    "cap_onednn_isa",
    "conv_path",
    "cpu_has_avx2",
    "cpu_has_avx512",
    "native_bf16_supported",
    "native_conv_bf16",
    "native_conv_library",
    "use_bf16_convolutions",
]
