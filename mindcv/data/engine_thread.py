"""Start MindSpore's dataset engine on the main thread, so a pipeline error raises instead of
crashing the process.

MindSpore 2.10's dataset engine remembers the thread that first used it as its "master" (a
thread-local `Task` pointer set only there). When a pipeline error interrupts an iterator read
on any other thread, the engine dereferences that thread's null pointer and the process dies of
SIGSEGV instead of raising (`Task::OverrideInterruptRc`). Pipelines first built in a worker
thread (threads calling `create_dataset` together, a server's request thread) and then iterated
on the main thread hit this with the first unreadable image. Importing `mindcv.data` on the
main thread makes it the master: errors on it raise. An error read on another thread still
crashes inside MindSpore, whatever we do, so iterate pipelines on the main thread.
"""

import threading

import mindspore.dataset as ds

__all__ = ["start_engine_on_main_thread"]


def start_engine_on_main_thread() -> None:
    """Make the main thread the dataset engine's master (about 2 ms). On another thread it does
    nothing; once the engine has started, the tiny dataset it builds changes nothing."""
    if threading.current_thread() is threading.main_thread():
        ds.NumpySlicesDataset([0], shuffle=False).get_dataset_size()
