"""Class-name files: ImageNet's shipped list, and the save/load pair fine-tuning runs use."""

import pytest

from mindcv.data.class_names import imagenet_class_names, load_class_names, save_class_names
from mindcv.utils.errors import MindCVError


def test_imagenet_names_are_the_standard_1000_in_index_order():
    names = imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) == 1000
    spots = {0: "tench", 1: "goldfish", 134: "crane bird", 281: "tabby", 517: "crane", 999: "toilet tissue"}
    assert {i: names[i] for i in spots} == spots


def test_save_then_load_round_trips_atomically(tmp_path):
    path = tmp_path / "classes.txt"
    save_class_names(path, ["cat", "hot dog", "café"])
    assert load_class_names(path) == ["cat", "hot dog", "café"]
    assert [p.name for p in tmp_path.iterdir()] == ["classes.txt"]


@pytest.mark.parametrize("names", [["cat", ""], ["two\nlines"]])
def test_save_refuses_names_that_would_shift_the_lines(tmp_path, names):
    with pytest.raises(MindCVError, match="single lines"):
        save_class_names(tmp_path / "classes.txt", names)
    assert not list(tmp_path.iterdir())


def test_load_refuses_empty_or_missing_files(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(MindCVError, match="is empty"):
        load_class_names(tmp_path / "empty.txt")
    with pytest.raises(MindCVError, match="cannot read class names"):
        load_class_names(tmp_path / "missing.txt")
