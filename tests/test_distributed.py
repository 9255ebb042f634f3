"""Data parallel on CPU with 2 processes under mpirun (the seed's line) and msrun."""

import contextlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.scripts import MULTI_RANK, ROOT, SMALL_NET, free_port, make_digit_folders, run, start

pytestmark = MULTI_RANK

DEMO = str(ROOT / "configs" / "densenet" / "densenet_121_demo.yaml")


def ok(result):
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout + result.stderr


NO_MPIRUN = pytest.mark.skipif(
    shutil.which("mpirun") is None, reason="OpenMPI not installed: apt-get install openmpi-bin"
)


@contextlib.contextmanager
def busy_cpu():
    """A process spinning on one core beside the test (at a lower priority), as a busy machine."""
    spinner = subprocess.Popen(["nice", "-n", "5", sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


@NO_MPIRUN
@pytest.mark.slow
def test_seed_mpirun_line_on_cpu(tmp_path):
    """mpirun -n 8 python train.py -c configs/densenet/densenet_121_gpu.yaml --data_dir /path/to/imagenet,
    with 2 processes, CPU, a tiny ImageNet-style folder and the tests' small DenseNet (the YAML's O2
    mixed precision included), on a busy machine: there, with each rank bound to one core
    (OpenMPI's default), about half of the runs lost rank 1 to a SIGSEGV in MindSpore's teardown."""
    data = make_digit_folders(tmp_path / "imagenet", per_class=4)
    with busy_cpu():
        output = ok(
            run(
                [
                    "mpirun",
                    "-n",
                    "2",
                    "python",
                    "train.py",
                    "-c",
                    "configs/densenet/densenet_121_gpu.yaml",
                    "--data_dir",
                    data,
                    *SMALL_NET,
                    "--epoch_size",
                    "1",
                    "--batch_size",
                    "4",
                    "--num_classes",
                    "10",
                    "--ckpt_save_dir",
                    tmp_path / "ckpt",
                ],
                ROOT,
            )
        )
    assert "weights identical on 2 ranks" in output
    assert (tmp_path / "ckpt" / "densenet_test-1_5.ckpt").is_file()  # 40 images / 2 ranks / batch 4


@NO_MPIRUN
@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2, reason="needs 2 CPUs (Linux)")
@pytest.mark.parametrize("binding", [[], ["--bind-to", "core"]], ids=["default", "user_bound"])
def test_mpirun_ranks_run_on_the_launchers_cpus_unless_the_user_binds(binding):
    """OpenMPI binds each of 2 ranks to one core by default; a rank then runs on mpirun's CPUs,
    every thread, as under msrun. A binding the user chose stays."""
    code = (
        "import os, threading; from mindcv.utils.distributed import _run_on_launcher_cpus; "
        "t = threading.Thread(target=threading.Event().wait, daemon=True); t.start(); "
        "_run_on_launcher_cpus(); "
        "print(min(len(os.sched_getaffinity(int(i))) for i in os.listdir('/proc/self/task')))"
    )
    output = ok(run(["mpirun", "-n", "2", *binding, "python", "-c", code], ROOT))
    cpus = {int(line) for line in output.split()}
    assert cpus == ({1} if binding else {len(os.sched_getaffinity(0))})


@pytest.mark.slow
def test_msrun_train_and_sharded_validation(tmp_path):
    common = ["-c", DEMO, *SMALL_NET, "--num_samples", "40", "--batch_size", "8", "--epoch_size", "1"]
    msrun = ["msrun", "--worker_num=2", "--local_worker_num=2", f"--master_port={free_port()}", "--join=True"]
    output = ok(
        run([*msrun, f"--log_dir={tmp_path / 'log'}", ROOT / "train.py", *common, "--distribute"], tmp_path)
    )
    logs = output + "".join(p.read_text() for p in (tmp_path / "log").glob("worker_*.log"))
    assert "weights identical on 2 ranks" in logs
    best = tmp_path / "ckpt" / "densenet_test-best.ckpt"
    # The whole val split (num_samples caps each shard, so it is left out here).
    validate = [ROOT / "validate.py", "-c", DEMO, *SMALL_NET, "--batch_size", "32", "--ckpt_path", best]
    ok(
        run(
            [*msrun, f"--log_dir={tmp_path / 'vlog'}", *validate, "--distribute", "--json", "sharded.json"],
            tmp_path,
        )
    )
    ok(run(["python", *validate, "--json", "single.json"], tmp_path))
    sharded = json.loads((tmp_path / "sharded.json").read_text())
    single = json.loads((tmp_path / "single.json").read_text())
    assert sharded["num_samples"] == single["num_samples"] == 360  # each counted once over the ranks
    assert sharded["top1"] == pytest.approx(single["top1"], abs=1e-6)
    assert sharded["loss"] == pytest.approx(single["loss"], rel=1e-4)


def _two_nodes(tmp_path, name, script, args):
    """Run `script args --distribute` as two msrun "nodes", one worker each, sharing a folder as
    two machines would share storage; return the exit codes (scheduler, node 0, node 1) and logs.

    On one host both msrun processes would take 127.0.0.1 for their own address and each start a
    scheduler; so the master's address is 127.0.0.2, which msrun does not see as local, and the
    test starts the scheduler there, as the master node's msrun would.
    """
    port, command = free_port(), [*script, *args, "--distribute"]
    env = {"MINDCV_RANK_TIMEOUT": "8"}
    scheduler_env = {"MS_ROLE": "MS_SCHED", "MS_SCHED_HOST": "127.0.0.2", "MS_SCHED_PORT": str(port)}
    with open(tmp_path / f"{name}_scheduler.log", "w") as log:
        scheduler = start(
            ["python", *command], tmp_path, stderr=log, MS_WORKER_NUM="2", **scheduler_env, **env
        )
    nodes = []
    for node in (0, 1):
        msrun = [
            "msrun",
            "--worker_num=2",
            "--local_worker_num=1",
            f"--node_rank={node}",
            "--master_addr=127.0.0.2",
            f"--master_port={port}",
            f"--log_dir={tmp_path / f'{name}_node{node}'}",
            "--join=True",
        ]
        nodes.append(start([*msrun, *command], tmp_path, **env))
    codes = [p.wait(timeout=900) for p in nodes]
    if codes != [0, 0]:  # it would wait for the dead node's heartbeat: its verdict is test_faults.py's
        scheduler.kill()
    try:
        codes.insert(0, scheduler.wait(timeout=60))
    except subprocess.TimeoutExpired:  # hung: killed, and its code says so
        scheduler.kill()
        codes.insert(0, scheduler.wait())
    assert not list(tmp_path.glob(f"{name}_node*/scheduler.log"))  # no node started a second one
    return codes, {p.parent.name + "/" + p.name: p.read_text() for p in tmp_path.glob(f"{name}_*/*.log")}


@pytest.mark.slow
def test_msrun_across_two_nodes_survives_a_dead_node_and_resumes(tmp_path):
    """Node 0's worker is SIGKILLed at the end of epoch 1 (after its resume state): node 1 stops
    within the rank timeout with one line; both nodes with --resume then finish the run with
    identical weights on both ranks."""
    args = [
        "-c",
        DEMO,
        *SMALL_NET,
        "--num_samples",
        "16",
        "--batch_size",
        "4",
        "--mode",
        "1",
        "--epoch_size",
        "2",
    ]
    kill = [ROOT / "tests" / "kill_at.py", "save_epoch", "1", ROOT / "train.py"]
    codes, logs = _two_nodes(tmp_path, "killed", kill, args)
    assert codes[1:] != [0, 0], logs
    survivor = [line for line in logs["killed_node1/worker_1.log"].splitlines() if line.startswith("error:")]
    assert len(survivor) == 1 and survivor[0].startswith("error: rank 0 (pid"), logs[
        "killed_node1/worker_1.log"
    ][-3000:]
    assert "weights identical on 2 ranks" in logs["killed_node0/worker_0.log"]  # epoch 1 was checked
    assert not (tmp_path / "ckpt" / "densenet_test-1_4.ckpt").exists()  # 16 images a rank, batch 4

    codes, logs = _two_nodes(tmp_path, "resumed", [ROOT / "train.py"], [*args, "--resume"])
    assert codes == [0, 0, 0], logs
    rank0 = logs["resumed_node0/worker_0.log"]
    assert "at epoch 1, step 0" in rank0 and "weights identical on 2 ranks" in rank0
    for epoch in (1, 2):  # epoch 1's checkpoint, which the kill kept from being written, too
        assert (tmp_path / "ckpt" / f"densenet_test-{epoch}_4.ckpt").is_file()
