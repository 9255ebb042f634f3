"""`mindcv.engine.runtime`: the process set-up every script runs (device, mode, seeds, caches)."""

import json
import os
import subprocess
import sys

import mindspore as ms
import pytest

from mindcv.engine.runtime import compile_cache_folder, resolve_device_target
from mindcv.utils.errors import MindCVError
from tests.scripts import script_env

_INIT = """
import json, os, mindspore as ms
from mindcv.engine.runtime import init_runtime
info = init_runtime(mode=1, device_target="cpu", threads=2, seed=7, compile_cache=None)
cache = "MS_COMPILER_CACHE_ENABLE" in os.environ
print(json.dumps({"info": list(info), "mode": ms.get_context("mode"), "seed": ms.get_seed(),
                  "device": ms.get_context("device_target"), "cache": cache}))
"""


def test_init_runtime_sets_mode_device_and_seed_and_returns_a_single_process():
    """In a fresh process, as the scripts call it: MindSpore sets CPU threads once per process."""
    out = subprocess.run([sys.executable, "-c", _INIT], env=script_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"info": [0, 1], "mode": ms.PYNATIVE_MODE, "seed": 7, "device": "CPU", "cache": False}


def test_device_names_are_case_blind_and_an_unavailable_one_is_a_one_line_error():
    assert resolve_device_target("CPU") == "CPU" and resolve_device_target("auto") in ("CPU", "GPU", "Ascend")
    with pytest.raises(MindCVError, match="device_target TPU is not available"):
        resolve_device_target("TPU")


def test_compile_cache_folder_is_off_a_folder_or_keyed_by_the_options(tmp_path):
    assert compile_cache_folder("", {"lr": 0.1}) is None
    assert compile_cache_folder(str(tmp_path), {"lr": 0.1}) == tmp_path
    auto = compile_cache_folder("auto", {"lr": 0.1, "batch_size": 8})
    assert auto == compile_cache_folder("auto", {"batch_size": 8, "lr": 0.1})  # order does not matter
    assert auto != compile_cache_folder("auto", {"lr": 0.2, "batch_size": 8})
    assert str(auto).startswith(os.environ["MINDCV_HOME"])


def test_the_compile_cache_environment_names_the_folder(tmp_path):
    from mindcv.engine.runtime import compile_cache_env

    assert compile_cache_env(tmp_path) == {
        "MS_COMPILER_CACHE_ENABLE": "1",
        "MS_COMPILER_CACHE_PATH": str(tmp_path),
    }
