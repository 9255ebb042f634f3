"""The native cells compute in float32 whatever mixed precision asks of the network around them.

Their kernels take float32 only; each casts a float16 input itself and casts the result back.
`auto_mixed_precision` (O1-O3, float16 or bfloat16) marks every cell of a network to run in the
low precision, and in PyNative mode that casts the inputs of every op inside the cell,
overriding those casts: the native ops then refused float16. A `Float32Cell` keeps itself and
its children marked float32 instead, in both modes.
"""

from mindspore import nn

__all__ = ["Float32Cell"]


class Float32Cell(nn.Cell):
    """Base of the native cells: low-precision flags set on a network reach them as float32."""

    def add_flags_recursive(self, **flags):
        if flags.get("fp16") or flags.get("bf16"):
            flags = dict(flags, fp16=False, bf16=False, fp32=True)
        return super().add_flags_recursive(**flags)
