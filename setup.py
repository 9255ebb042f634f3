"""Install the DenseNet model zoo: `pip install -e ".[dev]"`."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
REQUIREMENTS = [
    line.strip()
    for line in (HERE / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]

setup(
    name="mindcv-densenet",
    version="0.1.0",
    description="DenseNet-121/161/169/201 model zoo for MindSpore, MindCV-compatible",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mindcv", "mindcv.*"]),
    package_data={
        "mindcv.data": ["imagenet_classes.txt"],
        # Compiled at first use against MindSpore's own oneDNN (mindcv/ops/native.py).
        "mindcv.ops": ["*.cc", "*.h", "third_party/*.txt", "third_party/*.md", "third_party/oneapi/dnnl/*"],
    },
    python_requires=">=3.9",
    install_requires=REQUIREMENTS,
    extras_require={
        # onnxruntime: export.py checks ONNX files with it; pytest-xdist: the suite on every core.
        "dev": ["pytest", "pytest-xdist", "ruff", "onnxruntime"],
        # Reference implementations for weight conversion and speed comparison.
        "torch": ["torch==2.14.1", "torchvision==0.29.1", "safetensors"],
    },
    license="Apache-2.0",
)
