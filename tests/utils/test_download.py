"""Downloads are atomic, verified, cached, and done once when processes race for them."""

import hashlib
import os
import threading
from pathlib import Path

import pytest

from mindcv import MindCVError
from mindcv.utils.download import download_url
from tests.http_server import serve

DATA = os.urandom(300_000)
MD5 = hashlib.md5(DATA).hexdigest()


def test_download_verifies_md5_and_caches(tmp_path):
    with serve({"/a.bin": DATA}) as (url, requests):
        path = download_url(f"{url}/a.bin", tmp_path, md5=MD5)
        assert Path(path).read_bytes() == DATA
        download_url(f"{url}/a.bin", tmp_path, md5=MD5)
        assert requests == ["/a.bin"]  # second call: no network


def test_wrong_md5_leaves_nothing(tmp_path):
    with serve({"/a.bin": DATA}) as (url, _), pytest.raises(MindCVError, match="MD5"):
        download_url(f"{url}/a.bin", tmp_path, md5="0" * 32)
    assert os.listdir(tmp_path) == []


def test_corrupt_cached_file_is_fetched_again(tmp_path):
    (tmp_path / "a.bin").write_bytes(DATA[:10])
    with serve({"/a.bin": DATA}) as (url, requests):
        download_url(f"{url}/a.bin", tmp_path, md5=MD5)
        assert requests == ["/a.bin"]
    assert (tmp_path / "a.bin").read_bytes() == DATA


def test_unreachable_server_is_one_clear_line(tmp_path):
    with serve({}) as (url, _), pytest.raises(MindCVError, match="cannot download") as err:
        download_url(f"{url}/missing.bin", tmp_path)
    assert "\n" not in str(err.value) and os.listdir(tmp_path) == []


def test_concurrent_callers_download_once(tmp_path):
    results = []
    with serve({"/a.bin": DATA}) as (url, requests):
        threads = [
            threading.Thread(target=lambda: results.append(download_url(f"{url}/a.bin", tmp_path, md5=MD5)))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert requests == ["/a.bin"]
    assert len(results) == 4 and len(set(results)) == 1
