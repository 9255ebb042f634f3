"""AugMix (Hendrycks et al., 2020): a convex mix of augmentation chains, blended with the image.

MindSpore has no AugMix op, so this is a Python op on HWC uint8 RGB arrays (PIL for the image
operations: the paper's list, without colour ops, which overlap its corruption benchmark).
Spec `augmix[-m<severity>][-w<width>][-d<depth>][-a<alpha>]`, timm's and MindCV's format;
defaults m3, w3, d-1 (a random depth of 1-3 per chain), a1. Draws are not replayed on resume.
"""

import re

import numpy as np
from PIL import Image, ImageOps

from ..utils.errors import MindCVError

__all__ = ["AugMix"]

_PARAM = re.compile(r"-(mstd|m|w|d|a|b)(-?\d+(?:\.\d+)?)")  # mstd and b (blend) are read and not used


def _signed(rng, value):
    return value if rng.random() < 0.5 else -value


def _shear(image, rng, level, axis: int):
    amount = _signed(rng, 0.3 * level / 10)
    coeffs = (1, amount, 0, 0, 1, 0) if axis == 0 else (1, 0, 0, amount, 1, 0)
    return image.transform(image.size, Image.AFFINE, coeffs, resample=Image.BILINEAR)


def _translate(image, rng, level, axis: int):
    pixels = _signed(rng, level / 10 * image.size[axis] / 3)
    coeffs = (1, 0, pixels, 0, 1, 0) if axis == 0 else (1, 0, 0, 0, 1, pixels)
    return image.transform(image.size, Image.AFFINE, coeffs, resample=Image.BILINEAR)


_OPS = (
    lambda image, rng, level: ImageOps.autocontrast(image),
    lambda image, rng, level: ImageOps.equalize(image),
    lambda image, rng, level: ImageOps.posterize(image, 4 - int(level * 4 / 10)),
    lambda image, rng, level: image.rotate(_signed(rng, int(level * 30 / 10)), resample=Image.BILINEAR),
    lambda image, rng, level: ImageOps.solarize(image, 256 - int(level * 256 / 10)),
    lambda image, rng, level: _shear(image, rng, level, axis=0),
    lambda image, rng, level: _shear(image, rng, level, axis=1),
    lambda image, rng, level: _translate(image, rng, level, axis=0),
    lambda image, rng, level: _translate(image, rng, level, axis=1),
)


class AugMix:
    """`AugMix("augmix-m3-w3")(image)`: the AugMix of one HWC uint8 image, as uint8."""

    def __init__(self, spec: str = "augmix"):
        settings = {"m": 3.0, "w": 3.0, "d": -1.0, "a": 1.0}
        rest = spec.lower().removeprefix("augmix")
        params = _PARAM.findall(rest)
        if not spec.lower().startswith("augmix") or "".join(f"-{k}{v}" for k, v in params) != rest:
            raise MindCVError(f"cannot read auto_augment {spec!r}; AugMix is e.g. 'augmix-m3-w3-d-1-a1'")
        settings.update({key: float(value) for key, value in params})
        self.severity, self.width = settings["m"], int(settings["w"])
        self.depth, self.alpha = int(settings["d"]), settings["a"]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng()
        weights = rng.dirichlet([self.alpha] * self.width)
        blend = rng.beta(self.alpha, self.alpha)
        source = Image.fromarray(image)
        mixed = np.zeros(image.shape, np.float32)
        for weight in weights:
            chain = source
            for _ in range(self.depth if self.depth > 0 else rng.integers(1, 4)):
                op = _OPS[rng.integers(len(_OPS))]
                chain = op(chain, rng, rng.uniform(0.1, self.severity))
            mixed += weight * np.asarray(chain, np.float32)
        out = (1 - blend) * image.astype(np.float32) + blend * mixed
        return np.clip(out, 0, 255).astype(np.uint8)
