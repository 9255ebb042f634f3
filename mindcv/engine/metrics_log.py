"""Per-epoch metrics as a CSV file (rewritten atomically each epoch) and a PNG of the curves."""

import csv
import io
from pathlib import Path
from typing import Dict, List

from ..utils.atomic import atomic_write_bytes
from ..utils.plot import plot_curves

__all__ = ["MetricsLog"]


class MetricsLog:
    """Rows of epoch metrics; on resume, rows after the resumed epoch are discarded. Without
    `csv_path` (--metrics_csv False) no CSV is written and a resumed run's curves start afresh.
    `title` heads the curves (train.py: the model and the dataset)."""

    def __init__(self, csv_path=None, png_path=None, resume_epoch: int = 0, title: str = ""):
        self.csv_path = Path(csv_path) if csv_path else None
        self.png_path = Path(png_path) if png_path else None
        self.title = title
        self.rows: List[Dict[str, str]] = []
        if resume_epoch and self.csv_path and self.csv_path.is_file():
            with open(self.csv_path, newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= resume_epoch]

    def append(self, row: Dict[str, float]) -> None:
        self.rows.append({k: _format(v) for k, v in row.items()})
        if self.csv_path:
            self._write_csv()
        if self.png_path:
            atomic_write_bytes(self.png_path, plot_curves(self.rows, self.title))

    def _write_csv(self) -> None:
        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(self.csv_path, buffer.getvalue().encode())


def _format(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
