"""MindCV's `FeatureExtractWrapper`: the feature maps of a built classifier at chosen levels.

`create_model(..., features_only=True)` builds a backbone directly; the wrapper does the same for
a model already built (e.g. after loading its weights). Parameter names stay the model's, so its
checkpoints still load into the wrapper.
"""

from typing import Sequence

from mindspore import nn

from ..utils.errors import MindCVError

__all__ = ["FeatureExtractWrapper"]


class FeatureExtractWrapper(nn.Cell):
    """Returns the maps of `net.feature_info[i]` for i in `out_indices`, running `net.features`
    only as far as the deepest one; `out_channels` lists their channel counts."""

    def __init__(self, net: nn.Cell, out_indices: Sequence[int] = (0, 1, 2, 3, 4)) -> None:
        super().__init__(auto_prefix=False)
        info = getattr(net, "feature_info", None)
        if not info or getattr(net, "features_only", False) or not isinstance(net, nn.Cell):
            raise MindCVError(
                f"{type(net).__name__} cannot be wrapped: it needs feature_info and a classifier "
                "(a features_only model already returns its feature maps)"
            )
        bad = [i for i in out_indices if not 0 <= i < len(info)]
        if bad:
            raise MindCVError(
                f"out_indices {bad} out of range: {type(net).__name__} has levels 0..{len(info) - 1}"
            )
        wanted = {info[i]["module"] for i in out_indices}
        names = [f"features.{name}" for name in net.features.name_cells()]
        self._ends = tuple(k for k, name in enumerate(names) if name in wanted)
        self._out_channels = [info[i]["num_chs"] for i in out_indices]
        self.net = net

    @property
    def out_channels(self) -> list:
        return list(self._out_channels)

    def construct(self, x):
        outs = ()
        for i, cell in enumerate(self.net.features):
            if i <= self._ends[-1]:
                x = cell(x)
                if i in self._ends:
                    outs += (x,)
        return outs
