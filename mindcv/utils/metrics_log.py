"""Per-epoch metrics as a CSV file (rewritten atomically each epoch) and a PNG of the curves."""

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Dict, List

from .plot import plot_curves

__all__ = ["MetricsLog", "atomic_write_bytes"]


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class MetricsLog:
    """Rows of epoch metrics; on resume, rows after the resumed epoch are discarded."""

    def __init__(self, csv_path, png_path=None, resume_epoch: int = 0):
        self.csv_path = Path(csv_path)
        self.png_path = Path(png_path) if png_path else None
        self.rows: List[Dict[str, str]] = []
        if resume_epoch and self.csv_path.is_file():
            with open(self.csv_path, newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= resume_epoch]

    def append(self, row: Dict[str, float]) -> None:
        self.rows.append({k: _format(v) for k, v in row.items()})
        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(self.csv_path, buffer.getvalue().encode())
        if self.png_path:
            atomic_write_bytes(self.png_path, plot_curves(self.rows))


def _format(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
