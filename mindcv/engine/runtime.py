"""Process set-up shared by every script: device, mode, threads, seeds, data parallel."""

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Dict, Optional

from ..names import DEVICES as _DEVICES
from ..utils.distributed import DistributedInfo, init_distributed
from ..utils.errors import MindCVError

__all__ = [
    "compile_cache_env",
    "compile_cache_folder",
    "enable_compile_cache",
    "init_runtime",
    "limit_onednn_isa",
    "source_digest",
]

_PACKAGE = Path(__file__).resolve().parents[1]


def source_digest() -> str:
    """A digest of this package's Python source: cached graphs of older code are never reused."""
    digest = hashlib.sha1()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def compile_cache_folder(setting: str, options: dict) -> Optional[Path]:
    """Where Graph mode caches compiled graphs: `setting` is auto, '' (off) or a folder.

    auto keys the folder by the package source and every option, because MindSpore checks only
    the network's source files: a cache shared by runs with another optimizer or batch size
    would load the wrong graph.
    """
    if not setting:
        return None
    if setting != "auto":
        return Path(setting)
    from ..utils.download import get_mindcv_home

    key = hashlib.sha1(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return get_mindcv_home() / "compile_cache" / source_digest() / key


def compile_cache_env(folder: Path) -> Dict[str, str]:
    """The environment that makes MindSpore save compiled graphs to `folder` and load them from
    there (the 2.10 replacement of `set_context(enable_compile_cache=..., compile_cache_path=...)`)."""
    return {"MS_COMPILER_CACHE_ENABLE": "1", "MS_COMPILER_CACHE_PATH": str(folder)}


def enable_compile_cache(folder: Optional[Path]) -> None:
    """Save compiled graphs to `folder` and load them from there (MindSpore reads this at compile time)."""
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MindCVError(
                f"cannot use {folder} as the compile cache ({exc.strerror or exc}); pass a writable "
                "--compile_cache folder, or --compile_cache '' to turn it off"
            ) from exc
        os.environ.update(compile_cache_env(folder))


def limit_onednn_isa() -> bool:
    """Choose the CPU convolution path now, before the first CPU kernel: see mindcv/ops/native.py.

    With the native oneDNN convolutions (returns True) oneDNN stays uncapped; without them it is
    capped at AVX2 (its AVX-512 plain-layout convolution is the reference kernel), unless
    ONEDNN_MAX_CPU_ISA is set.
    """
    from ..ops.native import native_conv_library

    return native_conv_library() is not None


def _key_compile_cache_by_conv_path(native: bool) -> None:
    """Keep graphs compiled on each convolution path apart: MindSpore's compile cache loaded the
    custom-op graph into a fallback run (measured), and the other way round a built-in Conv2D
    would run uncapped, on oneDNN's reference kernel. bf16 is in the graph too (a constant), and
    so is the native library's path, whose folder is the build's key (mindcv/ops/native.py): a
    change to the C++ alone must not load a graph naming the old library. So is the channel
    block of the blocked shapes, oneDNN's effective ISA's (an ONEDNN_MAX_CPU_ISA=AVX2 run loaded
    an uncapped run's graph of 16-channel blocks and failed)."""
    from ..ops.blocked import channel_block
    from ..ops.native import native_conv_bf16, native_conv_library

    path = os.environ.get("MS_COMPILER_CACHE_PATH")
    if native:
        library = native_conv_library()
        bf16 = "-bf16" if native_conv_bf16() else ""
        tag = f"onednn{bf16}-b{channel_block(library)}-{Path(library).parent.name}"
    else:
        tag = "builtin-conv"
    if path and Path(path).name != tag:
        os.environ["MS_COMPILER_CACHE_PATH"] = str(Path(path) / tag)


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
    compile_cache: Optional[Path] = None,
) -> DistributedInfo:
    """Configure MindSpore for this process and return its rank and the group size."""
    import mindspore as ms

    target = resolve_device_target(device_target)
    ms.set_device(target)
    ms.set_context(mode=mode)
    native = False
    if target == "CPU":
        native = limit_onednn_isa()
        ms.device_context.cpu.op_tuning.threads_num(threads or os.cpu_count() or 1)
    if mode == 0:
        enable_compile_cache(compile_cache)  # or benchmark.py's, set before this process started
        _key_compile_cache_by_conv_path(native)
    if deterministic:
        ms.set_deterministic(True)
    info = init_distributed(target) if distribute else DistributedInfo()
    ms.set_seed(seed)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not info.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    return info
