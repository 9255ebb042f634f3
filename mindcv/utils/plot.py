"""The training curves as a PNG, drawn with matplotlib's object API (Agg, no display, no pyplot state).

Three panels over the epochs: train and validation loss on a log axis (one early validation loss
of 36 would flatten the rest on a linear one), top-1 and top-5 accuracy, the learning rate.
"""

import io
import math
from typing import Dict, List, Tuple

from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, PercentFormatter, StrMethodFormatter

__all__ = ["curves_figure", "plot_curves"]

_PANELS = (  # title, y label, [(column, label)], y axis: "log", "percent" (of fractions) or "linear"
    ("loss", "loss (log scale)", [("train_loss", "train"), ("val_loss", "validation")], "log"),
    ("validation accuracy", "accuracy", [("val_top1", "top-1"), ("val_top5", "top-5")], "percent"),
    ("learning rate", "learning rate at the epoch's end", [("lr", "learning rate")], "linear"),
)


def plot_curves(rows: List[Dict[str, str]], title: str = "") -> bytes:
    """`curves_figure` as PNG bytes, the title also in the PNG's metadata."""
    out = io.BytesIO()
    curves_figure(rows, title).savefig(out, format="png", metadata={"Title": title})
    return out.getvalue()


def curves_figure(rows: List[Dict[str, str]], title: str = "") -> Figure:
    """The figure of the metrics rows (columns as metrics.csv's); columns without values are left out."""
    figure = Figure(figsize=(13.5, 4.2), dpi=100, layout="constrained")
    figure.suptitle(title, fontsize="x-large")
    for axes, (name, ylabel, series, scale) in zip(figure.subplots(1, len(_PANELS)), _PANELS):
        for column, label in series:
            epochs, values = _points(rows, column, positive=scale == "log")
            if epochs:
                axes.plot(epochs, values, marker="o", markersize=4, label=label)
        if scale == "log" and axes.has_data():
            axes.set_yscale("log")  # labelled at 1-2-5 steps in plain numbers: 0.2, 0.5, 1, 2, 5, 10
            axes.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            axes.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
            axes.yaxis.set_minor_formatter(NullFormatter())
        if scale == "percent":
            axes.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.set_ylabel(ylabel)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, which="major", alpha=0.4)
        axes.grid(True, which="minor", alpha=0.15)
        if len(axes.lines) > 1:
            axes.legend()
        elif not axes.has_data():
            axes.text(0.5, 0.5, "no values", ha="center", va="center", transform=axes.transAxes)
    return figure


def _points(rows, column: str, positive: bool) -> Tuple[List[int], List[float]]:
    """Epochs and finite values of `column` (only positive ones for a log axis)."""
    points = []
    for row in rows:
        text = row.get(column)
        value = float(text) if text not in (None, "") else math.nan
        if math.isfinite(value) and (value > 0 or not positive):
            points.append((int(row["epoch"]), value))
    return [e for e, _ in points], [v for _, v in points]
