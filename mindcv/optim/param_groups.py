"""Parameter groups: which parameters are decayed (`weight_decay_filter`) and at which
learning rate each layer trains (`layer_decay`).

Given plain parameters, MindSpore's optimizers silently skip decay on any parameter whose name
contains "beta" or "gamma" (yet decay biases), and MindCV's "norm_and_bias" filter matches those
words anywhere in a name. Here every group carries an explicit weight decay: "disable" decays
everything; "auto" and "norm_and_bias" exclude exactly the normalisation parameters (a layer's
`gamma`, `beta` and moving statistics) and the biases, judged by the last part of the name.

Layer decay (timm's, from BEiT) trains layer i of n at lr * layer_decay ** (n - 1 - i): the
head at the full rate, the stem slowest. Layers come from parameter names (`layer_ids`).
"""

import re
from typing import Iterable, List, Sequence, Union

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.nn.learning_rate_schedule import LearningRateSchedule

from ..utils.errors import MindCVError

__all__ = ["FILTERS", "is_norm_or_bias", "layer_decay_groups", "layer_ids", "param_groups"]

FILTERS = ("disable", "auto", "norm_and_bias")
_NO_DECAY = ("gamma", "beta", "moving_mean", "moving_variance", "bias")


def is_norm_or_bias(param: Parameter) -> bool:
    return param.name.rsplit(".", 1)[-1] in _NO_DECAY


def param_groups(
    model_or_params: Union[nn.Cell, Iterable[Parameter], Iterable[dict]],
    weight_decay: float,
    weight_decay_filter: str = "disable",
) -> List[dict]:
    """MindSpore parameter groups, each with its weight decay set, ending with `order_params`.

    `model_or_params` is a network (its trainable parameters), parameters, or group dicts; a
    group's own `weight_decay` and `lr` are kept, and a filter splits every group in two.
    """
    if weight_decay_filter not in FILTERS:
        raise MindCVError(
            f"unknown weight_decay_filter '{weight_decay_filter}': choose one of {', '.join(FILTERS)}"
        )
    groups = _as_groups(model_or_params)
    order = next((g["order_params"] for g in groups if "order_params" in g), None)
    groups = [g for g in groups if "order_params" not in g]
    split = []
    for group in groups:
        params = list(group["params"])
        decay = float(group.get("weight_decay", weight_decay))
        if weight_decay_filter == "disable":
            parts = [(params, decay)]
        else:
            parts = [
                ([p for p in params if not is_norm_or_bias(p)], decay),
                ([p for p in params if is_norm_or_bias(p)], 0.0),
            ]
        split += [{**group, "params": ps, "weight_decay": wd} for ps, wd in parts if ps]
    if not split:
        raise MindCVError("there are no trainable parameters to optimize; is every layer frozen?")
    return split + [{"order_params": list(order or [p for g in groups for p in g["params"]])}]


def _as_groups(model_or_params) -> List[dict]:
    if isinstance(model_or_params, nn.Cell):
        return [{"params": model_or_params.trainable_params()}]
    items = list(model_or_params)
    if all(isinstance(x, Parameter) for x in items):
        return [{"params": items}]
    if all(isinstance(x, dict) and ("params" in x or "order_params" in x) for x in items):
        return items
    raise MindCVError(
        "create_optimizer takes a network, a list of Parameters or a list of parameter-group dicts "
        "with 'params'; got a mix or something else"
    )


# MindCV's DenseNet names: the stem, dense layer M of block N, transition N.
_DENSENET = re.compile(
    r"features\.(?:(?:conv|norm|pool)0|denseblock(\d+)\.cell_list\.(\d+)|transition(\d+))\."
)
_WITH_PREVIOUS = float("inf")  # a key ending so joins the layer sorted before it


def layer_ids(names: Sequence[str]) -> List[int]:
    """The layer of each parameter name, 0 at the input, the largest at the head.

    DenseNet: timm's `group_matcher` layers, so timm's layer_decay values carry over: the stem
    (`features.conv0`, `norm0`) is 0, every dense layer is one layer, a transition joins the
    dense layer before it, and the final norm with the classifier is the last. Any other
    network: one layer per top-level cell, in parameter order (a single top-level cell means one
    layer, hence no decay).
    """
    if any(_DENSENET.match(name) for name in names):
        keys = [_densenet_key(name) for name in names]
    else:
        tops = {top: i for i, top in enumerate(dict.fromkeys(name.split(".")[0] for name in names))}
        keys = [(tops[name.split(".")[0]],) for name in names]
    ids, layer = {}, -1
    for key in sorted(set(keys)):
        if layer < 0 or key[-1] != _WITH_PREVIOUS:
            layer += 1
        ids[key] = layer
    return [ids[key] for key in keys]


def _densenet_key(name: str) -> tuple:
    match = _DENSENET.match(name)
    if match is None:
        return (2,)  # features.norm5 and the classifier
    block, layer, transition = match.groups()
    if block is not None:
        return (1, int(block), int(layer))
    if transition is not None:
        return (1, int(transition), _WITH_PREVIOUS)
    return (0,)


def layer_decay_groups(
    model_or_params: Union[nn.Cell, Iterable[Parameter]],
    layer_decay: float,
    lr: Union[float, ms.Tensor],
) -> List[dict]:
    """One group per layer (see `layer_ids`) whose "lr" is `lr` times its scale
    layer_decay ** (num_layers - 1 - layer), ending with `order_params`.

    `lr` is a float or a 1-D Tensor of per-step rates. The per-step rates are stored once and
    scaled when read, so the optimizer and the resume state hold one schedule, not one per layer.
    """
    if not 0 < layer_decay <= 1:
        raise MindCVError(f"layer_decay must be in (0, 1], got {layer_decay}")
    if isinstance(model_or_params, nn.Cell):
        params = model_or_params.trainable_params()
    else:
        params = list(model_or_params)
        if not all(isinstance(p, Parameter) for p in params):
            raise MindCVError(
                "layer_decay needs a network or a list of Parameters, not parameter-group dicts "
                "(those set their own lr)"
            )
    if not params:
        raise MindCVError("there are no trainable parameters to optimize; is every layer frozen?")
    if not isinstance(lr, (float, ms.Tensor)):
        raise MindCVError(
            "layer_decay needs lr as a number or a list of per-step rates (create_scheduler's), "
            f"not a {type(lr).__name__}"
        )
    ids = layer_ids([p.name for p in params])
    num_layers = max(ids) + 1
    rates = lr if isinstance(lr, float) else Parameter(lr, name="learning_rate", requires_grad=False)
    groups = []
    for layer in range(num_layers):
        scale = layer_decay ** (num_layers - 1 - layer)
        group_lr = rates * scale if isinstance(rates, float) else _ScaledRates(rates, scale)
        groups.append({"params": [p for p, i in zip(params, ids) if i == layer], "lr": group_lr})
    return groups + [{"order_params": params}]


class _ScaledRates(LearningRateSchedule):
    """`rates[step] * scale`, reading a per-step rate Parameter shared by all layers."""

    def __init__(self, rates: Parameter, scale: float):
        super().__init__()
        self.rates = rates
        self.scale = scale

    def construct(self, global_step):
        return ops.gather(self.rates, global_step, 0) * self.scale
