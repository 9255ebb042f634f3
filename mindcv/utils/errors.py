"""The one exception type for problems the user can fix.

Scripts print a `MindCVError` as a single line (no traceback unless `--debug`), so its message
must name both the problem and the fix.
"""


class MindCVError(ValueError):
    """Bad input or environment: wrong option, missing file, corrupt data, failed download."""
