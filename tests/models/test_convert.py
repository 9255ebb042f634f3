"""Weight conversion from torchvision/timm names: logits reproduced, odd inputs refused in one line.

The torchvision-named state dicts built here come from an inverse mapping written from
torchvision's module tree, independently of the converter, so a wrong rule fails instead of
round-tripping through itself.
"""

import importlib.util
import logging
import re
import subprocess
import sys
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

from mindcv import create_model
from mindcv.models import convert_key, convert_state_dict, convert_weights, load_params, read_state_dict

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "convert_weights.py"
NEEDS_TORCHVISION = "torch/torchvision not installed: pip install -e '.[torch]' to compare against them"
_TORCH_BN = {
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
_BN_RANGES = {
    "gamma": (0.5, 1.5),
    "beta": (-0.2, 0.2),
    "moving_mean": (-0.3, 0.3),
    "moving_variance": (0.5, 2.0),
}


def _cli():
    spec = importlib.util.spec_from_file_location("convert_weights_cli", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _randomized(seed=0):
    """A 10-class densenet121 with random BN statistics and affine terms, so a swapped one shows."""
    rng = np.random.default_rng(seed)
    net = create_model("densenet121", num_classes=10)
    for p in net.get_parameters():
        bounds = _BN_RANGES.get(p.name.rsplit(".", 1)[-1])
        if bounds:
            p.set_data(ms.Tensor(rng.uniform(*bounds, p.shape).astype(np.float32)))
    net.set_train(False)
    return net


def _torchvision_key(name: str, legacy: bool = False) -> str:
    """torchvision's name for one of our parameters; `legacy` gives its pre-0.4 `norm.1` form."""
    parts = name.split(".")
    parts[-1] = _TORCH_BN.get(parts[-1], parts[-1])
    if "cell_list" in parts:
        i = parts.index("cell_list")
        parts[i : i + 2] = [f"denselayer{int(parts[i + 1]) + 1}"]
    if parts[1].startswith("transition"):
        del parts[2]  # our _Transition wraps torchvision's Sequential in `.features`
    key = ".".join(parts)
    return re.sub(r"(denselayer\d+)\.(norm|conv)([12])\.", r"\1.\2.\3.", key) if legacy else key


def _torchvision_state(net, legacy=False, prefix=""):
    state = {}
    for p in net.get_parameters():
        key = prefix + _torchvision_key(p.name, legacy)
        state[key] = p.asnumpy()
        if key.endswith(".running_var"):
            state[key.replace("running_var", "num_batches_tracked")] = np.array(7, dtype=np.int64)
    return state


def _save(state, path: Path) -> Path:
    if path.suffix == ".npz":
        np.savez(path, **state)
    else:
        from safetensors.numpy import save_file

        save_file(state, str(path))
    return path


def _logits(net, seed=1, size=32):
    x = np.random.default_rng(seed).standard_normal((2, 3, size, size)).astype(np.float32)
    return x, net(ms.Tensor(x)).asnumpy()


def _rel_err(out, ref) -> float:
    return float(np.abs(out - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize(
    "key, ours",
    [
        ("features.conv0.weight", "features.conv0.weight"),
        ("features.norm0.running_var", "features.norm0.moving_variance"),
        ("features.denseblock1.denselayer1.norm1.weight", "features.denseblock1.cell_list.0.norm1.gamma"),
        ("features.denseblock1.denselayer1.norm.1.weight", "features.denseblock1.cell_list.0.norm1.gamma"),
        ("features.denseblock3.denselayer24.conv.2.weight", "features.denseblock3.cell_list.23.conv2.weight"),
        (
            "features.denseblock2.denselayer5.norm2.running_mean",
            "features.denseblock2.cell_list.4.norm2.moving_mean",
        ),
        ("features.transition1.norm.bias", "features.transition1.features.norm.beta"),
        ("features.transition3.conv.weight", "features.transition3.features.conv.weight"),
        ("features.norm5.weight", "features.norm5.gamma"),
        ("classifier.weight", "classifier.weight"),
        ("classifier.bias", "classifier.bias"),
    ],
)
def test_convert_key(key, ours):
    assert convert_key(key) == ours


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_round_trip_reproduces_logits(tmp_path, suffix):
    source = _randomized()
    src = _save(_torchvision_state(source), tmp_path / f"tv{suffix}")
    dst = tmp_path / "out" / "converted.ckpt"

    assert convert_weights("densenet121", src, dst) == dst
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["converted.ckpt"]  # no temp left
    converted = create_model("densenet121", num_classes=10, checkpoint_path=str(dst))
    converted.set_train(False)
    x, ref = _logits(source)
    out = converted(ms.Tensor(x)).asnumpy()
    assert _rel_err(out, ref) < 1e-4


def test_legacy_keys_prefix_and_step_counters(tmp_path):
    """torchvision's pre-0.4 `norm.1` names under DataParallel's `module.` give the same parameters."""
    source = _randomized(seed=2)
    state = _torchvision_state(source, legacy=True, prefix="module.")
    assert "module.features.denseblock1.denselayer1.norm.1.weight" in state
    params = convert_state_dict(read_state_dict(_save(state, tmp_path / "legacy.npz")))

    expected = {p.name: p.asnumpy() for p in source.get_parameters()}
    assert sorted(params) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(params[name].asnumpy(), value, err_msg=name)


def test_wrapped_torch_checkpoints(tmp_path):
    """{"state_dict": ...} and {"model": ...} training checkpoints unwrap to the bare state dict."""
    torch = pytest.importorskip("torch", reason=NEEDS_TORCHVISION)
    state = {
        "features.norm0.weight": np.arange(3, dtype=np.float32),
        "classifier.bias": np.ones(2, np.float32),
    }
    for wrapper in ("state_dict", "model"):
        path = tmp_path / f"{wrapper}.pth"
        tensors = {f"module.{k}": torch.from_numpy(v).half() for k, v in state.items()}
        torch.save({"epoch": 3, wrapper: tensors}, path)
        read = read_state_dict(path)
        assert sorted(read) == sorted(state)
        for key, value in state.items():
            assert read[key].dtype == np.float32
            np.testing.assert_array_equal(read[key], value)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Source files for the refusal cases, written once: each is a densenet121 state dict but one."""
    folder = tmp_path_factory.mktemp("inputs")
    state = _torchvision_state(create_model("densenet121", num_classes=10))
    _save(state, folder / "good.npz")
    _save(dict(state, **{"features.conv1.weight": np.zeros((1, 1, 1, 1), np.float32)}), folder / "extra.npz")
    last_conv = "features.denseblock4.denselayer16.conv2.weight"
    _save({k: v for k, v in state.items() if k != last_conv}, folder / "missing.npz")
    (folder / "junk.npz").write_bytes(b"not a zip archive")
    (folder / "weights.txt").write_text("x")
    (folder / "model.pth").write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    "case, option, value, message",
    [
        ("missing src", "--src", "{inputs}/absent.npz", "absent.npz do not exist; check --src"),
        ("unknown model", "--model", "densenet122", "unknown model 'densenet122': did you mean"),
        ("wrong model", "--model", "densenet169", "takes (1024,) features but densenet169 gives 1664"),
        ("unmapped key", "--src", "{inputs}/extra.npz", "unexpected features.conv1.weight"),
        ("missing key", "--src", "{inputs}/missing.npz", "missing features.denseblock4.cell_list.15.conv2"),
        ("corrupt file", "--src", "{inputs}/junk.npz", "cannot be read as a .npz state dict"),
        ("unknown format", "--src", "{inputs}/weights.txt", "give a .pth, .pt, .safetensors, .npz file"),
        ("dst suffix", "--dst", "{out}/converted.pt", "must end in .ckpt"),
        ("pth without torch", "--src", "{inputs}/model.pth", "pip install torch"),
    ],
)
def test_cli_refuses_bad_input(tmp_path, capsys, caplog, monkeypatch, inputs, case, option, value, message):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails as when it is absent
    out = tmp_path / "out"
    args = {"--model": "densenet121", "--src": f"{inputs}/good.npz", "--dst": f"{out}/converted.ckpt"}
    args[option] = value.format(inputs=inputs, out=out)
    code = _cli()([part for item in args.items() for part in item])

    err = capsys.readouterr().err
    assert code == 2, case
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "stderr gets more than one line"
    assert not out.exists() or not any(out.iterdir()), "a failed conversion left a file behind"


def _torchvision_densenet(name, memory_efficient=False, seed=0):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCHVISION)
    torchvision = pytest.importorskip("torchvision", reason=NEEDS_TORCHVISION)
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None, memory_efficient=memory_efficient)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return torch, model.eval()


@pytest.mark.slow
@pytest.mark.parametrize("memory_efficient", [False, True], ids=["standard", "memory_efficient"])
def test_torchvision_densenet121_logits(tmp_path, memory_efficient):
    """The CLI's checkpoint reproduces real torchvision logits, including its padded stem max-pool."""
    torch, model = _torchvision_densenet("densenet121", memory_efficient)
    src, dst = tmp_path / "densenet121.pth", tmp_path / "densenet121.ckpt"
    torch.save(model.state_dict(), src)
    run = subprocess.run(
        [sys.executable, str(TOOL), "--model", "densenet121", "--src", str(src), "--dst", str(dst)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr

    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    ours = create_model("densenet121", checkpoint_path=str(dst), memory_efficient=memory_efficient)
    ours.set_train(False)
    assert _rel_err(ours(ms.Tensor(x)).asnumpy(), ref) < 1e-4


def test_torchvision_densenet161_fits():
    """densenet161's wider growth rate and stem map onto our shapes; the tests' inverse names are real."""
    _, model = _torchvision_densenet("densenet161")
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    ours = create_model("densenet161")
    load_params(ours, convert_state_dict(state), "torchvision densenet161")

    real = sorted(k for k in state if not k.endswith("num_batches_tracked"))
    assert sorted(_torchvision_key(p.name) for p in ours.get_parameters()) == real
    np.testing.assert_array_equal(
        ours.features.denseblock3.cell_list[35].norm2.moving_variance.asnumpy(),
        state["features.denseblock3.denselayer36.norm2.running_var"],
    )
