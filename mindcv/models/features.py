"""MindCV's `FeatureExtractWrapper`: the feature maps of a built classifier at chosen levels.

`create_model(..., features_only=True)` builds a backbone directly; the wrapper does the same for
a model already built (e.g. after loading its weights). It reads either form of `feature_info`:
MindCV's (`{"chs", "reduction", "name"}`) or timm's (`{"num_chs", "reduction", "module"}`). As in
MindCV and timm, the network's child cells must run one after the other in definition order;
a `SequentialCell` is opened when a level is named inside it (`features.relu0`) or when the
network sets `flatten_sequential`. A cell whose output is not yet its level's map (DenseNet's
native path hands the next cell the blocked layout, or a block's chunks) converts it with its
`feature_map` method. Parameter names stay the model's, so its checkpoints still load into the
wrapper.
"""

from typing import List, Sequence, Tuple

from mindspore import nn

from ..utils.errors import MindCVError

__all__ = ["FeatureExtractWrapper", "feature_map"]


def feature_map(cell: nn.Cell, output):
    """`cell`'s output as the feature map of its level: its `feature_map(output)` if it has one."""
    return cell.feature_map(output) if hasattr(cell, "feature_map") else output


class FeatureExtractWrapper(nn.Cell):
    """Returns the maps of `net.feature_info[i]` for i in `out_indices`, running the network's
    cells only as far as the deepest one; `out_channels` lists their channel counts."""

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
        wanted = [level.get("name", level.get("module")) for level in (info[i] for i in out_indices)]
        stages = _stages(net, wanted, getattr(net, "flatten_sequential", False))
        names = [name for name, _ in stages]
        missing = [name for name in wanted if name not in names]
        if missing:
            raise MindCVError(
                f"feature_info names {missing} are not cells of {type(net).__name__} run in order; "
                f"its cells are {names}"
            )
        self._ends = tuple(sorted(names.index(name) for name in wanted))
        # A tuple, not a CellList: the cells stay registered under `net` with their own names.
        self._stages = tuple(cell for _, cell in stages[: self._ends[-1] + 1])
        self._out_channels = [info[i].get("chs", info[i].get("num_chs")) for i in out_indices]
        self.net = net

    @property
    def out_channels(self) -> list:
        return list(self._out_channels)

    def construct(self, x):
        outs = ()
        for i, cell in enumerate(self._stages):
            x = cell(x)
            if i in self._ends:
                outs += (feature_map(cell, x),)
        return outs


def _stages(net: nn.Cell, wanted: List[str], flatten: bool) -> List[Tuple[str, nn.Cell]]:
    """The network's child cells in order, a `SequentialCell` opened into its own children."""
    stages = []
    for name, cell in net.name_cells().items():
        inside = any(w.startswith(f"{name}.") for w in wanted)
        if isinstance(cell, nn.SequentialCell) and (flatten or inside):
            stages += [(f"{name}.{child}", sub) for child, sub in cell.name_cells().items()]
        else:
            stages.append((name, cell))
    return stages
