"""Data-parallel start-up under msrun or mpirun, on CPU, GPU or Ascend.

msrun sets MindSpore's dynamic-cluster variables itself. Under mpirun, GPU and Ascend initialise
from OpenMPI as MindSpore documents; MindSpore's CPU collectives only know the dynamic cluster,
so on CPU the OpenMPI rank variables are mapped onto it here and rank 0 starts the scheduler
process that msrun would otherwise start.
"""

import logging
import os
import socket
import subprocess
import sys
import time
from typing import NamedTuple

from .errors import MindCVError

__all__ = ["DistributedInfo", "detect_launcher", "init_distributed"]

_logger = logging.getLogger(__name__)
_SCHEDULERS: list = []  # the scheduler process started by rank 0 under mpirun on CPU
_SCHEDULER_CODE = (
    "import mindspore as ms; ms.set_device('CPU'); from mindspore.communication import init; init()"
)


class DistributedInfo(NamedTuple):
    rank: int = 0
    group_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.group_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect_launcher() -> str:
    """ "msrun", "mpirun", or "" when this process was started on its own."""
    if os.environ.get("MS_ROLE") and os.environ.get("MS_WORKER_NUM"):
        return "msrun"
    if os.environ.get("OMPI_COMM_WORLD_SIZE"):
        return "mpirun"
    return ""


def init_distributed(device_target: str) -> DistributedInfo:
    """Join the process group started by msrun/mpirun and set data-parallel gradient averaging."""
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init

    launcher = detect_launcher()
    if not launcher:
        _logger.warning(
            "distribute is set but this process was not started by msrun or mpirun; training on one process"
        )
        return DistributedInfo()
    if launcher == "mpirun" and device_target == "CPU":
        _map_openmpi_to_dynamic_cluster()
    init()
    info = DistributedInfo(get_rank(), get_group_size())
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(
        parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=info.group_size
    )
    return info


def _map_openmpi_to_dynamic_cluster() -> None:
    """Set MS_ROLE/MS_WORKER_NUM/MS_NODE_ID/MS_SCHED_* from OpenMPI's variables; rank 0 starts MS_SCHED."""
    size = int(os.environ["OMPI_COMM_WORLD_SIZE"])
    rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
    single_host = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", size)) == size
    host = os.environ.get("MS_SCHED_HOST") or ("127.0.0.1" if single_host else "")
    if not host:
        raise MindCVError(
            "mpirun across hosts on CPU needs the scheduler address: export MS_SCHED_HOST=<rank 0's IP> "
            "(and MS_SCHED_PORT) to every rank, e.g. mpirun -x MS_SCHED_HOST=..."
        )
    # Every rank derives the same port from the job id, so concurrent jobs on one host do not collide.
    job_id = int(os.environ.get("OMPI_MCA_ess_base_jobid", "0"))
    port = os.environ.get("MS_SCHED_PORT") or str(20000 + job_id % 20000)
    os.environ.update(
        MS_WORKER_NUM=str(size),
        MS_SCHED_HOST=host,
        MS_SCHED_PORT=port,
        MS_NODE_ID=str(rank),
        MS_ROLE="MS_WORKER",
    )
    if rank == 0:
        scheduler = subprocess.Popen(
            [sys.executable, "-c", _SCHEDULER_CODE],
            env={**{k: v for k, v in os.environ.items() if k != "MS_NODE_ID"}, "MS_ROLE": "MS_SCHED"},
        )
        # Not waited for: it exits once every worker has unregistered, which rank 0 does only
        # after its own exit handlers have run.
        _SCHEDULERS.append(scheduler)
    _wait_for_port(host, int(port))


def _wait_for_port(host: str, port: int, timeout: float = 120.0) -> None:
    """Block until the scheduler listens: MindSpore retries a refused connection only after a long
    back-off, which made start-up take a minute instead of seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1.0).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise MindCVError(
                    f"the MindSpore scheduler at {host}:{port} did not start within {timeout:.0f} s ({exc}); "
                    "check that rank 0 runs and the port is free (set MS_SCHED_PORT)"
                ) from exc
            time.sleep(0.2)


def check_replicas_agree(network, rtol: float = 1e-6) -> float:
    """Raise unless every rank holds the same weights (compared by a checksum); return it.

    Data parallelism is only correct while the replicas stay identical; a silent divergence
    (a rank skipping an update, a broken all-reduce) would otherwise go unnoticed.
    """
    import mindspore as ms
    import numpy as np
    from mindspore import ops
    from mindspore.communication import get_rank

    # MindSpore's CPU AllReduce only sums: summing rank 0's value with zeros broadcasts it
    # exactly, then every rank compares its own and the mismatches are counted.
    checksum = np.float32(
        sum(np.abs(p.asnumpy()).astype(np.float64).sum() for p in network.trainable_params())
    )
    reference = ops.AllReduce()(ms.Tensor([checksum if get_rank() == 0 else 0.0], ms.float32)).asnumpy()[0]
    differs = float(abs(checksum - reference) > rtol * max(abs(reference), 1.0))
    mismatches = int(ops.AllReduce()(ms.Tensor([differs], ms.float32)).asnumpy()[0])
    if mismatches:
        raise MindCVError(
            f"weights of {mismatches} rank(s) differ from rank 0's; the data-parallel run is broken: "
            "check that every rank uses the same config and MindSpore version"
        )
    checksum = float(checksum)
    return checksum
