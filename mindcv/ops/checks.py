"""Shape and dtype checks of the native ops' inputs, in Python.

The ops' MindSpore shape and dtype functions call these before any kernel runs (in Graph and
PyNative mode alike), so a mismatch is a ValueError or TypeError naming the op and the tensor,
never a call into the C++ library with tensors it would overrun. The library checks the same
again and writes nothing on a mismatch (onednn_runtime.h).

Activations are NCHW (N, C, H, W) or oneDNN's nChw8c / nChw16c (the channel block B = 8 or 16)
held as (N, C/B, H, W, B); see mindcv/ops/blocked.py.
"""

from typing import Sequence, Tuple

import mindspore as ms

BLOCKS = (8, 16)


def activation(op: str, name: str, shape: Sequence[int]) -> Tuple[int, int, int, int, int]:
    """(N, C, H, W, B) of an activation shape, B 0 for NCHW."""
    shape = list(shape)
    if len(shape) == 4 and min(shape) > 0:
        return (*shape, 0)
    if len(shape) == 5 and shape[4] in BLOCKS and min(shape) > 0:
        n, blocks, h, w, block = shape
        return n, blocks * block, h, w, block
    raise ValueError(
        f"{op}: {name} must be an NCHW (N, C, H, W) tensor or a blocked (N, C/B, H, W, B) one with B "
        f"in {BLOCKS}, got shape {shape}"
    )


def activation_shape(op: str, name: str, n: int, c: int, h: int, w: int, block: int) -> list:
    """The shape of an (N, C, H, W) activation in the layout of block B (0: NCHW)."""
    if not block:
        return [n, c, h, w]
    if c % block:
        raise ValueError(
            f"{op}: {name} would have {c} channels, not a multiple of the channel block {block}: "
            "use NCHW tensors for it"
        )
    return [n, c // block, h, w, block]


def vector(op: str, name: str, shape: Sequence[int], channels: int) -> None:
    if list(shape) != [channels]:
        raise ValueError(f"{op}: {name} must have shape [{channels}] (per channel), got {list(shape)}")


def same_shape(op: str, name: str, shape: Sequence[int], expected: Sequence[int]) -> None:
    if list(shape) != list(expected):
        raise ValueError(f"{op}: {name} must have shape {list(expected)}, got {list(shape)}")


def dtypes(op: str, types: Sequence, expected: Sequence = None) -> None:
    """Each of a Custom op's dtype-function arguments (tensor types) must hold the element type
    at its position in `expected` (all float32 by default)."""
    for i, tensor_type in enumerate(types):
        want = expected[i] if expected else ms.float32
        if tensor_type.element_type() != want:
            raise TypeError(f"{op}: input {i} must be {want}, got {tensor_type.element_type()}")
