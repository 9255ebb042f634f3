"""`create_model`: build a registered model and fill it with pretrained or given weights."""

from ..utils.download import download_url, get_mindcv_home
from ..utils.errors import MindCVError
from .checkpoint import adapt_input_conv, load_params, read_checkpoint
from .registry import get_pretrained_cfg, model_entrypoint

__all__ = ["create_model", "load_pretrained"]


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
    cfg = get_pretrained_cfg(model_name)
    if pretrained:
        load_pretrained(model, cfg, in_channels)
    elif checkpoint_path:
        params = read_checkpoint(checkpoint_path)
        if f"{cfg.get('first_conv')}.weight" in params:
            adapt_input_conv(params, cfg["first_conv"], in_channels)
        load_params(model, params, checkpoint_path, classifier=cfg.get("classifier", "classifier"))
    return model


def load_pretrained(model, cfg: dict, in_channels: int = 3) -> None:
    """Load the weights at `cfg["url"]`, cached under `$MINDCV_HOME/checkpoints`.

    A cached file is used without touching the network; a new download is kept only once it
    reads as a checkpoint, so a bad transfer never poisons the cache.
    """
    if not cfg.get("url"):
        raise MindCVError(f"{type(model).__name__} has no pretrained weights; drop --pretrained")
    path = download_url(cfg["url"], get_mindcv_home() / "checkpoints", check=read_checkpoint)
    params = read_checkpoint(path)
    adapt_input_conv(params, cfg["first_conv"], in_channels)
    load_params(model, params, path, classifier=cfg["classifier"])
