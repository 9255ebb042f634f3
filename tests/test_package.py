"""What a MindCV user imports from the top level works, and importing it stays cheap."""

import os
import subprocess
import sys

import mindcv


def test_top_level_reexports():
    from mindcv import create_dataset, create_loader, create_loss, create_model, create_optimizer, list_models

    assert "densenet121" in list_models("densenet*")
    assert all(
        callable(f) for f in (create_dataset, create_loader, create_loss, create_model, create_optimizer)
    )
    assert set(mindcv.__all__) <= set(dir(mindcv))


def test_config_parsing_does_not_import_mindspore():
    code = (
        "import sys, config; config.parse_args(['--model', 'densenet121']); print('mindspore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importing_mindcv_quiets_mindspore_unless_glog_v_is_set():
    """Scripts import mindcv (or config.py, which does) before MindSpore: that sets GLOG_v."""
    code = "import os, mindcv; print(os.environ['GLOG_v'])"
    env = {k: v for k, v in os.environ.items() if k != "GLOG_v"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "3"
    env["GLOG_v"] = "1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "1"
