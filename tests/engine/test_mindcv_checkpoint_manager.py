"""MindCV's `mindcv.utils.CheckpointManager` API over our checkpoint files."""

import mindspore as ms
import pytest
from mindspore import nn

from mindcv.utils import CheckpointManager
from mindcv.utils.errors import MindCVError


def _net():
    return nn.Dense(2, 3)


def test_import_path_is_mindcvs_and_train_py_keeps_its_manager():
    import mindcv.engine.checkpoint_manager as ours
    import mindcv.utils.checkpoint_manager as mindcv_path

    assert CheckpointManager.__module__ == "mindcv.engine.mindcv_checkpoint_manager"
    assert mindcv_path.CheckpointManager is CheckpointManager
    assert ours.CheckpointManager is not CheckpointManager  # train.py's manager is unchanged


def test_latest_k_keeps_the_newest(tmp_path):
    manager = CheckpointManager(ckpt_save_policy="latest_k")
    for epoch in (1, 2, 3):
        kept = manager.save_ckpoint(_net(), num_ckpt=2, save_path=str(tmp_path / f"net-{epoch}_5.ckpt"))
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["net-2_5.ckpt", "net-3_5.ckpt"]
    assert kept == [str(tmp_path / "net-2_5.ckpt"), str(tmp_path / "net-3_5.ckpt")]
    assert manager.ckpoint_num == 2


def test_top_k_keeps_the_best_by_metric(tmp_path):
    manager = CheckpointManager(ckpt_save_policy="top_k")
    for epoch, metric in ((1, 0.5), (2, ms.Tensor(0.9)), (3, 0.7)):
        path = str(tmp_path / f"n-{epoch}_1.ckpt")
        kept = manager.save_ckpoint(_net(), num_ckpt=2, metric=metric, save_path=path)
    names = [(p.rsplit("/", 1)[-1], round(m, 2)) for p, m in kept]
    assert names == [("n-2_1.ckpt", 0.9), ("n-3_1.ckpt", 0.7)]
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["n-2_1.ckpt", "n-3_1.ckpt"]
    assert "weight" in ms.load_checkpoint(str(tmp_path / "n-2_1.ckpt"))


@pytest.mark.parametrize("policy", ["latest_k", "top_k"])
def test_any_save_path_works_as_mindcvs_tests_call_it(tmp_path, monkeypatch, policy):
    monkeypatch.chdir(tmp_path)
    manager = CheckpointManager(ckpt_save_policy=policy)
    for t, metric in enumerate((0.5, 0.25, 0.75)):
        kept = manager.save_ckpoint(_net(), num_ckpt=2, metric=metric, save_path=f"./network_{t + 1}.ckpt")
    assert len(kept) == 2
    expected = (
        ["network_1.ckpt", "network_3.ckpt"] if policy == "top_k" else ["network_2.ckpt", "network_3.ckpt"]
    )
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == expected


def test_none_keeps_every_checkpoint(tmp_path):
    manager = CheckpointManager()
    for epoch in range(1, 13):
        manager.save_ckpoint(_net(), num_ckpt=10, save_path=str(tmp_path / f"net-{epoch}_1.ckpt"))
    assert len(list(tmp_path.glob("*.ckpt"))) == 12


def test_bad_calls_are_one_line_errors(tmp_path):
    with pytest.raises(MindCVError, match="ckpt_save_policy"):
        CheckpointManager("best")
    with pytest.raises(MindCVError, match="needs save_path"):
        CheckpointManager().save_ckpoint(_net())
    with pytest.raises(MindCVError, match="metric"):
        CheckpointManager("top_k").save_ckpoint(_net(), save_path=str(tmp_path / "n-1_1.ckpt"))
