"""Read checkpoints and load them into a model, refusing anything that does not fit.

MindCV silently keeps random weights for a missing file and loads mismatched checkpoints
partially; here every such case is one `MindCVError` naming the file and the offending keys.
Only a classifier of another class count is dropped (with a warning), which is what
fine-tuning an ImageNet checkpoint on a new dataset needs.
"""

import difflib
import logging
import math
from pathlib import Path
from typing import Dict, Optional

import mindspore as ms
import numpy as np
from mindspore import nn

from ..utils.errors import MindCVError

__all__ = ["read_checkpoint", "adapt_input_conv", "load_params", "remap_params"]

_logger = logging.getLogger(__name__)
_MAX_KEYS_SHOWN = 5


def read_checkpoint(path) -> Dict[str, ms.Parameter]:
    """All parameters stored in a `.ckpt` (or `.safetensors`) file."""
    path = Path(path)
    if not path.is_file():
        raise MindCVError(f"checkpoint {path} does not exist; check the path (--ckpt_path)")
    fmt = "safetensors" if path.suffix == ".safetensors" else "ckpt"
    try:
        params = ms.load_checkpoint(str(path), format=fmt)
    except Exception as exc:  # MindSpore raises ValueError, RuntimeError or TypeError here
        raise MindCVError(
            f"checkpoint {path} cannot be read (empty, truncated or not a MindSpore checkpoint): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    if not params:
        raise MindCVError(f"checkpoint {path} holds no parameters; point to a trained checkpoint")
    return params


def adapt_input_conv(params: Dict[str, ms.Parameter], first_conv: str, in_channels: int) -> None:
    """Make the RGB weight of the conv named `first_conv` fit `in_channels` inputs, in place.

    One channel sums the RGB filters (a grey image then gives the same response as its RGB
    copy); other counts repeat the RGB filters cyclically, scaled by 3 / in_channels to keep
    the activation scale, as timm does.
    """
    key = f"{first_conv}.weight"
    weight = params[key].asnumpy()
    if weight.shape[1] == in_channels:
        return
    if weight.shape[1] != 3:
        raise MindCVError(
            f"cannot adapt {key} with {weight.shape[1]} input channels to {in_channels}; "
            "only RGB weights can be adapted"
        )
    if in_channels == 1:
        adapted = weight.sum(axis=1, keepdims=True)
    else:
        repeats = math.ceil(in_channels / 3)
        adapted = np.tile(weight, (1, repeats, 1, 1))[:, :in_channels] * (3 / in_channels)
    params[key] = ms.Parameter(ms.Tensor(adapted.astype(weight.dtype)), name=key)
    _logger.info("adapted %s from 3 to %d input channels", key, in_channels)


def _shown(keys) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - _MAX_KEYS_SHOWN} more)" if len(keys) > _MAX_KEYS_SHOWN else ""
    return ", ".join(keys[:_MAX_KEYS_SHOWN]) + more


def load_params(
    model: nn.Cell, params: Dict[str, ms.Parameter], source, classifier: Optional[str] = "classifier"
) -> None:
    """Load `params` into `model`, requiring every model parameter to be present with its shape.

    Checkpoint entries outside the model's own top-level cells (optimizer moments, step
    counters, a classifier the model does not have) are ignored. A classifier whose shape
    differs from the model's is dropped with a warning so the model keeps its fresh head;
    `classifier=None` forbids that (resuming must restore everything).
    """
    expected = {p.name: p for p in model.get_parameters()}
    params = dict(params)
    head = [k for k in params if classifier and k.startswith(classifier + ".")]
    dropped_head = any(k in expected and params[k].shape != expected[k].shape for k in head)
    if dropped_head:
        shapes = {k: tuple(params[k].shape) for k in head}
        _logger.warning("%s: dropping classifier %s, which does not fit this model's classes", source, shapes)
        for k in head:
            del params[k]

    top_cells = {name.split(".")[0] for name in expected}
    unexpected = [k for k in params if k.split(".")[0] in top_cells and k not in expected]
    missing = [
        k for k in expected if k not in params and not (dropped_head and k.startswith(classifier + "."))
    ]
    mismatched = [
        f"{k} {tuple(params[k].shape)} vs {tuple(expected[k].shape)}"
        for k in expected
        if k in params and tuple(params[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {_shown(missing)}")
    if unexpected:
        problems.append(f"unexpected {_shown(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatch {_shown(mismatched)}")
    if problems:
        raise MindCVError(
            f"checkpoint {source} does not fit {type(model).__name__}: {'; '.join(problems)}. "
            "Is it a checkpoint of this --model?"
        )
    ms.load_param_into_net(model, {k: params[k] for k in expected if k in params}, strict_load=True)


def remap_params(
    params: Dict[str, ms.Parameter], model: nn.Cell, source, ema: bool = False, auto_mapping: bool = False
) -> Dict[str, ms.Parameter]:
    """MindCV's `create_model(ema=, auto_mapping=)` on a checkpoint's parameters.

    `ema` takes the EMA weights saved beside the trained ones as `ema.<name>`; a checkpoint without
    them (e.g. the best checkpoint of an --ema run, which holds EMA weights under the plain names)
    is loaded as it is, with a warning, where MindCV stops. `auto_mapping`
    renames entries the model does not know (e.g. under a wrapper's prefix) to the model's
    missing names. MindCV takes the closest name; here it must also have the same shape and is
    used once, so a weight never lands in the wrong layer.
    """
    if ema:
        averaged = {k[len("ema.") :]: v for k, v in params.items() if k.startswith("ema.")}
        if averaged:
            params = {**{k: v for k, v in params.items() if not k.startswith("ema.")}, **averaged}
        else:
            _logger.warning("%s holds no EMA weights (ema.*): loading its weights as they are", source)
    if not auto_mapping:
        return params
    params = dict(params)
    expected = {p.name: tuple(p.shape) for p in model.get_parameters()}
    spare = [k for k in params if k not in expected]
    for name, shape in expected.items():
        if name in params:
            continue
        same_shape = [k for k in spare if tuple(params[k].shape) == shape]
        close = difflib.get_close_matches(name, same_shape, n=1, cutoff=0.6)
        if close:
            _logger.info("auto_mapping: loading %s from %s", name, close[0])
            params[name] = params.pop(close[0])
            spare.remove(close[0])
    return params
