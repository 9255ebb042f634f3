"""Data-parallel start-up under msrun or mpirun, on CPU, GPU or Ascend.

msrun sets MindSpore's dynamic-cluster variables itself. Under mpirun, GPU and Ascend initialise
from OpenMPI as MindSpore documents; MindSpore's CPU collectives only know the dynamic cluster,
so on CPU the OpenMPI rank variables are mapped onto it here and rank 0 starts the scheduler
process that msrun would otherwise start. A rank that OpenMPI's default binding put on a single
core (it does so for up to 2 ranks) runs on every CPU mpirun may use, as under msrun; a binding
the user chose (`--bind-to`) stays. A rank confined to one core crashed (SIGSEGV) in MindSpore's
cluster teardown in about half of the runs on a loaded machine (none in 8 unbound ones).

A rank that dies must not leave the others waiting. mpirun and `msrun --join=True` stop the
whole job themselves once a rank exits abnormally (msrun then waits for its scheduler). Beyond
that, on CPU: a rank waiting for the others in a collective gives up after $MINDCV_RANK_TIMEOUT
seconds (default 30, set as MindSpore's MS_CPU_COMM_OP_TIMEOUT) and stops with one line naming
the rank that died; MindSpore's scheduler declares a rank dead after 15 s more without its
heartbeat (MS_NODE_TIMEOUT), stops with one line naming it, and SIGTERMs the ranks that were
not waiting in a collective. MS_* variables set by the user are left as they are.
"""

import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zlib
from typing import Dict, NamedTuple, Optional, Tuple

from .errors import MindCVError

__all__ = [
    "DistributedInfo",
    "RANK_TIMEOUT_ENV",
    "any_rank",
    "check_replicas_agree",
    "detect_launcher",
    "explain_distributed_failure",
    "init_distributed",
    "rank_timeout",
    "stop_with_launcher",
]

RANK_TIMEOUT_ENV = "MINDCV_RANK_TIMEOUT"
_PR_SET_PDEATHSIG = 1  # prctl option: the signal to get when the parent process dies
_DEFAULT_RANK_TIMEOUT = 30  # MindSpore's own default for a CPU collective
# The heartbeat verdict comes later, so a rank waiting in a collective gets to say why it stops.
_HEARTBEAT_MARGIN = 15
_COLLECTIVE = re.compile(r"AllReduce|AllGather|Broadcast|ReduceScatter|collective", re.IGNORECASE)
_TIMED_OUT_NODES = re.compile(r"Timed out node list is: [^{]*\{([\d, ]*)\}")

_logger = logging.getLogger(__name__)
_SCHEDULERS: list = []  # the scheduler process started by rank 0 under mpirun on CPU
_PEERS: Dict[int, Tuple[int, int]] = {}  # rank -> (pid, host id) of the other ranks; {} unless data parallel
_SELF: Dict[str, int] = {}  # this rank and its host id
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


def stop_with_launcher() -> None:
    """Under a launcher, have the kernel send this process SIGTERM when the launcher dies (Linux).

    msrun starts each worker in a session of its own and has no SIGTERM handler, so a scheduler
    that preempts the job by signalling msrun would leave the workers training on, orphaned. With
    this they stop as a signalled run does (a resume point, then exit 143).
    """
    if not detect_launcher() or not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != parent:  # the launcher died before the request was in place
        os.kill(os.getpid(), signal.SIGTERM)


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
    timeout = rank_timeout()  # read by MindSpore in init(), also in the scheduler process
    os.environ.setdefault("MS_CPU_COMM_OP_TIMEOUT", str(timeout))
    os.environ.setdefault("MS_NODE_TIMEOUT", str(timeout + _HEARTBEAT_MARGIN))
    if launcher == "mpirun" and device_target == "CPU":
        _map_openmpi_to_dynamic_cluster()
    try:
        init()  # the scheduler process (MS_ROLE=MS_SCHED) stays in here until the job ends
    except RuntimeError as exc:
        error = _scheduler_error(exc)
        if error is None:
            raise
        raise error from exc
    info = DistributedInfo(get_rank(), get_group_size())
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(
        parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=info.group_size
    )
    _PEERS.update(_gather_peers(info))
    return info


def rank_timeout() -> int:
    """Seconds a rank waits for the others in a collective: $MINDCV_RANK_TIMEOUT, default 30."""
    value = os.environ.get(RANK_TIMEOUT_ENV, "").strip()
    if not value:
        return _DEFAULT_RANK_TIMEOUT
    if not value.isdigit() or int(value) < 1:
        raise MindCVError(
            f"{RANK_TIMEOUT_ENV}={value!r} is not a whole number of seconds >= 1; "
            f"e.g. export {RANK_TIMEOUT_ENV}=120"
        )
    return int(value)


def _host_id() -> int:
    """Equal for processes that see the same pids: the same host name and boot (< 2**24, exact in fp32)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    return zlib.crc32(f"{socket.gethostname()}/{boot}".encode()) % (1 << 24)


def _gather_peers(info: DistributedInfo) -> Dict[int, Tuple[int, int]]:
    """Every rank's pid and host, so a rank left waiting can tell which of the others has died."""
    import mindspore as ms
    import numpy as np
    from mindspore import ops

    n = info.group_size
    mine = np.zeros(2 * n, np.float32)
    mine[info.rank], mine[n + info.rank] = os.getpid(), _host_id()
    everyone = ops.AllReduce()(ms.Tensor(mine)).asnumpy().astype(np.int64)  # sums: one rank per slot
    _SELF.update(rank=info.rank, host=_host_id())
    return {r: (int(everyone[r]), int(everyone[n + r])) for r in range(n) if r != info.rank}


def _has_exited(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False
    return state in ("Z", "X")  # a zombie has exited, its parent just has not reaped it yet


def explain_distributed_failure(exc: BaseException) -> Optional[MindCVError]:
    """The one-line error for a failure caused by another rank (dead, or not answering within
    the timeout), or None when `exc` is something else or this is not a data-parallel run."""
    if not _PEERS:
        return None
    rank, timeout = _SELF["rank"], rank_timeout()
    here = _SELF["host"]
    dead = [(r, pid) for r, (pid, host) in sorted(_PEERS.items()) if host == here and _has_exited(pid)]
    if dead:
        who = ", ".join(f"rank {r} (pid {pid})" for r, pid in dead)
        return MindCVError(
            f"{who} died, so rank {rank} stops too; see the end of that rank's log for why, fix it, "
            "then restart all ranks (add --resume to continue from the last epoch)"
        )
    if _COLLECTIVE.search(str(exc)):
        return MindCVError(
            f"rank {rank}: the other ranks did not answer within {timeout} s ({RANK_TIMEOUT_ENV}): one died "
            "or hangs (the scheduler's log names it); fix it, then restart all ranks (add --resume "
            "to continue from the last epoch)"
        )
    return None


def _scheduler_error(exc: RuntimeError) -> Optional[MindCVError]:
    """MindSpore's scheduler reports ranks whose heartbeat stopped as a RuntimeError: one line."""
    found = _TIMED_OUT_NODES.search(str(exc))
    if not found:
        return None
    ranks = [r.strip() for r in found.group(1).split(",") if r.strip()]
    who = f"{'rank' if len(ranks) == 1 else 'ranks'} {', '.join(ranks)}"
    return MindCVError(
        f"{who} stopped answering for {os.environ.get('MS_NODE_TIMEOUT')} s (killed, crashed or hung), "
        "so the job stops; see the end of that rank's log for why, fix it, then restart all ranks "
        "(add --resume to continue from the last epoch)"
    )


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
    _run_on_launcher_cpus()
    if rank == 0:
        scheduler = subprocess.Popen(
            [sys.executable, "-c", _SCHEDULER_CODE],
            env={**{k: v for k, v in os.environ.items() if k != "MS_NODE_ID"}, "MS_ROLE": "MS_SCHED"},
        )
        # Not waited for: it exits once every worker has unregistered, which rank 0 does only
        # after its own exit handlers have run.
        _SCHEDULERS.append(scheduler)
    _wait_for_port(host, int(port))


def _run_on_launcher_cpus() -> None:
    """Undo OpenMPI's default binding to a single core: every thread of this process may then run
    on the CPUs of its launcher (the parent). A policy the user chose is exported by OpenMPI and
    kept, and so is a default binding to several cores (a socket's, for more than 2 ranks)."""
    if "OMPI_MCA_hwloc_base_binding_policy" in os.environ or not hasattr(os, "sched_setaffinity"):
        return
    if len(os.sched_getaffinity(0)) != 1:
        return
    try:
        cpus = os.sched_getaffinity(os.getppid())
    except OSError:
        return
    # Threads started before now (MindSpore's, at import) keep their own mask: set each one's.
    for thread_id in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(thread_id), cpus)


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


def any_rank(flag: bool) -> bool:
    """Whether `flag` is true on any rank (a collective: every rank must call it at the same point)."""
    import mindspore as ms
    from mindspore import ops

    return bool(ops.AllReduce()(ms.Tensor([float(flag)], ms.float32)).asnumpy()[0] > 0)


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
