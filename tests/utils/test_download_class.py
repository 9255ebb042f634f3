"""MindCV's `mindcv.utils.download.DownLoad`, served from 127.0.0.1 only."""

import gzip
import hashlib
import io
import os
import tarfile
import zipfile

import pytest

from mindcv.utils import DownLoad
from mindcv.utils.errors import MindCVError
from tests.http_server import serve

DATA = os.urandom(50_000)


def _tar(entries) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _zip(entries) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def test_download_url_checks_md5_and_skips_a_good_file(tmp_path):
    with serve({"/w.ckpt": DATA}) as (url, requests):
        DownLoad().download_url(f"{url}/w.ckpt", str(tmp_path), md5=hashlib.md5(DATA).hexdigest())
        DownLoad().download_url(f"{url}/w.ckpt", str(tmp_path))
        assert requests == ["/w.ckpt"]
    assert (tmp_path / "w.ckpt").read_bytes() == DATA
    assert DownLoad().check_md5(str(tmp_path / "w.ckpt"), hashlib.md5(DATA).hexdigest())


def test_download_file_always_fetches_and_a_cut_transfer_leaves_nothing(tmp_path):
    with serve({"/a": DATA, "/cut": DATA}, truncate_at={"/cut": 100}) as (url, requests):
        DownLoad().download_file(f"{url}/a", str(tmp_path / "a"))
        DownLoad().download_file(f"{url}/a", str(tmp_path / "a"))
        assert requests == ["/a", "/a"]
        with pytest.raises(MindCVError, match="interrupted"):
            DownLoad().download_file(f"{url}/cut", str(tmp_path / "cut"))
    assert sorted(os.listdir(tmp_path)) == ["a"]


@pytest.mark.parametrize("make, name", [(_tar, "d.tar.gz"), (_zip, "d.zip")])
def test_download_and_extract_archive(tmp_path, make, name):
    archive = make({"d/x.txt": b"x", "d/sub/y.txt": b"y"})
    with serve({f"/{name}": archive}) as (url, _):
        DownLoad().download_and_extract_archive(
            f"{url}/{name}", str(tmp_path / "dl"), str(tmp_path / "out"), remove_finished=True
        )
    assert (tmp_path / "out/d/sub/y.txt").read_bytes() == b"y"
    assert os.listdir(tmp_path / "dl") == []


def test_lone_gzip_is_decompressed_beside_it(tmp_path):
    packed = tmp_path / "labels.txt.gz"
    packed.write_bytes(gzip.compress(b"cat\ndog\n"))
    assert DownLoad().extract_archive(str(packed)) == str(tmp_path / "labels.txt")
    assert (tmp_path / "labels.txt").read_bytes() == b"cat\ndog\n"


def test_unsafe_tar_entry_is_refused(tmp_path):
    (tmp_path / "evil.tar.gz").write_bytes(_tar({"../escaped.txt": b"no"}))
    with pytest.raises(MindCVError, match="cannot extract"):
        DownLoad().extract_archive(str(tmp_path / "evil.tar.gz"), str(tmp_path / "out"))
    assert not (tmp_path / "escaped.txt").exists()
