"""`create_model`: build a registered model and fill it with pretrained or given weights."""

from ..utils.download import download_url, get_mindcv_home
from ..utils.errors import MindCVError
from .checkpoint import adapt_input_conv, load_params, read_checkpoint
from .registry import get_pretrained_cfg, model_entrypoint

__all__ = ["create_model", "load_weights"]


def create_model(
    model_name: str,
    num_classes: int = 1000,
    pretrained: bool = False,
    in_channels: int = 3,
    checkpoint_path: str = "",
    **kwargs,
):
    """Build `model_name`; `pretrained` downloads its published weights (cached), while
    `checkpoint_path` loads a local checkpoint. A classifier of another class count is dropped."""
    if pretrained and checkpoint_path:
        raise MindCVError("give either pretrained=True or checkpoint_path, not both")
    model = model_entrypoint(model_name)(num_classes=num_classes, in_channels=in_channels, **kwargs)
    load_weights(model, model_name, pretrained, checkpoint_path, in_channels)
    return model


def load_weights(
    model,
    model_name: str,
    pretrained: bool,
    checkpoint_path: str = "",
    in_channels: int = 3,
    new_head: bool = True,
) -> None:
    """Load the published weights (`pretrained`) or `checkpoint_path` into `model`.

    Published weights come from `cfg["url"]`, cached under `$MINDCV_HOME/checkpoints`: a cached
    file is used without touching the network, and a new download is kept only once it reads as
    a checkpoint, so a bad transfer never poisons the cache. With `new_head`, a classifier of
    another class count is dropped (fine-tuning); without, it is an error (evaluation).
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
    params = read_checkpoint(path)
    first_conv = cfg.get("first_conv")
    if first_conv and f"{first_conv}.weight" in params:
        adapt_input_conv(params, first_conv, in_channels)
    load_params(model, params, path, classifier=cfg.get("classifier", "classifier") if new_head else None)
