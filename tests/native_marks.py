"""Skip marks for tests of the native oneDNN ops, which need a compiler and, for bfloat16, a CPU
with oneDNN bfloat16 convolutions (AVX-512, AVX2-VNNI-2 or AMX). Each fallback has its own tests."""

import pytest

from mindcv.ops import native_bf16_supported, native_conv_library
from mindcv.ops.native import BF16_UNSUPPORTED

needs_native = pytest.mark.skipif(
    native_conv_library() is None, reason="native convolution unavailable (see the warning above)"
)
needs_bf16 = pytest.mark.skipif(not native_bf16_supported(), reason=BF16_UNSUPPORTED)
lacks_bf16 = pytest.mark.skipif(
    native_conv_library() is None or native_bf16_supported(),
    reason="this CPU has oneDNN bfloat16 convolutions (or no native ops): no float32 fallback to see",
)
