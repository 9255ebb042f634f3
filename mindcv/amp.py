"""Mixed precision: the amp levels every script accepts, and applying one to a network.

O1-O3 are MindSpore's float16 levels (`mindspore.amp.auto_mixed_precision`). `bf16` computes the
convolutions in bfloat16 and keeps every tensor, weight and BatchNorm in float32, as torch's
CPU autocast does for convolutions: on CPU through the native oneDNN kernels (AVX512_BF16 or
AMX instructions; MindSpore's own bfloat16 convolutions have no CPU kernel), on GPU and Ascend
through `auto_mixed_precision(network, "O1", dtype=bfloat16)`, which is written from MindSpore's
documentation and untested here. bfloat16 has float32's exponent range, so it needs no loss scale.
"""

import logging
import re
from typing import Optional

from .names import AMP_LEVELS
from .utils.errors import MindCVError

__all__ = ["AMP_LEVELS", "apply_mixed_precision", "check_bf16_on_cpu", "resolve_loss_scale_type"]

_logger = logging.getLogger(__name__)


def resolve_loss_scale_type(loss_scale_type: str, amp_level: str) -> str:
    """ "fixed" or "dynamic" for `create_trainer`: "auto" is dynamic at the float16 levels O1-O3
    (fp16 gradients overflow now and then) and fixed in float32 and bf16."""
    if loss_scale_type == "auto":
        return "dynamic" if amp_level in ("O1", "O2", "O3") else "fixed"
    return loss_scale_type


def apply_mixed_precision(network, amp_level: str, amp_cast_list: Optional[str] = None):
    """Apply `amp_level` to `network` in place (and return it).

    `amp_cast_list` (MindCV's, e.g. "[nn.BatchNorm2d]") replaces MindSpore's white list of fp16
    cells for O1, or its black list of fp32 cells for O2; it has no effect at other levels.
    """
    import mindspore as ms  # here: importing this module must not load MindSpore

    if amp_level not in AMP_LEVELS:
        raise MindCVError(f"amp_level {amp_level!r} is unknown: choose one of {', '.join(AMP_LEVELS)}")
    cells = _cell_classes(amp_cast_list) if amp_cast_list else None
    if cells and amp_level not in ("O1", "O2"):
        _logger.warning("amp_cast_list has no effect at amp_level %s; it applies to O1 and O2", amp_level)
    if amp_level == "bf16":
        _apply_bf16(network)
    elif cells and amp_level in ("O1", "O2"):
        lists = {"white_list": cells} if amp_level == "O1" else {"black_list": cells}
        ms.amp.custom_mixed_precision(network, **lists)
    elif amp_level != "O0":
        ms.amp.auto_mixed_precision(network, amp_level)
    return network


def check_bf16_on_cpu() -> None:
    """Raise, saying why and what to do, when amp_level bf16 cannot run on this machine's CPU."""
    from .ops import cpu_has_avx2, native_bf16_supported, native_conv_library
    from .ops.native import BF16_UNSUPPORTED, native_conv_setting

    if native_conv_library() is None and native_conv_setting() == "auto" and not cpu_has_avx2():
        raise MindCVError(
            "amp_level bf16 on CPU needs this package's native oneDNN convolutions, which run by default "
            "on x86 CPUs with AVX2 only (MINDCV_NATIVE_CONV=1 forces them): use --amp_level O0"
        )
    if native_conv_library() is None:
        raise MindCVError(
            "amp_level bf16 on CPU needs the native oneDNN convolutions, which are unavailable here "
            "(the warning above says why): install g++ or use --amp_level O0"
        )
    if not native_bf16_supported():
        raise MindCVError(f"amp_level bf16: {BF16_UNSUPPORTED}: use --amp_level O0")


def _apply_bf16(network) -> None:
    import mindspore as ms

    from .ops import use_bf16_convolutions

    if ms.get_context("device_target") != "CPU":
        ms.amp.auto_mixed_precision(network, "O1", dtype=ms.bfloat16)
        return
    check_bf16_on_cpu()
    if use_bf16_convolutions(network) == 0:
        raise MindCVError(
            "amp_level bf16 on CPU computes this package's native convolutions in bfloat16, and this "
            "network has none (build it with create_model on CPU): use --amp_level O0"
        )


def _cell_classes(text: str) -> list:
    """`"[nn.BatchNorm2d, nn.Dense]"` -> the `mindspore.nn` classes (names only: nothing is evaluated)."""
    from mindspore import nn

    names = re.findall(r"[A-Za-z_][\w.]*", text)
    cells = [getattr(nn, name.rsplit(".", 1)[-1], None) for name in names]
    bad = [n for n, c in zip(names, cells) if not (isinstance(c, type) and issubclass(c, nn.Cell))]
    if bad or not cells:
        raise MindCVError(
            f"amp_cast_list {text!r}: {', '.join(bad) or 'no'} mindspore.nn cell class; "
            "give e.g. '[nn.BatchNorm2d, nn.Dense]'"
        )
    return cells
