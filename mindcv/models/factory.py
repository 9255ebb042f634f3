"""`create_model`: build a registered model and fill it with pretrained or given weights."""

from ..utils.download import download_url, get_mindcv_home
from ..utils.errors import MindCVError
from .checkpoint import adapt_input_conv, load_params, read_checkpoint, remap_params
from .registry import get_pretrained_cfg, model_entrypoint

__all__ = ["create_model", "load_weights"]


def create_model(
    model_name: str,
    num_classes: int = 1000,
    pretrained: bool = False,
    in_channels: int = 3,
    checkpoint_path: str = "",
    ema: bool = False,
    auto_mapping: bool = False,
    **kwargs,
):
    """Build `model_name`; `pretrained` downloads its published weights (cached), while
    `checkpoint_path` loads a local checkpoint, its EMA weights with `ema`, its differently
    named weights with `auto_mapping` (see `remap_params`). A classifier of another class count
    is dropped. Keyword arguments that are None are dropped, as MindCV does, so the model's
    defaults apply."""
    if pretrained and checkpoint_path:
        raise MindCVError("give either pretrained=True or checkpoint_path, not both")
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    # `pretrained` is loaded here, not by the entry point, so models registered without that argument work.
    model = model_entrypoint(model_name)(num_classes=num_classes, in_channels=in_channels, **kwargs)
    load_weights(
        model, model_name, pretrained, checkpoint_path, in_channels, ema=ema, auto_mapping=auto_mapping
    )
    return model


def load_weights(
    model,
    model_name: str,
    pretrained: bool,
    checkpoint_path: str = "",
    in_channels: int = 3,
    new_head: bool = True,
    ema: bool = False,
    auto_mapping: bool = False,
) -> None:
    """Load the published weights (`pretrained`) or `checkpoint_path` into `model`.

    Published weights come from `cfg["url"]`, cached under `$MINDCV_HOME/checkpoints`: a cached
    file is used without touching the network, and a new download is kept only once it reads as
    a checkpoint, so a bad transfer never poisons the cache. With `new_head`, a classifier of
    another class count is dropped (fine-tuning); without, it is an error (evaluation).
    `ema` and `auto_mapping` are `remap_params`'.
    """
    cfg = get_pretrained_cfg(model_name)
    if pretrained:
        if not cfg.get("url"):
            raise MindCVError(f"{model_name} has no pretrained weights; drop --pretrained")
        path = download_url(cfg["url"], get_mindcv_home() / "checkpoints", check=read_checkpoint)
    elif checkpoint_path:
        path = checkpoint_path
    else:
        return
    params = remap_params(read_checkpoint(path), model, path, ema, auto_mapping)
    first_conv = cfg.get("first_conv")
    if first_conv and f"{first_conv}.weight" in params:
        adapt_input_conv(params, first_conv, in_channels)
    load_params(model, params, path, classifier=cfg.get("classifier", "classifier") if new_head else None)
