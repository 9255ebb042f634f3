"""Test-wide MindSpore setup: quiet logs, CPU, threads matched to the machine, offline caches."""

import os

os.environ.setdefault("GLOG_v", "3")

import mindspore as ms  # noqa: E402
import pytest  # noqa: E402

from mindcv.engine.runtime import limit_onednn_isa  # noqa: E402

# The native ops are tested on any CPU that builds them, not only on the x86 ones with AVX2 where
# they are the default (tests/ops/test_conv.py tests that choice); child processes inherit this.
os.environ.setdefault("MINDCV_NATIVE_CONV", "1")
limit_onednn_isa()

ms.set_device("CPU")
ms.device_context.cpu.op_tuning.threads_num(min(os.cpu_count() or 1, 4))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own MINDCV_HOME so no test reads another's downloads or the user's."""
    monkeypatch.setenv("MINDCV_HOME", str(tmp_path / "mindcv_home"))


@pytest.fixture(autouse=True)
def _onednn_cap_unchanged():
    """A test must not leave oneDNN's ISA cap behind: every later child process would inherit it
    (a leaked AVX2 cap once made a later bf16 benchmark fail: oneDNN has no bf16 kernel on AVX2)."""
    before = os.environ.get("ONEDNN_MAX_CPU_ISA")
    yield
    assert os.environ.get("ONEDNN_MAX_CPU_ISA") == before, "this test left ONEDNN_MAX_CPU_ISA changed"


@pytest.fixture(params=[ms.GRAPH_MODE, ms.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    """Run a test in both execution modes, restoring the previous mode afterwards."""
    previous = ms.get_context("mode")
    ms.set_context(mode=request.param)
    yield request.param
    ms.set_context(mode=previous)
