"""tools/benchmark_data.py runs end to end and prints one images/s figure."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "benchmark_data.py"


def test_benchmark_prints_images_per_second():
    args = [
        "--num-images",
        "16",
        "--image-size",
        "64x48",
        "--image-resize",
        "32",
        "--batch-size",
        "4",
        "--epochs",
        "1",
    ]
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    match = re.fullmatch(
        r"train pipeline: (\d+) images/s at 32x32 \(2 workers, batch 4, 16 JPEGs of 64x48, \d+ CPUs\)\n",
        result.stdout,
    )
    assert match and int(match.group(1)) > 0
