"""timm/MindCV auto-augment strings mapped onto MindSpore's C++ policies (and `augmix.py`).

- `randaug-m9-n2-mstd0.5[-inc1]`: RandAugment with n ops (default 2) at magnitude m of 10 (timm's
  scale, i.e. 11 magnitude bins). MindSpore draws no magnitude noise, so `mstd` > 0 picks, per
  image, one of 16 RandAugment ops whose magnitudes are the quantiles of N(m, mstd) (timm draws
  per op).
- `autoaug[-mstd0.5]`, `autoaugr[-mstd0.5]`: AutoAugment, ImageNet policy.
- `3a`: 3-Augment (DeiT III): per image one of solarize (threshold 128), greyscale, or Gaussian
  blur with sigma in [0.1, 2] (8 quantiles: MindSpore's blur has a fixed sigma). Greyscale is
  `AdjustSaturation(0)`, a C++ op on arrays: MindSpore's `Grayscale` takes PIL images only.
- `augmix[-m3-w3-d-1-a1]`: AugMix (`augmix.py`).   - `trivialaugwide`: TrivialAugmentWide.

MindSpore's RandAugment and AutoAugment are torchvision's policies: timm's posterize variants
(`autoaugr` and `inc1` "increasing", `autoaug` and `inc0` original) run that one op set, and
AutoAugment has no magnitude noise (`mstd` is accepted and has no effect there).
"""

import math
import re
from statistics import NormalDist

import mindspore.dataset.transforms as T
import mindspore.dataset.vision as vision

from ..utils.errors import MindCVError
from .augmix import AugMix

__all__ = ["auto_augment_op"]

_MAX_LEVEL = 10
_NOISE_STEPS = 16


def auto_augment_op(spec: str, interpolation: vision.Inter):
    """The transform op for `spec` (see the module docstring), applied to HWC uint8 images."""
    name, *params = spec.lower().split("-")
    if name in ("autoaug", "autoaugr") and all(re.fullmatch(r"mstd\d+(\.\d*)?", p) for p in params):
        return vision.AutoAugment(vision.AutoAugmentPolicy.IMAGENET, interpolation)
    if name == "trivialaugwide" and not params:
        return vision.TrivialAugmentWide(interpolation=interpolation)
    if name == "3a" and not params:
        return _three_augment()
    if name == "augmix":
        return AugMix(spec)
    if name == "randaug":
        return _rand_augment(spec, params, interpolation)
    raise MindCVError(
        f"unknown auto_augment {spec!r}; use e.g. 'randaug-m9-mstd0.5', 'autoaug', 'autoaugr', '3a', "
        "'augmix' or 'trivialaugwide'"
    )


def _three_augment():
    sigmas = [0.1 + 1.9 * (k + 0.5) / 8 for k in range(8)]
    blurs = [vision.GaussianBlur(2 * math.ceil(3 * sigma) + 1, sigma) for sigma in sigmas]
    return T.RandomChoice([vision.Solarize(128.0), vision.AdjustSaturation(0.0), T.RandomChoice(blurs)])


def _rand_augment(spec: str, params, interpolation):
    settings = {"m": 9.0, "n": 2.0, "mstd": 0.0, "inc": 0.0}
    for param in params:
        match = re.fullmatch(r"(mstd|inc|m|n)(\d+(?:\.\d*)?)", param)
        if not match:
            raise MindCVError(
                f"cannot read {param!r} in auto_augment {spec!r}; "
                "RandAugment takes m<int>, n<int>, mstd<float>, inc<0|1>, e.g. randaug-m9-n2-mstd0.5"
            )
        settings[match.group(1)] = float(match.group(2))
    magnitude, mstd = settings["m"], settings["mstd"]
    quantiles = (
        [NormalDist().inv_cdf((k + 0.5) / _NOISE_STEPS) for k in range(_NOISE_STEPS)] if mstd > 0 else [0.0]
    )
    levels = [int(round(min(max(magnitude + mstd * q, 0), _MAX_LEVEL))) for q in quantiles]
    ops = [
        vision.RandAugment(int(settings["n"]), level, _MAX_LEVEL + 1, interpolation=interpolation)
        for level in levels
    ]
    return ops[0] if len(ops) == 1 else T.RandomChoice(ops)
