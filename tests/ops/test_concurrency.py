"""The native ops called from several threads at once on many shapes: the plan caches, the shared
scratch memory, the dense bottleneck's kept scratch region (a call finding it in use maps its
own), the per-thread streams and the thread pool under contention, every value checked."""

import itertools
import threading

import numpy as np

from mindcv.ops.selftest import relative_error
from tests.native_marks import needs_native
from tests.ops.native_calls import call

pytestmark = needs_native
TOLERANCE = 1e-5
# (batch, channels, size, kernel): 24 convolution shapes, each also a BatchNorm shape.
SHAPES = list(itertools.product((1, 2), (8, 16, 24), (5, 9), (1, 3)))


def convolution(x, w):
    """Stride 1, "same" padding, in float64."""
    pad = w.shape[2] // 2
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h, width = x.shape[2:]
    out = np.zeros((x.shape[0], w.shape[0], h, width))
    for i, j in itertools.product(range(w.shape[2]), range(w.shape[3])):
        out += np.einsum("nchw,oc->nohw", padded[:, :, i : i + h, j : j + width], w[:, :, i, j])
    return out


def check_convolution(rng, n, c, size, k):
    x = rng.standard_normal((n, c, size, size)).astype(np.float32)
    w = rng.standard_normal((c // 2 + 8, c, k, k)).astype(np.float32)
    y = np.zeros((n, w.shape[0], size, size), np.float32)
    assert call("mindcv_conv_forward", x, w, np.array([1, k // 2, 0], np.int32), y) == 0
    return relative_error(y, convolution(x, w))


def check_batch_norm(rng, n, c, size, k):
    """Inference BatchNorm-ReLU on blocked (N, C/8, H, W, 8) data."""
    x = rng.standard_normal((n, c // 8, size, size, 8)).astype(np.float32)
    gamma, beta, mean = (rng.standard_normal(c).astype(np.float32) for _ in range(3))
    var = rng.random(c).astype(np.float32) + 0.5
    y = np.zeros_like(x)
    cfg = np.array([1e-5, 1], np.float32)
    assert call("mindcv_bn_inference", x, gamma, beta, mean, var, cfg, y) == 0
    scale = (gamma / np.sqrt(var.astype(np.float64) + 1e-5)).reshape(c // 8, 1, 1, 8)
    shift = beta.reshape(c // 8, 1, 1, 8) - mean.reshape(c // 8, 1, 1, 8) * scale
    return relative_error(y, np.maximum(x * scale + shift, 0))


def check_dense_bottleneck(rng, n, c, size, k):
    """Training BN-ReLU-convolution of two NCHW chunks' concatenation, batch statistics."""
    chunks = [rng.standard_normal((n, part, size, size)).astype(np.float32) for part in (c // 2, c - c // 2)]
    gamma, beta = (rng.standard_normal(c).astype(np.float32) for _ in range(2))
    w = rng.standard_normal((8, c, k, k)).astype(np.float32)
    y, mean, var = np.zeros((n, 8, size, size), np.float32), np.zeros(c, np.float32), np.zeros(c, np.float32)
    cfgs = np.array([1e-5, 1], np.float32), np.array([1, k // 2, 0], np.int32)
    assert call("mindcv_dense_bottleneck", *chunks, gamma, beta, w, *cfgs, y, mean, var) == 0
    x = np.concatenate(chunks, axis=1).astype(np.float64)
    mu, sigma2 = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    normed = (x - mu) / np.sqrt(sigma2 + 1e-5) * gamma.reshape(1, c, 1, 1) + beta.reshape(1, c, 1, 1)
    return relative_error(y, convolution(np.maximum(normed, 0), w))


def test_three_ops_from_several_threads_on_many_shapes():
    errors, failures = [], []

    def work(seed, check):
        rng = np.random.default_rng(seed)
        try:
            for shape in rng.permutation(SHAPES * 2):
                errors.append(check(rng, *map(int, shape)))
        except Exception as exc:  # noqa: BLE001  (reported below, with every other thread's)
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(seed, check)) for seed, check in
               enumerate([check_convolution, check_batch_norm, check_dense_bottleneck] * 2)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(errors) == 6 * 2 * len(SHAPES) and max(errors) <= TOLERANCE, max(errors)
