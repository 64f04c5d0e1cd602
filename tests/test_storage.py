"""storage.py's paths: local paths and file:// are local; a URL whose filesystem is unknown, or whose package is
missing, is one error naming the URL, raised before any output is claimed."""

import subprocess
import sys

import pytest

from mmprolong import storage


def test_local_and_remote_paths():
    assert storage.is_local("/tmp/x") and storage.is_local("file:///tmp/x") and not storage.is_local("s3://b/x")
    assert storage.join("s3://b/x/", "pages", "a.parquet") == "s3://b/x/pages/a.parquet"
    assert storage.normalize("memory://a/b/") == "memory://a/b"


def test_an_unknown_protocol_names_the_url(tmp_path):
    with pytest.raises(ValueError, match=r"nope://x/y: .*nope.*s3:// with s3fs"):
        storage.filesystem("nope://x/y")
    cli = subprocess.run([sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe", "demo", "--store",
                          str(tmp_path), "--out", "nope://x/y"], capture_output=True, text=True)
    assert cli.returncode == 2
    [line] = cli.stderr.strip().splitlines()
    assert line.startswith("mmprolong build: error: nope://x/y: ") and "s3:// with s3fs" in line
