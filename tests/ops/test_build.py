"""mindcv/ops/native.py's build cache and failure handling: what is kept, what is retried, what
changes the key, and that any failure leaves the model usable with one warning line."""

import errno
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mindcv.ops import native
from mindcv.utils.download import directory_lock
from mindcv.utils.errors import MindCVError
from tests.native_marks import needs_native
from tests.scripts import run, script_env

WARNING = "mindcv: fast oneDNN CPU convolutions unavailable"
REAL_RUN = subprocess.run


def warnings(caplog) -> list:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(WARNING)]


@pytest.fixture
def fake_build(monkeypatch):
    """_compile writes an empty library and _self_test passes, each counting its calls."""
    calls = {"compile": 0, "self_test": 0}

    def compile(cxx, lib_dir, target):
        calls["compile"] += 1
        target.write_bytes(b"")

    def self_test(library):
        calls["self_test"] += 1
        return "fp32"

    monkeypatch.setattr(native, "_compile", compile)
    monkeypatch.setattr(native, "_self_test", self_test)
    return calls


def decide(fresh_decision, caplog):
    """One uncached decision, as a new process would make it; returns (library, its warnings)."""
    for name in ("_MINDCV_NATIVE_CONV_LIB", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):  # the last one's, and
        os.environ.pop(
            name, None
        )  # a fallback's cap (fresh_decision restores the environment after the test)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mindcv.ops.native"):
        library = fresh_decision()
    return library, warnings(caplog)


def compiler_script(tmp_path, body: str) -> str:
    """A CXX that runs `body` (sh) for the library's build and is g++ for everything else."""
    script = tmp_path / "cxx.sh"
    script.write_text(f'#!/bin/sh\ncase "$*" in *-shared*)\n{body}\n;; esac\nexec g++ "$@"\n')
    script.chmod(0o755)
    return str(script)


@pytest.mark.slow
@needs_native
def test_a_transient_build_failure_is_retried(fresh_decision, monkeypatch, caplog, tmp_path):
    """A full disk fails the compile once; the next start builds (no kept verdict)."""
    full = tmp_path / "disk-full"
    full.touch()
    body = f'if [ -e {full} ]; then echo "fatal error: cannot write: No space left on device" >&2; exit 1; fi'
    monkeypatch.setenv("CXX", compiler_script(tmp_path, body))
    library, said = decide(fresh_decision, caplog)
    assert library is None and len(said) == 1
    assert "No space left on device" in said[0] and "transient failure: retried at the next start" in said[0]
    assert not list((tmp_path / "native").glob("*/failed-*"))
    full.unlink()
    library, said = decide(fresh_decision, caplog)
    assert library and Path(library).exists() and not said


@pytest.mark.slow
@needs_native
def test_a_killed_self_test_is_retried_and_a_lost_library_rebuilt(fresh_decision, monkeypatch, caplog):
    """The OOM killer's SIGKILL is no verdict on the build; a passed verdict whose library was
    deleted builds it again."""

    def killed_self_test(command, **kwargs):
        if "mindcv.ops.selftest" in command:
            return subprocess.CompletedProcess(command, -9, "", "")
        return REAL_RUN(command, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(native.subprocess, "run", killed_self_test)
        library, said = decide(fresh_decision, caplog)
    assert library is None and len(said) == 1
    assert "killed by SIGKILL" in said[0] and "transient" in said[0]
    library, said = decide(fresh_decision, caplog)
    assert library and not said
    Path(library).unlink()
    assert decide(fresh_decision, caplog) == (library, [])
    assert Path(library).exists()


def test_a_wrong_value_is_remembered(fresh_decision, monkeypatch, caplog, fake_build):
    def wrong(library):
        raise native._failure("its self-test failed", "fp32 3x3/1 relative errors [0.5]", "", False)

    monkeypatch.setattr(native, "_self_test", wrong)
    library, said = decide(fresh_decision, caplog)
    assert library is None and "relative errors" in said[0] and "kept verdict: delete" in said[0]
    monkeypatch.setattr(native, "_self_test", lambda library: pytest.fail("a kept verdict is retested"))
    library, said = decide(fresh_decision, caplog)
    assert library is None and "kept verdict: delete" in said[0]


@pytest.mark.parametrize(
    "output, returncode, transient",
    [
        ("conv2d.cc:12: error: 'x' was not declared", 1, False),
        ("ld: final link failed: No space left on device", 1, True),
        ("cc1plus: out of memory allocating 65536 bytes", 1, True),
        ("", -9, True),  # the OOM killer
        ("", -11, False),  # a crash is the build's fault
        ("MemoryError", 1, True),
    ],
)
def test_failures_of_the_machine_are_transient_and_of_the_build_deterministic(
    monkeypatch, tmp_path, output, returncode, transient
):
    def result(command, **kwargs):
        return subprocess.CompletedProcess(command, returncode, "", output)

    monkeypatch.setattr(native.subprocess, "run", result)
    with pytest.raises(native.NativeUnavailable) as failed:
        native._compile(["g++"], tmp_path, tmp_path / "conv2d.so")
    assert isinstance(failed.value, native._Transient) == transient
    with pytest.raises(native.NativeUnavailable) as failed:
        native._self_test(tmp_path / "conv2d.so")
    assert isinstance(failed.value, native._Transient) == transient


def test_the_build_key_covers_sources_flags_compiler_and_mindspore_path(monkeypatch, tmp_path):
    copy = tmp_path / "ops"
    subprocess.run(["cp", "-r", str(native._HERE), str(copy)], check=True)
    monkeypatch.setattr(native, "_HERE", copy)
    monkeypatch.delenv("MINDCV_NATIVE_SANITIZE", raising=False)  # set when the tests run under ASan
    lib_dir = Path("/opt/mindspore/lib")
    key = native.build_key(["g++"], lib_dir)
    assert native.build_key(["g++"], lib_dir) == key
    assert native.build_key(["g++"], Path("/other/venv/mindspore/lib")) != key  # the rpath
    with monkeypatch.context() as patch:
        patch.setattr(native, "_FLAGS", [*native._FLAGS, "-march=native"])
        assert native.build_key(["g++"], lib_dir) != key
    with monkeypatch.context() as patch:
        patch.setenv("MINDCV_NATIVE_SANITIZE", "address")
        assert native.build_key(["g++"], lib_dir) != key
    with monkeypatch.context() as patch:
        patch.setattr(native, "_compiler_version", lambda cxx: "g++ (GCC) 13.1.0")
        assert native.build_key(["g++"], lib_dir) != key
    with (copy / "conv2d.cc").open("a") as source:
        source.write("// a change to the C++ alone\n")
    assert native.build_key(["g++"], lib_dir) != key


def test_a_changed_flag_rebuilds_in_its_own_folder(fresh_decision, monkeypatch, caplog, fake_build):
    first, _ = decide(fresh_decision, caplog)
    assert decide(fresh_decision, caplog)[0] == first and fake_build["compile"] == 1
    monkeypatch.setattr(native, "_FLAGS", [*native._FLAGS, "-DCHANGED"])
    second, _ = decide(fresh_decision, caplog)
    assert second != first and Path(second).exists() and fake_build["compile"] == 2


def test_verdicts_are_kept_per_cpu(fresh_decision, monkeypatch, caplog, fake_build):
    """One MINDCV_HOME on hosts with other CPUs: one library, a self-test on each CPU."""
    library, _ = decide(fresh_decision, caplog)
    monkeypatch.setattr(native, "_cpu_key", lambda: "another-cpu")
    assert decide(fresh_decision, caplog)[0] == library
    assert fake_build == {"compile": 1, "self_test": 2}
    assert (Path(library).parent / "passed-another-cpu").exists()


def test_stale_build_folders_no_cached_graph_names_go(fresh_decision, monkeypatch, caplog, fake_build):
    home = Path(os.environ["MINDCV_HOME"])
    week_ago = time.time() - 8 * 24 * 3600
    for name in ("stale", "cached", "recent"):
        (home / "native" / name).mkdir(parents=True)
    for name in ("stale", "cached"):
        os.utime(home / "native" / name, (week_ago, week_ago))
    (home / "compile_cache" / "source" / "options" / "onednn-cached").mkdir(parents=True)
    library, _ = decide(fresh_decision, caplog)
    left = {p.name for p in (home / "native").iterdir()}
    assert left == {"cached", "recent", Path(library).parent.name}


def unusable(kind):
    """Ways preparing the native path failed besides NativeUnavailable."""

    def fail(*args, **kwargs):
        raise {
            "full disk": OSError(errno.ENOSPC, "No space left on device"),
            "atomic write": MindCVError("could not write passed-cpu"),
            "no metadata": __import__("importlib.metadata").metadata.PackageNotFoundError("mindspore"),
        }[kind]

    return fail


@pytest.mark.parametrize(
    "target, kind",
    [
        ("atomic_write_bytes", "full disk"),
        ("atomic_write_bytes", "atomic write"),
        ("build_key", "no metadata"),
    ],
)
def test_any_failure_preparing_it_falls_back_with_one_warning(
    fresh_decision, monkeypatch, caplog, fake_build, target, kind
):
    monkeypatch.setattr(native, target, unusable(kind))
    library, said = decide(fresh_decision, caplog)
    assert library is None and len(said) == 1 and "Error" in said[0], said


def test_import_of_the_models_works_with_an_unwritable_cache_folder(tmp_path):
    """MINDCV_HOME below a file: no folder can be made there (root can write read-only folders)."""
    (tmp_path / "file").write_text("")
    code = "import mindcv.models; print('imported')"
    home = str(tmp_path / "file" / "home")
    result = run(["python", "-c", code], tmp_path, MINDCV_HOME=home, _MINDCV_NATIVE_CONV_LIB="")
    assert result.returncode == 0 and result.stdout.split() == ["imported"], result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if WARNING in line]
    assert len(lines) == 1 and "cannot write its build folder" in lines[0], result.stderr[-2000:]


def test_the_wait_for_the_build_lock_is_bounded_and_said(tmp_path):
    said = []
    with directory_lock(tmp_path):
        began = time.monotonic()
        with pytest.raises(TimeoutError), directory_lock(tmp_path, 0.5, lambda: said.append("waiting")):
            pass
    assert said == ["waiting"] and 0.5 <= time.monotonic() - began < 5


BUILD = "from mindcv.ops import native_conv_library; print(native_conv_library())"


@pytest.mark.slow
@needs_native
def test_two_processes_building_at_once_build_once(tmp_path):
    log = tmp_path / "builds.log"
    cxx = compiler_script(tmp_path, f"echo build >> {log}; sleep 3")
    env = script_env(MINDCV_HOME=str(tmp_path / "home"), CXX=cxx, _MINDCV_NATIVE_CONV_LIB="")
    outputs = [tmp_path / f"out{i}" for i in range(2)]
    processes = []
    for out in outputs:
        with out.open("w") as stdout:
            command = [sys.executable, "-c", BUILD]
            processes.append(
                subprocess.Popen(
                    command, cwd=tmp_path, stdout=stdout, stderr=subprocess.PIPE, env=env, text=True
                )
            )
    errors = [p.communicate(timeout=900)[1] for p in processes]
    libraries = {out.read_text().strip() for out in outputs}
    assert len(libraries) == 1 and Path(libraries.pop()).exists(), errors
    assert log.read_text().split() == ["build"]
    assert sum("waiting (up to" in e for e in errors) == 1, errors
