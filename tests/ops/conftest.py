"""Fixtures of the native-ops tests."""

import os

import pytest

from mindcv.ops import native_conv_library


@pytest.fixture
def fresh_decision(monkeypatch, tmp_path):
    """The uncached decision in an empty MINDCV_HOME, the environment it changes restored afterwards
    (all of it: monkeypatch.delenv of an unset name records nothing, so a cap set later would stay)."""
    saved = dict(os.environ)
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "_MINDCV_NATIVE_CONV_LIB", "CXX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINDCV_HOME", str(tmp_path))
    yield native_conv_library.__wrapped__
    os.environ.clear()
    os.environ.update(saved)
