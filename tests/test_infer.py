"""infer.py: top-k class names of image files and folders, as a table or JSON; one-line errors."""

import json

import mindspore as ms
import numpy as np
import pytest
from PIL import Image

from mindcv.data import create_transforms
from mindcv.data.class_names import save_class_names
from tests.scripts import assert_one_line_error, make_checkpoint, run_script

SIZE = 32
INFER = ["infer.py", "--model", "densenet_test"]  # the tests' small DenseNet: the depth does not matter


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A 3-class checkpoint with classes.txt beside it, and a folder of PNG/JPEG images."""
    root = tmp_path_factory.mktemp("infer")
    ckpt = root / "run" / "densenet_test-best.ckpt"
    network = make_checkpoint(ckpt, num_classes=3, model="densenet_test")
    save_class_names(ckpt.with_name("classes.txt"), ["cat", "dog", "fox"])
    rng = np.random.default_rng(0)
    images = root / "images"
    (images / "nested").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(images / "a.png")
    Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)).save(images / "nested" / "b.jpg")
    Image.fromarray(rng.integers(0, 256, (36, 36), dtype=np.uint8), "L").save(images / "c.JPEG")
    (images / "notes.txt").write_text("not an image")
    return ckpt, network, images


def _expected_probabilities(network, path):
    """The eval recipe on the file: decode, resize 32/0.875, centre crop 32, ImageNet normalisation."""
    pixels = np.fromfile(path, np.uint8)
    for op in create_transforms("imagenet", is_training=False, image_resize=SIZE):
        pixels = op(pixels)
    logits = network(ms.Tensor(pixels[None])).asnumpy()[0].astype(np.float64)
    return np.exp(logits) / np.exp(logits).sum()


@pytest.mark.slow
def test_json_has_top_classes_of_every_image(setup):
    ckpt, network, images = setup
    result = run_script(*INFER, images, "--ckpt_path", ckpt, "--image_size", SIZE, "--mode", 1, "--json", "-")
    assert result.returncode == 0, result.stderr
    predictions = json.loads(result.stdout)["predictions"]
    assert [p["image"] for p in predictions] == [str(images / n) for n in ("a.png", "c.JPEG", "nested/b.jpg")]
    for p in predictions:
        expected = _expected_probabilities(network, p["image"])
        assert len(p["topk"]) == 3  # top-5 capped at the model's 3 classes
        assert [c["index"] for c in p["topk"]] == list(np.argsort(-expected))
        assert [c["class"] for c in p["topk"]] == [["cat", "dog", "fox"][c["index"]] for c in p["topk"]]
        np.testing.assert_allclose([c["probability"] for c in p["topk"]], np.sort(expected)[::-1], atol=1e-4)


@pytest.mark.slow
def test_onnxruntime_backend_gives_the_same_predictions(setup):
    """The ONNX export run by onnxruntime ranks and scores like MindSpore, over a padded last batch."""
    ckpt, network, images = setup
    common = [*INFER, images, "--ckpt_path", ckpt, "--image_size", SIZE, "--batch_size", 2, "--json", "-"]
    results = [run_script(*common, "--backend", backend) for backend in ("mindspore", "onnxruntime")]
    assert all(r.returncode == 0 for r in results), results[-1].stderr
    ours, theirs = (json.loads(r.stdout)["predictions"] for r in results)
    assert [p["image"] for p in theirs] == [p["image"] for p in ours] and len(ours) == 3
    for a, b in zip(ours, theirs):
        assert [c["index"] for c in b["topk"]] == [c["index"] for c in a["topk"]]
        np.testing.assert_allclose(
            [c["probability"] for c in b["topk"]], [c["probability"] for c in a["topk"]], atol=1e-5
        )


def test_table_in_batches_with_class_names_file(setup, tmp_path):
    ckpt, _, images = setup
    names = tmp_path / "names.txt"
    names.write_text("alpha\nbeta\ngamma\n")
    args = [images / "a.png", images / "nested", "--ckpt_path", ckpt, "--image_size", SIZE]
    result = run_script(*INFER, *args, "--mode", 1, "--batch_size", 1, "--class_names", names)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["| image | top-1 | top-2 | top-3 |", "|---|---|---|---|"]
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        f"| {images / 'a.png'}",
        f"| {images / 'nested/b.jpg'}",
    ]
    for line in lines[2:]:
        cells = line.strip("| ").split(" | ")[1:]
        assert sorted(cell.split(" (")[0] for cell in cells) == ["alpha", "beta", "gamma"]
        assert all(cell.endswith("%)") for cell in cells)
    assert "infer" in result.stderr  # the progress bar


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["{images}", "--ckpt_path", "missing.ckpt"], ["missing.ckpt", "does not exist"]),
        (["{empty}", "--ckpt_path", "{ckpt}"], ["no images found in"]),
        (["{images}", "--model", "densenet12", "--ckpt_path", "{ckpt}"], ["unknown model", "densenet121"]),
        (["{images}", "--ckpt_path", "{ckpt}", "--class_names", "{two}"], ["has 2 class names", "3 classes"]),
    ],
    ids=["missing-checkpoint", "no-images", "unknown-model", "bad-class-names"],
)
def test_bad_input_is_one_line(setup, tmp_path, args, fragments):
    ckpt, _, images = setup
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    (tmp_path / "two.txt").write_text("cat\ndog\n")
    values = {"images": images, "empty": tmp_path / "empty", "ckpt": ckpt, "two": tmp_path / "two.txt"}
    result = run_script(*INFER, *[a.format(**values) for a in args], "--mode", 1)
    assert_one_line_error(result, *fragments)
