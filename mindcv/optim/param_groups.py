"""Parameter groups implementing `weight_decay_filter`: which parameters are decayed.

Given plain parameters, MindSpore's optimizers silently skip decay on any parameter whose name
contains "beta" or "gamma" (yet decay biases), and MindCV's "norm_and_bias" filter matches those
words anywhere in a name. Here every group carries an explicit weight decay: "disable" decays
everything; "auto" and "norm_and_bias" exclude exactly the normalisation parameters (a layer's
`gamma`, `beta` and moving statistics) and the biases, judged by the last part of the name.
"""

from typing import Iterable, List, Union

from mindspore import Parameter, nn

from ..utils.errors import MindCVError

__all__ = ["FILTERS", "is_norm_or_bias", "param_groups"]

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
