"""Build, check and choose the oneDNN convolution library (conv2d.cc) once per process.

The native path is made for x86 CPUs with AVX-512, where MindSpore 2.10 runs plain-layout (NCHW)
convolutions on oneDNN's reference kernel, and is faster on AVX2-only ones too (blocks of 8
channels there: DenseNet-121 trained 1.29x MindSpore's own kernels on an AVX2-only EPYC). By
default (MINDCV_NATIVE_CONV unset or `auto`) it is taken on x86 CPUs with AVX2, and MindSpore's
own kernels elsewhere (ARM, where it was never measured); MINDCV_NATIVE_CONV=1 forces it (the
tests do, to check it on any CPU), 0 turns it off.

The choice is made before MindSpore runs its first CPU kernel, because it decides a
process-wide setting: MindSpore's plain-layout oneDNN convolutions need oneDNN capped at AVX2
(ONEDNN_MAX_CPU_ISA, read once), and that cap would also cap the blocked-layout kernels of the
native path. So either the native path is on and oneDNN is left uncapped, or MindSpore's Conv2D
runs with the cap (a no-op without AVX-512); when the native path was wanted but cannot be had,
one warning line says why.

The library is compiled at first use (pip's build isolation has no MindSpore to link against)
into `$MINDCV_HOME/native/<key>/`, the key hashing the sources (C++, op wrapper, self-test),
headers, compiler and MindSpore version; the build runs under a folder lock and is renamed into
place. A self-test against nn.Conv2d runs once per build in a subprocess, so a crash there cannot
take this process down and a failure can still fall back with the cap; its verdict is kept, with
whether this CPU has oneDNN bfloat16 convolutions (AVX-512, AVX2-VNNI-2 or AMX) for amp_level bf16.
Child processes inherit the checked library's path and skip the checks.
"""

import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from ..utils.atomic import atomic_write_bytes
from ..utils.download import directory_lock, get_mindcv_home

__all__ = [
    "NativeUnavailable",
    "cap_onednn_isa",
    "conv_path",
    "cpu_has_avx2",
    "cpu_has_avx512",
    "native_bf16_supported",
    "native_conv_bf16",
    "native_conv_library",
]

_HERE = Path(__file__).resolve().parent
_SOURCES = [_HERE / "conv2d.cc", _HERE / "batch_norm.cc"]  # and their shared onednn_runtime.h
_HEADERS = _HERE / "third_party"
_CPUINFO = Path("/proc/cpuinfo")
_INHERITED = "_MINDCV_NATIVE_CONV_LIB"  # a checked library, passed to child processes
_FALLBACK = "using MindSpore's Conv2D capped at AVX2 (about 1.4x slower CPU training)"
BF16_UNSUPPORTED = "this CPU has no oneDNN bfloat16 convolutions (they need AVX-512, AVX2-VNNI-2 or AMX)"
_logger = logging.getLogger(__name__)


class NativeUnavailable(Exception):
    """Why the native convolution cannot be used, with what to do about it."""


class _Interrupted(NativeUnavailable):
    """A build or self-test that did not finish (a busy machine, say): not kept as the build's verdict."""


def cap_onednn_isa() -> None:
    """Cap MindSpore's oneDNN CPU kernels at AVX2 unless the user chose an ISA.

    On the AVX-512/AMX Xeon this project is measured on, MindSpore 2.10's oneDNN AVX-512 path
    runs a plain-layout 3x3 convolution about 80x slower than its AVX2 path (6.7 s vs 0.076 s
    for 16x128x56x56), which made DenseNet training 10x slower. oneDNN reads the cap when it
    creates its first kernel. Set ONEDNN_MAX_CPU_ISA yourself (e.g. to ALL) to opt out.
    """
    isa = os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    os.environ.setdefault("DNNL_MAX_CPU_ISA", isa)


def _mindspore_lib() -> Path:
    spec = importlib.util.find_spec("mindspore")
    if spec is None or spec.origin is None:
        raise NativeUnavailable("MindSpore is not installed")
    lib = Path(spec.origin).parent / "lib" / "libdnnl.so.3"
    if not lib.exists():
        raise NativeUnavailable(f"MindSpore has no oneDNN 3 library ({lib} missing): install mindspore>=2.3")
    return lib.parent


def _compiler() -> list:
    cxx = shlex.split(os.environ.get("CXX") or "g++")
    if not cxx or shutil.which(cxx[0]) is None:
        raise NativeUnavailable(
            f"no C++ compiler ({cxx[0] if cxx else 'CXX is empty'} not found): install g++ "
            "(e.g. `apt-get install g++`) or point CXX at one"
        )
    return cxx


def _build_folder(cxx: list) -> Path:
    digest = hashlib.sha1()
    python = [_HERE / "onednn_conv.py", _HERE / "blocked.py", _HERE / "selftest.py"]
    for path in [*_SOURCES, _HERE / "onednn_runtime.h", *python, *sorted(_HEADERS.rglob("*.h*"))]:
        digest.update(path.read_bytes())
    digest.update(" ".join(cxx).encode())
    digest.update(importlib.metadata.version("mindspore").encode())
    return get_mindcv_home() / "native" / digest.hexdigest()[:16]


def _compile(cxx: list, lib_dir: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    command = [
        *cxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-pthread", f"-I{_HEADERS}", *map(str, _SOURCES),
        "-o", str(partial), f"-L{lib_dir}", "-l:libdnnl.so.3", f"-Wl,-rpath,{lib_dir}",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Interrupted(f"{cxx[0]} could not build the native ops ({exc})") from exc
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        first = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr.strip())
        raise NativeUnavailable(f"{cxx[0]} failed to build the native ops: {first[:300]}")
    os.replace(partial, target)


def _self_test(library: Path) -> str:
    """Compare the library with nn.Conv2d in a child process (mindcv/ops/selftest.py); returns the
    precisions it passed in: "bf16" (float32 and bfloat16) or "fp32"."""
    env = dict(os.environ, GLOG_v=os.environ.get("GLOG_v", "3"))
    command = [sys.executable, "-m", "mindcv.ops.selftest", str(library)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=600, env=env, cwd=_HERE.parents[1]
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Interrupted(f"its self-test did not finish ({exc})") from exc
    lines = (result.stdout + result.stderr).strip().splitlines()
    if result.returncode != 0 or not lines or lines[-1] not in ("ok bf16", "ok fp32"):
        raise NativeUnavailable(
            f"its self-test against nn.Conv2d failed: {lines[-1] if lines else result.returncode}"
        )
    return lines[-1].split()[1]


def _checked_library() -> Path:
    """The built, self-tested library, building and testing it first if needed."""
    cxx = _compiler()
    lib_dir = _mindspore_lib()
    folder = _build_folder(cxx)
    library, passed, failed = folder / "conv2d.so", folder / "passed", folder / "failed"
    inherited = Path(os.environ.get(_INHERITED, "/nonexistent"))
    if inherited.parent.name == folder.name and inherited.exists():
        return inherited  # checked by a parent process, perhaps under another MINDCV_HOME
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NativeUnavailable(
            f"cannot write its build folder {folder} ({exc.strerror}): set MINDCV_HOME"
        ) from exc
    with directory_lock(folder):
        if failed.exists():
            raise NativeUnavailable(f"{failed.read_text().strip()} (kept verdict: delete {folder} to retry)")
        if not passed.exists():
            try:
                if not library.exists():
                    _compile(cxx, lib_dir, library)
                precisions = _self_test(library)
            except _Interrupted:
                raise
            except NativeUnavailable as exc:
                failed.write_text(f"{exc}\n")  # once per build: later imports reuse the verdict
                raise
            atomic_write_bytes(passed, f"{precisions}\n".encode())
    return library


def native_conv_setting() -> str:
    """MINDCV_NATIVE_CONV: auto (the default), 1, 0 or bf16."""
    return os.environ.get("MINDCV_NATIVE_CONV", "auto")


@functools.cache
def _cpu_flags() -> frozenset:
    """/proc/cpuinfo's x86 flags; empty where there are none to read (other OSes, ARM's "Features")."""
    try:
        lines = _CPUINFO.read_text().splitlines()
    except OSError:
        return frozenset()
    return frozenset(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))


def cpu_has_avx512() -> bool:
    """Whether this CPU has oneDNN's avx512_core (AVX-512 F, BW, VL, DQ)."""
    return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= _cpu_flags()


def cpu_has_avx2() -> bool:
    return "avx2" in _cpu_flags()


@functools.cache
def native_conv_library() -> Optional[str]:
    """Path of the checked native convolution library, or None after capping oneDNN (and warning
    why, when the native path was wanted): see the module's docstring for MINDCV_NATIVE_CONV."""
    setting = native_conv_setting()
    if setting == "auto" and not cpu_has_avx2():
        cap_onednn_isa()
        _logger.info("mindcv: not an x86 CPU with AVX2, so MindSpore's own convolutions")
        return None
    try:
        if setting == "0":
            raise NativeUnavailable("MINDCV_NATIVE_CONV=0 turns them off; unset it to use them")
        library = str(_checked_library())
    except NativeUnavailable as exc:
        cap_onednn_isa()
        _logger.warning("mindcv: fast oneDNN CPU convolutions unavailable: %s; %s", exc, _FALLBACK)
        return None
    os.environ[_INHERITED] = library
    return library


def native_bf16_supported() -> bool:
    """Whether the native convolutions can compute in bfloat16 on this CPU: oneDNN has bfloat16
    convolutions on AVX-512 (fastest with AVX512_BF16 or AMX) and AVX2-VNNI-2, none on plain AVX2."""
    library = native_conv_library()
    if library is None:
        return False
    passed = Path(library).parent / "passed"
    return passed.exists() and passed.read_text().strip() == "bf16"


def native_conv_bf16() -> bool:
    """MINDCV_NATIVE_CONV=bf16: the native convolutions compute in bfloat16 on float32 tensors.

    An experiment for CPUs with AVX512_BF16 or AMX: relative error about 3e-3 against float32.
    Where this CPU has no bfloat16 convolutions it warns once and they stay float32.
    """
    if native_conv_setting() != "bf16":
        return False
    if not native_bf16_supported():
        _warn_bf16_ignored()
        return False
    return True


@functools.cache
def _warn_bf16_ignored() -> None:
    _logger.warning("mindcv: MINDCV_NATIVE_CONV=bf16 ignored: %s", BF16_UNSUPPORTED)


def conv_path(bf16: bool = False) -> str:
    """The kernels DenseNet's convolutions run on in this process, as reports name them;
    `bf16`: the network's were switched to bfloat16 (amp_level bf16)."""
    import mindspore as ms

    if ms.get_context("device_target") != "CPU":
        return "MindSpore Conv2D"
    if native_conv_library() is None:
        return "built-in Conv2D, AVX2 cap" if cpu_has_avx512() else "built-in Conv2D"
    return "oneDNN blocked " + ("bf16" if bf16 or native_conv_bf16() else "fp32")
