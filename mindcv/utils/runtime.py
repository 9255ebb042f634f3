"""Process set-up shared by every script: quiet logs, device, mode, threads, seeds, data parallel."""

import logging
import os

from .distributed import DistributedInfo, init_distributed
from .errors import MindCVError

__all__ = ["init_runtime", "quiet_mindspore", "resolve_device_target"]

_DEVICES = ("CPU", "GPU", "Ascend")


def quiet_mindspore() -> None:
    """Silence MindSpore's INFO/WARNING flood; must run before mindspore is imported."""
    os.environ.setdefault("GLOG_v", "3")
    os.environ.setdefault("GLOG_logtostderr", "1")


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
    quiet_mindspore()
    import mindspore as ms

    target = resolve_device_target(device_target)
    ms.set_device(target)
    ms.set_context(mode=mode)
    if target == "CPU":
        ms.device_context.cpu.op_tuning.threads_num(threads or os.cpu_count() or 1)
    if deterministic:
        ms.set_deterministic(True)
    info = init_distributed(target) if distribute else DistributedInfo()
    ms.set_seed(seed)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not info.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    return info
