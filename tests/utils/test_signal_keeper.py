"""python_handlers_kept: Python's SIGTERM handler survives MindSpore's dataset runtime."""

import json
import subprocess
import sys

from tests.scripts import ROOT, script_env

# In a child process: a failure here would let MindSpore's handler end pytest itself.
CHILD = """
import json, os, signal, time
import mindspore.dataset as ds
import numpy as np
from mindcv.utils.signal_keeper import python_handlers_kept, _HANDLER_BYTES, _libc, _read_action

class Source:
    def __getitem__(self, i):
        return np.float32(i)
    def __len__(self):
        return 16

def handler():
    return _read_action(_libc(), signal.SIGTERM)[:_HANDLER_BYTES]

def one_epoch():  # two worker threads, each starting with register_worker_handlers()
    dataset = ds.GeneratorDataset(Source(), ["x"], num_parallel_workers=2, python_multiprocessing=False)
    for _ in dataset.batch(2).create_tuple_iterator(num_epochs=1):
        pass

received = []
signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
ours = handler()
engine = ds.engine.datasets_user_defined.cde
one_epoch()
outcome = {"replaced_without": handler() != ours}
signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
with python_handlers_kept():
    one_epoch()
    outcome["kept_by_threads"] = handler() == ours
    engine.register_worker_handlers()  # anything else that replaces it: the watcher puts it back
    outcome["replaced_directly"] = handler() != ours
    time.sleep(0.2)
    outcome["restored"] = handler() == ours
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)
outcome["received"] = received
print(json.dumps(outcome))
"""


def test_python_handler_stays_through_pipelines_and_is_put_back_after_a_replacement():
    result = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=script_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {
        "replaced_without": True,  # MindSpore's own behaviour, which the keeper exists for
        "kept_by_threads": True,
        "replaced_directly": True,
        "restored": True,
        "received": [15],
    }
