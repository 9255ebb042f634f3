"""`python -m mindcv.ops.selftest LIBRARY`: check a built native library against MindSpore's ops:
its convolutions against nn.Conv2d (in bfloat16 too, where this CPU has oneDNN bfloat16 kernels),
its blocked-layout BatchNorm against nn.BatchNorm2d.

Run by native.py in a child process once per build; the last line printed is the verdict: `ok bf16`
or `ok fp32` (passed, with or without bfloat16 convolutions), or the reason it failed.
"""

import ctypes
import sys
from typing import Optional

import numpy as np

DNNL_RUNTIME_THREADPOOL = 8
# DenseNet's convolutions by name, (in, out, kernel, stride, padding); tests/ops/test_conv.py's too.
CONFIGS = {"stem7x7s2": (3, 8, 7, 2, 3), "3x3": (16, 8, 3, 1, 1), "1x1": (16, 8, 1, 1, 0)}
TOLERANCE = 1e-5
BF16_TOLERANCE = 1e-2  # bfloat16 keeps 8 significant bits: about 3e-3 measured


def relative_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def cell_errors(native, builtin, x, dy):
    """Relative L2 errors of native vs builtin cells (same weights, NCHW in and out) in y, dx and
    the weights' gradients (as one vector)."""
    import mindspore as ms
    from mindspore import nn

    class Loss(nn.Cell):
        def __init__(self, conv):
            super().__init__()
            self.conv = conv

        def construct(self, x, dy):
            y = self.conv(x)
            return (y * dy).sum(), y

    results = []
    for cell in (native, builtin):
        grad = ms.value_and_grad(Loss(cell), grad_position=0, weights=cell.trainable_params(), has_aux=True)
        (_, y), (dx, dws) = grad(x, dy)
        results.append((y.asnumpy(), dx.asnumpy(), np.concatenate([dw.asnumpy().ravel() for dw in dws])))
    return [relative_error(a, b) for a, b in zip(*results)]


def check(library: str) -> str:
    native = ctypes.CDLL(library)
    version = (ctypes.c_int * 4)()
    native.mindcv_dnnl_version(version)
    major, minor, patch, runtime = version
    if major != 3 or runtime != DNNL_RUNTIME_THREADPOOL:
        return (
            f"MindSpore's oneDNN is {major}.{minor}.{patch} with CPU runtime {runtime}, need 3.x THREADPOOL"
        )

    import mindspore as ms
    from mindspore import nn

    from .onednn_conv import OneDNNConv2d

    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_device("CPU")
    rng = np.random.default_rng(0)
    precisions = {False: TOLERANCE}
    if native.mindcv_conv_bf16_supported():
        precisions[True] = BF16_TOLERANCE
    for bf16, tolerance in precisions.items():
        for cin, cout, k, stride, pad in CONFIGS.values():
            conv = OneDNNConv2d(library, cin, cout, k, stride=stride, padding=pad, bf16=bf16)
            builtin = nn.Conv2d(cin, cout, k, stride=stride, pad_mode="pad", padding=pad, has_bias=False)
            builtin.weight.set_data(conv.weight.value())
            x = ms.Tensor(rng.standard_normal((2, cin, 13, 13)), ms.float32)
            dy = ms.Tensor(rng.standard_normal(conv(x).shape), ms.float32)
            errors = cell_errors(conv, builtin, x, dy)
            if max(errors) > tolerance:
                return f"{'bf16' if bf16 else 'fp32'} {k}x{k}/{stride} relative errors (y, dx, dw) {errors}"
    return check_batch_norm(library, rng) or f"ok {'bf16' if True in precisions else 'fp32'}"


def check_batch_norm(library: str, rng) -> Optional[str]:
    """Training-mode BlockedBatchNorm2d with its ReLU (as DenseNet uses it), between the layout
    changes, against nn.BatchNorm2d and nn.ReLU: None, or how it differs."""
    import mindspore as ms
    from mindspore import nn

    from .blocked import BlockedBatchNorm2d, ToBlocked, ToPlain

    norm = BlockedBatchNorm2d(library, 32, relu=True)
    native = nn.SequentialCell([ToBlocked(library), norm, ToPlain(library)])
    builtin = nn.SequentialCell([nn.BatchNorm2d(32), nn.ReLU()])
    for cell in (native, builtin):
        cell.set_train(True)
    x = ms.Tensor(rng.standard_normal((2, 32, 5, 5)) * 2 + 1, ms.float32)
    dy = ms.Tensor(rng.standard_normal(x.shape), ms.float32)
    errors = cell_errors(native, builtin, x, dy)
    if max(errors) > TOLERANCE:
        return f"BatchNorm-ReLU relative errors (y, dx, dgamma+dbeta) {errors}"
    return None


if __name__ == "__main__":
    verdict = check(sys.argv[1])
    print(verdict)
    sys.exit(not verdict.startswith("ok "))
