"""Convert torchvision or timm DenseNet state dicts into this package's (MindCV's) parameter names.

timm's DenseNet is a copy of torchvision's (its `BatchNormAct2d` is a `BatchNorm2d` and adds no
parameters), so one key mapping serves both. The converted weights are loaded into a freshly
built model before anything is written, and the `.ckpt` appears only once complete, so a bad
source never leaves a checkpoint that fails later, far from its cause.
"""

import re
from pathlib import Path
from typing import Dict, Mapping

import mindspore as ms
import numpy as np

from ..utils.atomic import atomic_save_checkpoint
from ..utils.errors import MindCVError
from .checkpoint import load_params
from .factory import create_model
from .registry import get_pretrained_cfg

__all__ = ["read_state_dict", "convert_key", "convert_state_dict", "convert_weights"]

_WRAPPERS = ("state_dict", "model")
_PREFIX = "module."  # added by (Distributed)DataParallel
_BN_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}
# torchvision's checkpoints from before 0.4 name dense-layer modules `norm.1`, `conv.2`, ...
_LEGACY = re.compile(r"(denselayer\d+\.(?:norm|conv))\.([12])\.")
_DENSE_LAYER = re.compile(r"\.denselayer(\d+)\.")
_TRANSITION = re.compile(r"\.(transition\d+)\.")
_BN_PARAM = re.compile(r"(\.norm\d*)\.(weight|bias|running_mean|running_var)$")


def _load_torch(path: Path):
    try:
        import torch
    except ImportError:
        raise MindCVError(
            f"reading {path} needs PyTorch: pip install torch (or save the weights as .safetensors/.npz)"
        ) from None
    return torch.load(path, map_location="cpu", weights_only=True)


def _load_safetensors(path: Path):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise MindCVError(f"reading {path} needs the safetensors package: pip install safetensors") from None
    return load_file(str(path))


def _load_npz(path: Path):
    with np.load(path) as arrays:
        return dict(arrays)


_LOADERS = {".pth": _load_torch, ".pt": _load_torch, ".safetensors": _load_safetensors, ".npz": _load_npz}


def _unwrap(state):
    """The state dict inside a training checkpoint ({"state_dict": ...} or {"model": ...})."""
    for key in _WRAPPERS:
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            return state[key]
    return state


def _as_array(value, key: str, path: Path) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor; NumPy has no bfloat16, so widen floats first
        value = value.detach()
        return (value.float() if value.is_floating_point() else value).numpy()
    if isinstance(value, np.ndarray):
        return value
    raise MindCVError(
        f"{path}: entry '{key}' is a {type(value).__name__}, not a tensor; give a model state dict"
    )


def read_state_dict(path) -> Dict[str, np.ndarray]:
    """The arrays of a torch (.pth/.pt), safetensors or NumPy (.npz) state dict, unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise MindCVError(f"source weights {path} do not exist; check --src")
    loader = _LOADERS.get(path.suffix)
    if loader is None:
        raise MindCVError(f"cannot read {path}: give a {', '.join(_LOADERS)} file as --src")
    try:
        state = _unwrap(loader(path))
    except MindCVError:
        raise
    except Exception as exc:  # torch, safetensors and NumPy each raise their own types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MindCVError(f"{path} cannot be read as a {path.suffix} state dict: {reason}") from exc
    if not isinstance(state, Mapping) or not state:
        raise MindCVError(f"{path} holds no state dict; give a file saved from model.state_dict()")
    return {key.removeprefix(_PREFIX): _as_array(value, key, path) for key, value in state.items()}


def convert_key(key: str) -> str:
    """Our name for a torchvision/timm parameter name, e.g.
    `features.denseblock1.denselayer1.norm.1.weight` -> `features.denseblock1.cell_list.0.norm1.gamma`."""
    key = _LEGACY.sub(r"\1\2.", key)
    key = _DENSE_LAYER.sub(lambda m: f".cell_list.{int(m.group(1)) - 1}.", key)
    key = _TRANSITION.sub(r".\1.features.", key)
    return _BN_PARAM.sub(lambda m: f"{m.group(1)}.{_BN_NAMES[m.group(2)]}", key)


def convert_state_dict(state: Mapping[str, np.ndarray]) -> Dict[str, ms.Parameter]:
    """Renamed float32 parameters; BN step counters (`num_batches_tracked`) have no counterpart."""
    params = {}
    sources = {}
    for key, value in state.items():
        if key.endswith(".num_batches_tracked"):
            continue
        name = convert_key(key)
        if name in params:
            raise MindCVError(f"both {sources[name]} and {key} map to {name}; keep only one of them")
        sources[name] = key
        data = value.astype(np.float32) if np.issubdtype(value.dtype, np.floating) else value
        params[name] = ms.Parameter(ms.Tensor(data), name=name)
    return params


def convert_weights(model_name: str, src, dst) -> Path:
    """Convert the state dict at `src` for `model_name` into the MindSpore checkpoint `dst`.

    The class count and input channels come from the weights' shapes (no classifier: a
    headless backbone). Any missing, unexpected or mis-shaped key, the head included, fails
    before `dst` is touched.
    """
    dst = Path(dst)
    if dst.suffix != ".ckpt":
        raise MindCVError(f"--dst {dst} must end in .ckpt, the only suffix MindSpore loads")
    cfg = get_pretrained_cfg(model_name)
    params = convert_state_dict(read_state_dict(src))
    head = params.get(f"{cfg['classifier']}.weight")
    first_conv = params.get(f"{cfg['first_conv']}.weight")
    model = create_model(
        model_name,
        num_classes=head.shape[0] if head is not None else 0,
        in_channels=first_conv.shape[1] if first_conv is not None else 3,
    )
    if head is not None and tuple(head.shape[1:]) != (model.num_features,):
        # load_params would drop such a head as another dataset's; with the class count taken
        # from the weights it can only mean another architecture
        raise MindCVError(
            f"{src}: its classifier takes {tuple(head.shape[1:])} features but {model_name} gives "
            f"{model.num_features}; is it a {model_name} checkpoint? pick the matching --model"
        )
    load_params(model, params, src, classifier=cfg["classifier"])
    atomic_save_checkpoint(model, dst)
    return dst
