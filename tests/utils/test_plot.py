"""curves.png: loss on a log axis, both accuracies, the learning rate, integer epochs, a title."""

import io

from PIL import Image

from mindcv.utils.plot import curves_figure, plot_curves

ROWS = [  # as metrics.csv holds them: strings, an empty or nan cell where there is no value
    {"epoch": "1", "train_loss": "2.3", "val_loss": "36.5", "val_top1": "0.1", "val_top5": "0.5", "lr": ".1"},
    {"epoch": "2", "train_loss": "0.9", "val_loss": "", "val_top1": "", "val_top5": "", "lr": "0.05"},
    {"epoch": "3", "train_loss": "nan", "val_loss": "0.3", "val_top1": "0.9", "val_top5": "1", "lr": "0"},
]


def test_panels_axes_and_legends():
    figure = curves_figure(ROWS, "densenet121 on digits")
    loss, accuracy, lr = figure.axes
    assert figure.get_suptitle() == "densenet121 on digits"
    assert loss.get_yscale() == "log" and accuracy.get_yscale() == lr.get_yscale() == "linear"
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["train", "validation"]
    assert [t.get_text() for t in accuracy.get_legend().get_texts()] == ["top-1", "top-5"]
    # Missing and non-finite values are left out, not drawn as zeros.
    assert [list(line.get_xdata()) for line in loss.lines] == [[1, 2], [1, 3]]
    assert list(accuracy.lines[0].get_ydata()) == [0.1, 0.9]
    assert list(lr.lines[0].get_ydata()) == [0.1, 0.05, 0.0]
    figure.canvas.draw()
    for axes in figure.axes:
        gridlines = axes.xaxis.get_gridlines() + axes.yaxis.get_gridlines()
        assert gridlines and all(line.get_visible() for line in gridlines)
        ticks = [t for t in axes.get_xticks() if 1 <= t <= 3]
        assert ticks == [1, 2, 3], ticks  # whole epochs only
    assert accuracy.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert {"0.5", "1", "10"} <= {label.get_text() for label in loss.get_yticklabels()}


def test_png_without_validation():
    png = plot_curves([{"epoch": "1", "train_loss": "1.5", "lr": "0.1"}], "m on d")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1350, 420) and image.text["Title"] == "m on d"
