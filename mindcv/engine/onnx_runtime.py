"""Run a MindSpore network in onnxruntime: exported to ONNX as export.py does, in a CPU session.

On CPUs where MindSpore's convolutions fall back to oneDNN's AVX2 GEMM, onnxruntime's kernels
run DenseNet inference about 3x faster (README "Speed").
"""

import os
import shutil
import tempfile
from typing import Callable

import numpy as np

from ..utils.errors import MindCVError

__all__ = ["onnxruntime_forward"]


def onnxruntime_forward(network, sample: np.ndarray, threads: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """`batch -> logits` of `network`, exported for inputs of `sample`'s shape and run by onnxruntime."""
    import mindspore as ms

    from ..ops import builtin_convolutions

    try:
        import onnxruntime
    except ImportError:
        raise MindCVError("onnxruntime is not installed: pip install onnxruntime") from None
    folder = tempfile.mkdtemp()
    try:
        stem = os.path.join(folder, "model")
        with builtin_convolutions(network):
            ms.export(network, ms.Tensor(sample), file_name=stem, file_format="ONNX")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(stem + ".onnx", options, providers=["CPUExecutionProvider"])
    finally:
        shutil.rmtree(folder)
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]
