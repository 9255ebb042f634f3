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
into `$MINDCV_HOME/native/<key>/`, the key hashing everything that changes the binary: the files
of mindcv/ops (C++, headers, op wrappers, self-test), the compile command (compiler, flags,
MindSpore's library folder baked in as rpath), the compiler's version and MindSpore's. The build
runs under a folder lock (bounded wait, saying what it waits for) and is renamed into place. A
self-test against nn.Conv2d runs in a subprocess, so a crash there cannot take this process
down and a failure can still fall back with the cap. Its verdict is kept beside the build per CPU
(`passed-<cpu>`, saying whether it passed bfloat16 convolutions too, for amp_level bf16, or
`failed-<cpu>`), because one MINDCV_HOME may serve hosts with other CPUs; only a deterministic
failure (a compile error, a wrong value, a crash) is kept: a transient one (a full disk, a
self-test killed by the OOM killer, a timeout) is retried at the next start. Any failure to
prepare the native path falls back with one warning line. Child processes inherit the checked
library's path and skip the checks. MINDCV_NATIVE_SANITIZE=address builds it with AddressSanitizer
(its own key); Python then needs `LD_PRELOAD="$(g++ -print-file-name=libasan.so)
$(g++ -print-file-name=libstdc++.so.6)" ASAN_OPTIONS=detect_leaks=0` (libstdc++ too, or ASan's
C++-exception hook finds no __cxa_throw when a library loaded later throws).
"""

import ctypes
import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
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
_SOURCES = [
    _HERE / name for name in ("conv2d.cc", "batch_norm.cc", "dense_bottleneck.cc", "pooling.cc")
]  # + onednn_runtime.h
_HEADERS = _HERE / "third_party"
_FLAGS = ["-O2", "-std=c++17", "-shared", "-fPIC", "-pthread"]
_SANITIZE = "MINDCV_NATIVE_SANITIZE"  # e.g. address: adds -fsanitize=address
_STEP_TIMEOUT = 300  # seconds for the compile, and again for the self-test
_LOCK_TIMEOUT = 2 * _STEP_TIMEOUT + 60  # a process building it takes at most both steps
_STALE_SECONDS = 7 * 24 * 3600  # build folders unused this long, and named by no cached graph, are removed
# Signals that stop a healthy self-test from outside (the OOM killer's SIGKILL, a shutdown): retried.
_OUTSIDE_SIGNALS = {signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
# Output of a compiler or self-test that failed for want of memory or disk: retried.
_RESOURCE_ERRORS = ("No space left on device", "Disk quota exceeded", "Cannot allocate memory",
                    "virtual memory exhausted", "MemoryError", "out of memory")  # fmt: skip
_CPUINFO = Path("/proc/cpuinfo")
_INHERITED = "_MINDCV_NATIVE_CONV_LIB"  # a checked library, passed to child processes
_FALLBACK = "using MindSpore's Conv2D capped at AVX2 (about 1.4x slower CPU training)"
BF16_UNSUPPORTED = "this CPU has no oneDNN bfloat16 convolutions (they need AVX-512, AVX2-VNNI-2 or AMX)"
_logger = logging.getLogger(__name__)


class NativeUnavailable(Exception):
    """Why the native convolution cannot be used, with what to do about it."""


class _Transient(NativeUnavailable):
    """A failure of the machine, not of the build (a full disk, an OOM kill, a timeout, a busy
    lock): not kept as the build's verdict, so the next start tries again."""


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


def _compile_command(cxx: list, lib_dir: Path, output: str) -> list:
    sanitize = os.environ.get(_SANITIZE)
    extra = [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g"] if sanitize else []
    return [
        *cxx, *_FLAGS, *extra, f"-I{_HEADERS}", *map(str, _SOURCES),
        "-o", output, f"-L{lib_dir}", "-l:libdnnl.so.3", f"-Wl,-rpath,{lib_dir}",
    ]  # fmt: skip


def _compiler_version(cxx: list) -> str:
    try:
        result = subprocess.run([*cxx, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Transient(f"{cxx[0]} --version did not run ({exc})") from exc
    return result.stdout


def build_key(cxx: list, lib_dir: Path) -> str:
    """The name of the build folder: a digest of everything that changes the library."""
    digest = hashlib.sha1()
    files = sorted(p for p in _HERE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(_HERE)).encode() + b"\0" + path.read_bytes())
    for part in (
        _compile_command(cxx, lib_dir, "OUT"),
        _compiler_version(cxx),
        importlib.metadata.version("mindspore"),
    ):
        digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


def _cpu_key() -> str:
    """This CPU (its model and flags), which the self-test's verdict holds for. oneDNN's ISA cap
    is left out: native_bf16_supported asks the library in this process, under this cap."""
    model = next((line for line in _cpuinfo_lines() if line.startswith("model name")), "")
    return hashlib.sha1(f"{model}|{' '.join(sorted(_cpu_flags()))}".encode()).hexdigest()[:12]


def _failure(what: str, line: str, output: str, killed: bool) -> NativeUnavailable:
    """NativeUnavailable saying `what` failed and `line` of its output, or _Transient when the
    machine failed it, not the build: `killed` from outside, or out of memory or disk."""
    transient = killed or any(error in output for error in _RESOURCE_ERRORS)
    return (_Transient if transient else NativeUnavailable)(f"{what}: {line.strip()[:300]}")


def _compile(cxx: list, lib_dir: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        result = subprocess.run(
            _compile_command(cxx, lib_dir, str(partial)),
            capture_output=True,
            text=True,
            timeout=_STEP_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Transient(f"{cxx[0]} could not build the native ops ({exc})") from exc
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        killed = result.returncode < 0 and -result.returncode in _OUTSIDE_SIGNALS
        lines = result.stderr.splitlines() or [""]
        first = next((line for line in lines if "error" in line.lower()), lines[-1])
        raise _failure(f"{cxx[0]} failed to build the native ops", first, result.stderr, killed)
    os.replace(partial, target)


def _self_test(library: Path) -> str:
    """Compare the library with nn.Conv2d in a child process (mindcv/ops/selftest.py); returns the
    precisions it passed in: "bf16" (float32 and bfloat16) or "fp32"."""
    env = dict(os.environ, GLOG_v=os.environ.get("GLOG_v", "3"))
    command = [sys.executable, "-m", "mindcv.ops.selftest", str(library)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_STEP_TIMEOUT, env=env, cwd=_HERE.parents[1]
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Transient(f"its self-test did not finish ({exc})") from exc
    output = result.stdout + result.stderr
    verdict = (output.strip().splitlines() or [f"exit status {result.returncode}"])[-1]  # its last line
    if result.returncode == 0 and verdict in ("ok bf16", "ok fp32"):
        return verdict.split()[1]
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        killed = -result.returncode in _OUTSIDE_SIGNALS
        raise _failure(f"its self-test was killed by {name}", verdict, output, killed)
    raise _failure("its self-test against nn.Conv2d failed", verdict, output, False)


def _waiting_for(folder: Path):
    def say():
        _logger.warning(
            "mindcv: waiting (up to %d s) for another process building and testing the native ops in %s",
            _LOCK_TIMEOUT,
            folder,
        )

    return say


def _checked_library() -> Path:
    """The built, self-tested library, building and testing it first if needed."""
    cxx = _compiler()
    lib_dir = _mindspore_lib()
    folder = get_mindcv_home() / "native" / build_key(cxx, lib_dir)
    cpu = _cpu_key()
    library, passed, failed = folder / "conv2d.so", folder / f"passed-{cpu}", folder / f"failed-{cpu}"
    inherited = Path(os.environ.get(_INHERITED, "/nonexistent"))
    if inherited.parent.name == folder.name and inherited.exists():
        return inherited  # checked by a parent process, perhaps under another MINDCV_HOME
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NativeUnavailable(
            f"cannot write its build folder {folder} ({exc.strerror}): set MINDCV_HOME"
        ) from exc
    try:
        with directory_lock(folder, timeout=_LOCK_TIMEOUT, waiting=_waiting_for(folder)):
            if failed.exists():
                raise _kept_verdict(failed)
            if not (passed.exists() and library.exists()):  # a verdict without its library is rebuilt
                _build_and_test(cxx, lib_dir, library, passed, failed)
            os.utime(folder)  # last used now: see _remove_stale_builds
    except TimeoutError as exc:
        raise _Transient(f"the build in {folder} by another process did not finish ({exc})") from exc
    _remove_stale_builds(folder)
    return library


def _build_and_test(cxx: list, lib_dir: Path, library: Path, passed: Path, failed: Path) -> None:
    try:
        if not library.exists():
            _compile(cxx, lib_dir, library)
        precisions = _self_test(library)
    except _Transient:
        raise
    except NativeUnavailable as exc:
        atomic_write_bytes(failed, f"{exc}\n".encode())  # deterministic: later starts reuse the verdict
        raise _kept_verdict(failed) from exc
    atomic_write_bytes(passed, f"{precisions}\n".encode())


def _kept_verdict(failed: Path) -> NativeUnavailable:
    """The deterministic failure kept in `failed`, saying so."""
    return NativeUnavailable(f"{failed.read_text().strip()} (kept verdict: delete {failed.parent} to retry)")


def _remove_stale_builds(current: Path) -> None:
    """Remove the build folders beside `current` that no cached graph names (compile caches keep
    graphs of each build apart, mindcv/engine/runtime.py) and that no process used for a week."""
    caches = get_mindcv_home() / "compile_cache"  # <source digest>/<options>/onednn-[bf16-]<build key>
    named = {p.name.rsplit("-", 1)[-1] for p in caches.glob("*/*/onednn-*")}
    for folder in current.parent.iterdir():
        if folder == current or folder.name in named or not folder.is_dir():
            continue
        if time.time() - folder.stat().st_mtime > _STALE_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)


def native_conv_setting() -> str:
    """MINDCV_NATIVE_CONV: auto (the default), 1, 0 or bf16."""
    return os.environ.get("MINDCV_NATIVE_CONV", "auto")


@functools.cache
def _cpuinfo_lines() -> tuple:
    try:
        return tuple(_CPUINFO.read_text().splitlines())
    except OSError:
        return ()


@functools.cache
def _cpu_flags() -> frozenset:
    """/proc/cpuinfo's x86 flags; empty where there are none to read (other OSes, ARM's "Features")."""
    lines = _cpuinfo_lines()
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
    except Exception as exc:  # noqa: BLE001  (any failure, e.g. an unwritable cache, must leave the model usable)
        cap_onednn_isa()
        _logger.warning("mindcv: fast oneDNN CPU convolutions unavailable: %s; %s", _reason(exc), _FALLBACK)
        return None
    os.environ[_INHERITED] = library
    return library


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Transient):
        return f"{exc} (a transient failure: retried at the next start)"
    if isinstance(exc, NativeUnavailable):
        return str(exc)
    return f"preparing them failed with {type(exc).__name__}: {exc}"


def native_bf16_supported() -> bool:
    """Whether the native convolutions can compute in bfloat16 here: its self-test passed them on
    this CPU, and oneDNN has them at the ISA it runs at in this process (ONEDNN_MAX_CPU_ISA may
    cap it). oneDNN has bfloat16 convolutions on AVX-512 (fastest with AVX512_BF16 or AMX) and
    AVX2-VNNI-2, none on plain AVX2."""
    library = native_conv_library()
    if library is None:
        return False
    passed = Path(library).parent / f"passed-{_cpu_key()}"
    tested = passed.exists() and passed.read_text().strip() == "bf16"
    return tested and bool(ctypes.CDLL(library).mindcv_conv_bf16_supported())


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
