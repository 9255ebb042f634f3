"""export.py: MINDIR and ONNX files that reproduce the model, written atomically; one-line errors."""

import sys

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

import export
from tests.scripts import assert_one_line_error, make_checkpoint, run_script

SIZE = 32
EXPORT = ["export.py", "--model", "densenet_test"]  # the tests' small DenseNet: the depth does not matter


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "densenet_test-3.ckpt"
    return path, make_checkpoint(path, num_classes=3, model="densenet_test")


def _sample(seed=1):
    return np.random.default_rng(seed).standard_normal((1, 3, SIZE, SIZE), dtype=np.float32)


@pytest.mark.slow
def test_mindir_reloads_with_the_same_logits(tmp_path, checkpoint):
    path, network = checkpoint
    output = tmp_path / "out" / "model.mindir"
    result = run_script(*EXPORT, "--ckpt_path", path, "--image_size", SIZE, "--output", output)
    assert result.returncode == 0, result.stderr
    assert f"exported densenet_test (MINDIR, input 1x3x{SIZE}x{SIZE}) to {output}" in result.stdout
    assert [p.name for p in output.parent.iterdir()] == ["model.mindir"]  # no temporary file left
    loaded = nn.GraphCell(ms.load(str(output)))
    x = ms.Tensor(_sample())
    np.testing.assert_allclose(loaded(x).asnumpy(), network(x).asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_onnx_is_checked_with_onnxruntime(tmp_path, checkpoint):
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    path, network = checkpoint
    output = tmp_path / "model.onnx"
    result = run_script(
        *EXPORT, "--ckpt_path", path, "--image_size", SIZE, "--format", "onnx", "--output", output
    )
    assert result.returncode == 0, result.stderr
    assert "ONNX checked with onnxruntime" in result.stdout and "same top-1" in result.stdout
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    x = _sample(seed=2)
    theirs = session.run(None, {session.get_inputs()[0].name: x})[0]
    ours = network(ms.Tensor(x)).asnumpy()
    assert theirs.shape == (1, 3) and theirs.argmax() == ours.argmax()
    assert np.abs(theirs - ours).max() / np.abs(ours).max() < 1e-4


def test_onnx_check_says_when_onnxruntime_is_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    verdict = export.check_onnx(None, None, _sample())
    assert verdict == "not checked: onnxruntime is not installed (pip install onnxruntime)"


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--ckpt_path", "missing.ckpt"], ["missing.ckpt", "does not exist"]),
        (["--model", "densenet1210", "--pretrained"], ["unknown model 'densenet1210'"]),
        ([], ["--pretrained or --ckpt_path"]),
        (["--pretrained", "--format", "AIR"], ["AIR export needs an Ascend device"]),
    ],
    ids=["missing-checkpoint", "unknown-model", "no-weights", "air-on-cpu"],
)
def test_bad_input_is_one_line(tmp_path, args, fragments):
    result = run_script("export.py", *args, "--output", tmp_path / "model.mindir")
    assert_one_line_error(result, *fragments)
    assert not list(tmp_path.iterdir())
