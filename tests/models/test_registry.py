"""Registry queries behave as MindCV documents them; unknown names suggest the closest."""

import pytest

from mindcv import MindCVError
from mindcv.models import (
    create_model,
    get_pretrained_cfg,
    is_model,
    is_model_in_modules,
    is_model_pretrained,
    list_models,
    list_modules,
    model_entrypoint,
)

ALL = ["densenet121", "densenet161", "densenet169", "densenet201"]


def test_list_models_with_wildcards():
    assert set(ALL) <= set(list_models())
    assert list_models("densenet1*") == ["densenet121", "densenet161", "densenet169"]
    assert list_models(["*121", "*201"]) == ["densenet121", "densenet201"]
    assert list_models("densenet[0-9]*", exclude_filters="*1") == ["densenet169"]
    assert list_models("densenet[0-9]*", pretrained=True) == ALL
    assert list_models(module="densenet") == [*ALL, "densenet_test"]
    assert list_models(pretrained=True) == ALL  # the tests' small DenseNet has no weights
    assert list_models("resnet*") == []


def test_queries():
    assert is_model("densenet121") and not is_model("densenet122")
    assert "densenet" in list_modules()
    assert is_model_in_modules("densenet169", ["densenet"])
    assert not is_model_in_modules("densenet169", ["resnet"])
    assert is_model_pretrained("densenet201")
    assert model_entrypoint("densenet161").__name__ == "densenet161"


def test_unknown_model_suggests_closest():
    with pytest.raises(MindCVError, match="unknown model 'densenet12'.*densenet121"):
        create_model("densenet12")


def test_pretrained_cfgs_point_at_mindcv_weights():
    for name in ALL:
        cfg = get_pretrained_cfg(name)
        assert (
            cfg["url"]
            == f"https://download.mindspore.cn/toolkits/mindcv/densenet/{name}-120_5004_Ascend.ckpt"
        )
        assert cfg["num_classes"] == 1000
        assert cfg["first_conv"] == "features.conv0" and cfg["classifier"] == "classifier"
        assert cfg["input_size"] == (3, 224, 224) and cfg["crop_pct"] == 0.875
        assert cfg["interpolation"] == "bilinear" and len(cfg["mean"]) == len(cfg["std"]) == 3


def test_pretrained_and_checkpoint_path_are_exclusive(tmp_path):
    with pytest.raises(MindCVError, match="either pretrained"):
        create_model("densenet121", pretrained=True, checkpoint_path=str(tmp_path / "x.ckpt"))
