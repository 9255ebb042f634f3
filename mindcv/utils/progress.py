"""Every progress bar of a run (training epochs, validation, downloads) in one style.

Left to itself, tqdm picks Unicode blocks or ASCII digits and '#' from the encoding of
`sys.stderr` as each bar starts. MindSpore's compile cache swaps `sys.stderr` for CPython's
encoding-less stderr printer while it compiles the first graph of a script run from its source
tree (it builds a fresh `sys` module from `importlib.util.find_spec("sys")`), so the demo's first
epoch showed blocks and every bar after it '#'. The style is chosen once here instead, when the
package is imported: Unicode blocks, in a terminal and in a log file alike, unless stderr's
encoding cannot write them (then ASCII for the whole run).
"""

import sys

from tqdm import tqdm

__all__ = ["BLOCKS", "progress_bar"]

BLOCKS = " ▏▎▍▌▋▊▉█"


def _writes_blocks(stream) -> bool:
    try:
        BLOCKS.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


_ASCII = not _writes_blocks(sys.stderr)


def progress_bar(iterable=None, **options) -> tqdm:
    """`tqdm(iterable, **options)` in the run's one style, whatever `sys.stderr` is by then."""
    return tqdm(iterable, ascii=_ASCII, **options)
