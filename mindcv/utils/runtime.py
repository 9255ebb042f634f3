"""Process set-up shared by every script: device, mode, threads, seeds, data parallel."""

import logging
import os

from .distributed import DistributedInfo, init_distributed
from .errors import MindCVError

__all__ = ["init_runtime", "limit_onednn_isa", "resolve_device_target"]

_DEVICES = ("CPU", "GPU", "Ascend")


def limit_onednn_isa() -> None:
    """Cap MindSpore's oneDNN CPU kernels at AVX2 unless the user chose an ISA.

    On the AVX-512/AMX Xeon this project is measured on, MindSpore 2.10's oneDNN AVX-512 path
    runs a 3x3 convolution about 80x slower than its AVX2 path (6.7 s vs 0.076 s for
    16x128x56x56), which made DenseNet training 10x slower. oneDNN reads the cap when it
    creates its first kernel, so this must run before the first CPU operator executes.
    Set ONEDNN_MAX_CPU_ISA yourself (e.g. to ALL) to opt out.
    """
    isa = os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    os.environ.setdefault("DNNL_MAX_CPU_ISA", isa)


def resolve_device_target(device_target: str) -> str:
    """ "auto" picks Ascend, then GPU, then CPU; a named device must be usable in this install."""
    import mindspore as ms

    available = [d for d in _DEVICES if getattr(ms.device_context, d.lower()).is_available()]
    if device_target.lower() == "auto":
        return next((d for d in ("Ascend", "GPU") if d in available), "CPU")
    name = {d.lower(): d for d in _DEVICES}.get(device_target.lower())
    if name is None or name not in available:
        raise MindCVError(
            f"device_target {device_target} is not available in this MindSpore install "
            f"(available: {', '.join(available)}); use --device_target {available[0]} or auto"
        )
    return name


def init_runtime(
    mode: int = 0,
    device_target: str = "auto",
    threads: int = 0,
    seed: int = 42,
    deterministic: bool = False,
    distribute: bool = False,
) -> DistributedInfo:
    """Configure MindSpore for this process and return its rank and the group size."""
    import mindspore as ms

    target = resolve_device_target(device_target)
    ms.set_device(target)
    ms.set_context(mode=mode)
    if target == "CPU":
        limit_onednn_isa()
        ms.device_context.cpu.op_tuning.threads_num(threads or os.cpu_count() or 1)
    if deterministic:
        ms.set_deterministic(True)
    info = init_distributed(target) if distribute else DistributedInfo()
    ms.set_seed(seed)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not info.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    return info
