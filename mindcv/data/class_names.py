"""Class-name files: one name per line, in label order, so predictions can be read as words.

`imagenet_classes.txt` (package data) holds ImageNet-1k's 1,000 names in the standard synset order
(torchvision's `_IMAGENET_CATEGORIES`: WordNet's first lemma, disambiguated where two classes share
it, e.g. "crane bird" and "crane"). A fine-tuned run saves its dataset's names with
`save_class_names(ckpt_save_dir / CLASS_NAMES_FILE, names)`, where `infer.py` finds them.
"""

from pathlib import Path
from typing import List, Sequence

from ..utils.atomic import atomic_write_bytes
from ..utils.errors import MindCVError

__all__ = ["CLASS_NAMES_FILE", "imagenet_class_names", "load_class_names", "save_class_names"]

CLASS_NAMES_FILE = "classes.txt"
_IMAGENET = Path(__file__).with_name("imagenet_classes.txt")


def load_class_names(path) -> List[str]:
    """The names in `path`, one per line (surrounding blanks and empty lines ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise MindCVError(f"cannot read class names from {path} ({err}); give a UTF-8 text file") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise MindCVError(f"class-name file {path} is empty; write one class name per line")
    return names


def save_class_names(path, names: Sequence[str]) -> None:
    """Write `names` one per line, atomically; a name must be one non-empty line."""
    bad = [n for n in names if not str(n).strip() or "\n" in str(n)]
    if bad:
        raise MindCVError(f"class names must be non-empty single lines; got {bad[:3]}")
    atomic_write_bytes(path, "".join(f"{n}\n" for n in names).encode("utf-8"))


def imagenet_class_names() -> List[str]:
    return load_class_names(_IMAGENET)
