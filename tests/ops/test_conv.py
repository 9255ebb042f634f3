"""The native oneDNN convolution (mindcv/ops) against nn.Conv2d, and the fallback without it."""

import ctypes
import logging
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv.engine import runtime
from mindcv.models import DenseNet, densenet
from mindcv.ops import OneDNNConv2d, ToPlain, blocked, channel_block, native, native_conv_library
from mindcv.ops.selftest import CONFIGS, cell_errors, relative_error
from tests.native_marks import lacks_bf16, needs_bf16, needs_native
from tests.scripts import run

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-5
WARNING = "mindcv: fast oneDNN CPU convolutions unavailable"


def tiny() -> DenseNet:
    return DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=5)


def batch(seed=0):
    rng = np.random.RandomState(seed)
    return ms.Tensor(rng.randn(4, 3, 32, 32).astype(np.float32)), ms.Tensor(
        rng.randint(0, 5, 4).astype(np.int32)
    )


@needs_native
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
def test_values_and_gradients_match_nn_conv2d(mode, config):
    cin, cout, k, stride, pad = config
    conv = OneDNNConv2d(native_conv_library(), cin, cout, k, stride=stride, padding=pad)
    builtin = nn.Conv2d(cin, cout, k, stride=stride, pad_mode="pad", padding=pad, has_bias=False)
    builtin.weight.set_data(conv.weight.value())
    rng = np.random.RandomState(1)
    x = ms.Tensor(rng.randn(2, cin, 32, 32).astype(np.float32))
    dy = ms.Tensor(rng.randn(*conv(x).shape).astype(np.float32))
    assert conv(x).shape == builtin(x).shape
    errors = cell_errors(conv, builtin, x, dy)
    assert max(errors) <= TOLERANCE, f"relative errors (y, dx, dw): {errors}"


@needs_native
def test_the_stem_convolutions_blocked_output_matches_nn_conv2d(mode):
    """blocked_output: the 3-channel image in NCHW, the output blocked (DenseNet's stem); values,
    the input's gradient (from a blocked dy) and the weight's, through ToPlain."""
    library = native_conv_library()
    conv = OneDNNConv2d(library, 3, 16, 7, stride=2, padding=3, blocked_output=True)
    builtin = nn.Conv2d(3, 16, 7, stride=2, pad_mode="pad", padding=3, has_bias=False)
    builtin.weight.set_data(conv.weight.value())
    rng = np.random.RandomState(3)
    x = ms.Tensor(rng.randn(2, 3, 32, 32).astype(np.float32))
    assert conv(x).shape == (2, 16 // channel_block(library), 16, 16, channel_block(library))
    dy = ms.Tensor(rng.randn(2, 16, 16, 16).astype(np.float32))
    errors = cell_errors(nn.SequentialCell([conv, ToPlain(library)]), builtin, x, dy)
    assert max(errors) <= TOLERANCE, f"relative errors (y, dx, dw): {errors}"


@needs_bf16
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
def test_bf16_values_and_gradients_are_close_to_nn_conv2d(mode, config):
    """bfloat16 keeps 8 significant bits: about 3e-3 relative error measured."""
    cin, cout, k, stride, pad = config
    conv = OneDNNConv2d(native_conv_library(), cin, cout, k, stride=stride, padding=pad, bf16=True)
    builtin = nn.Conv2d(cin, cout, k, stride=stride, pad_mode="pad", padding=pad, has_bias=False)
    builtin.weight.set_data(conv.weight.value())
    rng = np.random.RandomState(2)
    x = ms.Tensor(rng.randn(2, cin, 32, 32).astype(np.float32))
    dy = ms.Tensor(rng.randn(*conv(x).shape).astype(np.float32))
    errors = cell_errors(conv, builtin, x, dy)
    assert 1e-4 < max(errors) <= 1e-2, f"relative errors (y, dx, dw): {errors}"


BF16_FALLBACK_PROBE = """
import numpy as np, mindspore as ms
from mindcv.ops import OneDNNConv2d, native_conv_library
ms.set_context(mode=ms.PYNATIVE_MODE)
x = ms.Tensor(np.random.RandomState(0).randn(2, 16, 9, 9).astype(np.float32))
results = []
for bf16 in (True, False, True):
    conv = OneDNNConv2d(native_conv_library(), 16, 8, 3, padding=1, bf16=bf16, weight_init="ones")
    dx, (dw,) = ms.grad(lambda v: conv(v).sum(), 0, conv.trainable_params())(x)
    results.append([conv(x).asnumpy(), dx.asnumpy(), dw.asnumpy()])
for a, b, c in zip(*results):
    assert np.array_equal(a, b) and np.array_equal(c, b)
print("same")
"""


@lacks_bf16
def test_bf16_convolutions_without_a_kernel_run_in_float32_and_say_so_once(tmp_path):
    """Where oneDNN has no bfloat16 kernel (all of them, on this CPU), the result is float32's, in
    the forward and in each backward direction (each falls back on its own)."""
    result = run(["python", "-c", BF16_FALLBACK_PROBE], tmp_path)
    assert result.returncode == 0 and result.stdout.split() == ["same"], result.stderr
    notes = [line for line in result.stderr.splitlines() if "no bfloat16 kernel" in line]
    assert len(notes) == 1 and "run in float32" in notes[0], result.stderr


@needs_native
def test_the_self_test_records_whether_this_cpu_has_bf16_convolutions():
    supported = ctypes.CDLL(native_conv_library()).mindcv_conv_bf16_supported()
    verdict = (Path(native_conv_library()).parent / f"passed-{native._cpu_key()}").read_text().strip()
    assert verdict == ("bf16" if supported else "fp32")
    assert native.native_bf16_supported() == bool(supported)


class _Sum(nn.Cell):
    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def construct(self, x):
        return self.cell(x).sum()


@needs_native
def test_float16_inputs_are_computed_in_float32(mode):
    """Mixed precision hands float16 tensors: nn.Conv2d would run them on the plain-layout kernel."""
    conv = OneDNNConv2d(native_conv_library(), 16, 8, 3, padding=1)
    x = ms.Tensor(np.random.RandomState(3).randn(2, 16, 32, 32).astype(np.float32))
    y16 = conv(x.astype(ms.float16))
    assert y16.dtype == ms.float16
    assert relative_error(y16.asnumpy(), conv(x).asnumpy()) <= 2e-3

    # A Cell, not a closure: Graph mode parses a closure's enclosing test function too, and that
    # parse failed in one full-suite run ("'tuple' object has no attribute 'dtype'").
    dx = ms.grad(_Sum(conv))(x.astype(ms.float16))
    assert dx.dtype == ms.float16 and np.isfinite(dx.asnumpy()).all()


@pytest.mark.slow
@needs_native
def test_densenet_uses_it_and_trains_in_train_one_step_cell(mode):
    model = tiny()
    assert all(
        isinstance(getattr(c, "conv", c), OneDNNConv2d) for n, c in model.cells_and_names() if "conv" in n
    )
    x, labels = batch()
    step = nn.TrainOneStepCell(
        nn.WithLossCell(model, nn.CrossEntropyLoss()), nn.SGD(model.trainable_params(), 0.1)
    )
    losses = [float(step(x, labels).asnumpy()) for _ in range(4)]
    assert losses[-1] < losses[0], losses


@needs_native
def test_checkpoints_interchange_with_the_builtin_path(tmp_path, monkeypatch):
    fast = tiny()
    monkeypatch.setattr(densenet, "native_conv_library", lambda: None)
    builtin = tiny()
    assert not any(isinstance(c, OneDNNConv2d) for _, c in builtin.cells_and_names())
    x, _ = batch()
    for source, target in ((fast, builtin), (builtin, fast)):
        ms.save_checkpoint(source, str(tmp_path / "w.ckpt"))
        missing, unexpected = ms.load_param_into_net(target, ms.load_checkpoint(str(tmp_path / "w.ckpt")))
        assert not missing and not unexpected
        source.set_train(False)
        target.set_train(False)
        assert relative_error(target(x).asnumpy(), source(x).asnumpy()) <= TOLERANCE


def probe(tmp_path, name, ckpt, **env):
    result = run(["python", HERE / "probe.py", tmp_path / f"{name}.npz", ckpt], cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(tmp_path / f"{name}.npz")), result.stderr


@pytest.mark.slow
@needs_native
def test_whole_network_gradients_equal_the_fallback_process(tmp_path):
    """The path is chosen at import, so each runs in its own process, the second loading the first's weights.

    All gradients are compared as one vector, and each convolution's weight gradient on its own:
    a few BN gradients are ~1e-6 (cancellation), where float32 rounding alone is a 4% difference.
    """
    ckpt = tmp_path / "tiny.ckpt"
    fast, _ = probe(tmp_path, "fast", ckpt)
    slow, stderr = probe(tmp_path, "slow", ckpt, MINDCV_NATIVE_CONV="0")
    assert fast["native"] and fast["blocked"] and fast["isa"] == ""
    assert not slow["native"] and not slow["blocked"] and slow["isa"] == "AVX2"
    assert stderr.count(WARNING) == 1 and "MINDCV_NATIVE_CONV=0" in stderr
    grads = sorted(key for key in fast if key.startswith("grad:"))
    assert grads == sorted(key for key in slow if key.startswith("grad:"))
    everything = [np.concatenate([arrays[k].ravel() for k in grads]) for arrays in (fast, slow)]
    assert relative_error(*everything) <= TOLERANCE
    for key in ["logits", *(k for k in grads if "conv" in k)]:
        assert relative_error(fast[key], slow[key]) <= TOLERANCE, key
    np.testing.assert_allclose(fast["losses"], slow["losses"], rtol=1e-5)


@pytest.mark.slow
def test_without_a_compiler_warns_once_and_trains_on_the_builtin_path(tmp_path):
    result, stderr = probe(tmp_path, "nocxx", tmp_path / "tiny.ckpt", CXX=str(tmp_path / "no-such-g++"))
    assert not result["native"] and result["isa"] == "AVX2"
    warnings = [line for line in stderr.splitlines() if WARNING in line]
    assert len(warnings) == 1 and "install g++" in warnings[0], stderr
    assert "Traceback" not in stderr
    assert result["losses"][-1] < result["losses"][0]


def test_a_failed_build_is_one_warning_and_the_avx2_cap(fresh_decision, monkeypatch, caplog):
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with caplog.at_level(logging.WARNING, logger="mindcv.ops.native"):
        assert fresh_decision() is None
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["mindcv"]
    assert "false failed to build the native ops" in caplog.records[0].getMessage()
    assert native.os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    caplog.clear()
    monkeypatch.setattr(native, "_compile", lambda *args: pytest.fail("a failed build is retried"))
    with caplog.at_level(logging.WARNING, logger="mindcv.ops.native"):
        assert fresh_decision() is None
    assert "kept verdict: delete" in caplog.records[0].getMessage()


def test_by_default_a_cpu_without_avx2_keeps_mindspore_convolutions(fresh_decision, monkeypatch, caplog):
    monkeypatch.delenv("MINDCV_NATIVE_CONV", raising=False)
    monkeypatch.setattr(native, "cpu_has_avx2", lambda: False)
    monkeypatch.setattr(native, "_checked_library", lambda: pytest.fail("built where it is not used"))
    with caplog.at_level(logging.WARNING, logger="mindcv.ops.native"):
        assert fresh_decision() is None
    assert not caplog.records


@pytest.mark.slow
@needs_native
@pytest.mark.parametrize("setting", ["auto", "1"])
def test_avx2_or_mindcv_native_conv_1_chooses_the_native_path(fresh_decision, monkeypatch, setting):
    monkeypatch.setenv("MINDCV_NATIVE_CONV", setting)
    monkeypatch.setattr(native, "cpu_has_avx2", lambda: setting == "auto")
    assert fresh_decision() and "ONEDNN_MAX_CPU_ISA" not in native.os.environ


@pytest.mark.parametrize(
    "flags, avx2, avx512",
    [
        ("fpu sse avx2 avx512f avx512dq avx512bw avx512vl", True, True),
        ("fpu sse avx2 fma", True, False),
        ("fpu sse avx", False, False),
        (None, False, False),  # ARM's cpuinfo has "Features", no "flags"
    ],
)
def test_the_cpu_features_are_read_from_cpuinfo(monkeypatch, tmp_path, flags, avx2, avx512):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\n" + (f"flags\t\t: {flags}\n" if flags else "Features\t: fp asimd\n"))
    monkeypatch.setattr(native, "_CPUINFO", cpuinfo)
    native._cpuinfo_lines.cache_clear()
    native._cpu_flags.cache_clear()
    try:
        assert (native.cpu_has_avx2(), native.cpu_has_avx512()) == (avx2, avx512)
    finally:
        native._cpuinfo_lines.cache_clear()
        native._cpu_flags.cache_clear()


@pytest.mark.slow
@needs_native
def test_the_library_is_built_and_self_tested_once(fresh_decision, monkeypatch):
    library = fresh_decision()
    assert library and (Path(library).parent / f"passed-{native._cpu_key()}").exists()

    def fail(*args):
        raise AssertionError("rebuilt or retested")

    monkeypatch.setattr(native, "_compile", fail)
    monkeypatch.setattr(native, "_self_test", fail)
    monkeypatch.delenv("_MINDCV_NATIVE_CONV_LIB")
    assert fresh_decision() == library
    assert "ONEDNN_MAX_CPU_ISA" not in native.os.environ


def test_each_conv_path_and_native_build_has_its_own_compile_cache(monkeypatch, tmp_path):
    """MindSpore's compile cache would load a graph compiled on the other path, or one naming the
    library of an older native build."""
    monkeypatch.setattr(native, "native_conv_library", lambda: "/home/native/0123abcd/conv2d.so")
    monkeypatch.setattr(blocked, "channel_block", lambda library: 16)  # its blocked shapes
    monkeypatch.setenv("MS_COMPILER_CACHE_PATH", str(tmp_path))
    for _ in range(2):  # idempotent: init_runtime may run more than once
        runtime._key_compile_cache_by_conv_path(True)
    assert runtime.os.environ["MS_COMPILER_CACHE_PATH"] == str(tmp_path / "onednn-b16-0123abcd")
    monkeypatch.setenv("MS_COMPILER_CACHE_PATH", str(tmp_path))
    runtime._key_compile_cache_by_conv_path(False)
    assert runtime.os.environ["MS_COMPILER_CACHE_PATH"] == str(tmp_path / "builtin-conv")
    monkeypatch.setenv("MS_COMPILER_CACHE_PATH", str(tmp_path))
    monkeypatch.setenv("MINDCV_NATIVE_CONV", "bf16")
    monkeypatch.setattr(native, "native_bf16_supported", lambda: True)
    runtime._key_compile_cache_by_conv_path(True)
    assert runtime.os.environ["MS_COMPILER_CACHE_PATH"] == str(tmp_path / "onednn-bf16-b16-0123abcd")
