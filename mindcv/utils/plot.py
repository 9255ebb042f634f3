"""Loss and accuracy curves drawn with Pillow, so training needs no plotting library."""

import io
from typing import Dict, List, Sequence, Tuple

from PIL import Image, ImageDraw, ImageFont

__all__ = ["plot_curves"]

_PANELS = (  # title, [(column, colour)]
    ("loss", [("train_loss", (31, 119, 180)), ("val_loss", (255, 127, 14))]),
    ("accuracy", [("val_top1", (44, 160, 44)), ("val_top5", (214, 39, 40))]),
)
_WIDTH, _HEIGHT, _MARGIN = 480, 320, 48


def plot_curves(rows: List[Dict[str, str]]) -> bytes:
    """A PNG with one panel per quantity, the epoch on the x axis; empty columns are skipped."""
    image = Image.new("RGB", (_WIDTH * len(_PANELS), _HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for i, (title, series) in enumerate(_PANELS):
        lines = [(name, colour, _points(rows, name)) for name, colour in series]
        _panel(draw, font, i * _WIDTH, title, [line for line in lines if line[2]])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _points(rows, column) -> List[Tuple[float, float]]:
    return [(float(r["epoch"]), float(r[column])) for r in rows if r.get(column) not in (None, "")]


def _panel(draw, font, left: int, title: str, lines: Sequence) -> None:
    x0, y0, x1, y1 = left + _MARGIN, _MARGIN // 2, left + _WIDTH - _MARGIN // 2, _HEIGHT - _MARGIN
    draw.rectangle((x0, y0, x1, y1), outline="black")
    draw.text((x0, 4), title, fill="black", font=font)
    values = [p for _, _, points in lines for p in points]
    if not values:
        return
    xs, ys = [p[0] for p in values], [p[1] for p in values]
    x_lo, x_hi = min(xs), max(max(xs), min(xs) + 1)
    y_lo, y_hi = min(ys), max(max(ys), min(ys) + 1e-6)

    def to_pixel(x, y):
        return (x0 + (x - x_lo) / (x_hi - x_lo) * (x1 - x0), y1 - (y - y_lo) / (y_hi - y_lo) * (y1 - y0))

    for label, y in ((f"{y_hi:.3g}", y0), (f"{y_lo:.3g}", y1 - 10)):
        draw.text((left + 2, y), label, fill="black", font=font)
    draw.text((x0, y1 + 4), f"epoch {x_lo:g}", fill="black", font=font)
    draw.text((x1 - 50, y1 + 4), f"{x_hi:g}", fill="black", font=font)
    for n, (name, colour, points) in enumerate(lines):
        pixels = [to_pixel(*p) for p in points]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2)
        for px, py in pixels:
            draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colour)
        draw.text((x0 + 8 + 110 * n, y1 + 20), name, fill=colour, font=font)
