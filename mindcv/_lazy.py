"""PEP 562 lazy exports: a package names its public objects without importing MindSpore.

`config.py` imports `mindcv.utils.errors`, which runs `mindcv/__init__.py` and
`mindcv/utils/__init__.py`; importing MindSpore there would add seconds to `--help` and to every
configuration error.
"""

import importlib
from typing import Callable, Dict, List, Tuple


def lazy_exports(package: str, namespace: dict, exports: Dict[str, str]) -> Tuple[Callable, Callable]:
    """The `__getattr__` and `__dir__` of `package`, importing `exports[name]` on first use."""

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> List[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
