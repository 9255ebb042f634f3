"""Calling the native library's entry points directly, as MindSpore's aot kernels do."""

import ctypes

from mindcv.ops import native_conv_library


def call(entry: str, *arrays) -> int:
    """Call a C++ entry point as MindSpore does: inputs then outputs, with ranks, shapes, dtypes."""
    n = len(arrays)
    shapes = [(ctypes.c_int64 * a.ndim)(*a.shape) for a in arrays]
    return getattr(ctypes.CDLL(native_conv_library()), entry)(
        n,
        (ctypes.c_void_p * n)(*[a.ctypes.data for a in arrays]),
        (ctypes.c_int * n)(*[a.ndim for a in arrays]),
        (ctypes.POINTER(ctypes.c_int64) * n)(*shapes),
        (ctypes.c_char_p * n)(*[str(a.dtype).encode() for a in arrays]),
        None,
        None,
    )
