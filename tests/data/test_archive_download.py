"""Dataset archives: fetched from a local server once per host, MD5-checked, extracted atomically."""

import dataclasses
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

import mindcv.data.download as archive_module
from mindcv import MindCVError
from mindcv.data import create_dataset, download_and_extract, get_dataset_download_root
from mindcv.data.datasets import cifar
from tests.http_server import serve

from .fakes import tarball, write_cifar

FOLDER = "cifar-10-batches-bin"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    """A CIFAR-10 binary .tar.gz in the official layout (25 train, 7 test images)."""
    parent = tmp_path_factory.mktemp("cifar_src")
    write_cifar(parent, "cifar10")
    return tarball(parent / FOLDER)


def _point_cifar10_at(monkeypatch, url: str, md5: str) -> None:
    fmt = dataclasses.replace(cifar.CIFAR_ARCHIVES["cifar10"], url=url, md5=md5)
    monkeypatch.setitem(cifar.CIFAR_ARCHIVES, "cifar10", fmt)


def _leftovers(root: Path):
    """Anything but the finished archive and folder: partial downloads, staging folders."""
    return sorted(p for p in os.listdir(root) if p not in ("c10.tar.gz", FOLDER)) if root.exists() else []


def test_download_then_offline(archive, monkeypatch):
    root = get_dataset_download_root() / "cifar10"
    with serve({"/c10.tar.gz": archive}) as (url, requests):
        _point_cifar10_at(monkeypatch, f"{url}/c10.tar.gz", hashlib.md5(archive).hexdigest())
        assert len(create_dataset("cifar10", download=True)) == 25
        assert len(create_dataset("cifar10", split="val", download=True)) == 7
        assert requests == ["/c10.tar.gz"]  # present data: no network at all
    assert sorted(os.listdir(root)) == ["c10.tar.gz", FOLDER]


def test_bad_md5_leaves_nothing(archive, tmp_path, monkeypatch):
    with serve({"/c10.tar.gz": archive}) as (url, _):
        _point_cifar10_at(monkeypatch, f"{url}/c10.tar.gz", "0" * 32)
        with pytest.raises(MindCVError, match="MD5"):
            create_dataset("cifar10", root=tmp_path, download=True)
    assert os.listdir(tmp_path) == []


def test_interrupted_transfer_leaves_nothing(archive, tmp_path, monkeypatch):
    with serve({"/c10.tar.gz": archive}, truncate_at={"/c10.tar.gz": len(archive) // 2}) as (url, _):
        _point_cifar10_at(monkeypatch, f"{url}/c10.tar.gz", hashlib.md5(archive).hexdigest())
        with pytest.raises(MindCVError, match="interrupted|cannot download"):
            create_dataset("cifar10", root=tmp_path, download=True)
    assert os.listdir(tmp_path) == []


def test_damaged_or_unsafe_archive_is_refused_and_removed(tmp_path):
    unsafe = io.BytesIO()
    with tarfile.open(fileobj=unsafe, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    files = {"/junk.tar.gz": b"this is not a tarball", "/evil.tar.gz": unsafe.getvalue()}
    with serve(files) as (url, _):
        with pytest.raises(MindCVError, match="cannot extract .*junk.tar.gz.*removed") as err:
            download_and_extract(f"{url}/junk.tar.gz", tmp_path / "a", "data")
        assert "\n" not in str(err.value)
        with pytest.raises(MindCVError, match="unsafe entry '../evil.txt'"):
            download_and_extract(f"{url}/evil.tar.gz", tmp_path / "b", "data")
    assert (
        os.listdir(tmp_path / "a") == os.listdir(tmp_path / "b") == []
        and not (tmp_path / "evil.txt").exists()
    )


def test_threads_creating_the_dataset_together_download_and_extract_once(archive, tmp_path, monkeypatch):
    extractions = []
    real_extract = archive_module._extract

    def counting_extract(*args):
        extractions.append(args)
        time.sleep(0.2)  # keep the other thread waiting on the lock meanwhile
        real_extract(*args)

    monkeypatch.setattr(archive_module, "_extract", counting_extract)
    sizes = []
    with serve({"/c10.tar.gz": archive}) as (url, requests):
        _point_cifar10_at(monkeypatch, f"{url}/c10.tar.gz", hashlib.md5(archive).hexdigest())
        threads = [
            threading.Thread(
                target=lambda: sizes.append(len(create_dataset("cifar10", root=tmp_path, download=True)))
            )
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert requests == ["/c10.tar.gz"]
    assert sizes == [25, 25] and len(extractions) == 1 and _leftovers(tmp_path) == []


_RANK = """
import sys, time
from pathlib import Path
from mindcv.data import download_and_extract
url, root, md5, go = sys.argv[1:]
Path(go).with_name(f"ready-{time.time_ns()}").touch()
while not Path(go).exists():
    time.sleep(0.01)
folder = download_and_extract(url, root, "cifar-10-batches-bin", md5=md5)
print(len(list(folder.iterdir())))
"""


def test_two_processes_download_and_extract_once(archive, tmp_path):
    root, go = tmp_path / "root", tmp_path / "go"
    with serve({"/c10.tar.gz": archive}) as (url, requests):
        args = [f"{url}/c10.tar.gz", str(root), hashlib.md5(archive).hexdigest(), str(go)]
        ranks = [
            subprocess.Popen([sys.executable, "-c", _RANK, *args], stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        while len(list(tmp_path.glob("ready-*"))) < 2 and all(r.poll() is None for r in ranks):
            time.sleep(0.05)
        go.touch()  # both ranks are past their imports: release them together
        outputs = [r.communicate(timeout=120)[0].strip() for r in ranks]
        assert [r.returncode for r in ranks] == [0, 0]
        assert requests == ["/c10.tar.gz"]
    assert outputs == ["7", "7"]  # 6 batch files + the class-names file
    assert _leftovers(root) == []
