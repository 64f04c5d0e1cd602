"""Where stores and outputs live: a local folder, or any fsspec URL (s3://bucket/store, gs://..., memory://...).

Every stage that writes a page store, a build, shards or an eval set goes through these few functions, so that one
code path serves a laptop folder and a bucket. The commit rule differs by kind of storage, and only here:
- local (and any path without a protocol): write to `NAME.tmp`, fsync, rename, fsync the folder (durable.py); a
  reader never sees half a file, and a power loss after the rename loses nothing;
- object storage: one whole-object write (an S3/GCS PUT, or a multipart upload completed at close) is atomic, so
  the object is written under its final name; there is no rename (on S3 a rename is a copy).
Readers only ever list and open committed names, so both rules give the same guarantees to the stages above.
URLs are plain strings everywhere (a `Path` is accepted and means a local path).
"""

from __future__ import annotations

import functools
import os
import posixpath
from pathlib import Path
from typing import Iterable




def protocol(url) -> str:
    """'' for a local path (with or without file://), else the fsspec protocol ('s3', 'memory', ...)."""
    s = os.fspath(url)
    if "://" not in s:
        return ""
    proto = s.split("://", 1)[0]
    return "" if proto in ("file", "local") else proto


def is_local(url) -> bool:
    return protocol(url) == ""


def local_path(url) -> Path:
    s = os.fspath(url)
    return Path(s.split("://", 1)[1] if "://" in s else s)


def normalize(url) -> str:
    """A canonical string: a local path as given (absolute if it was), a URL without a trailing slash."""
    if is_local(url):
        return os.fspath(local_path(url))
    return os.fspath(url).rstrip("/")


def join(base, *parts: str) -> str:
    if is_local(base):
        return os.fspath(local_path(base).joinpath(*parts))
    return posixpath.join(normalize(base), *parts)


def name(url) -> str:
    return posixpath.basename(normalize(url)) if not is_local(url) else local_path(url).name


@functools.lru_cache(maxsize=32)
def _fs(proto: str, options: tuple = ()):
    import fsspec

    return fsspec.filesystem(proto, **dict(options))


def filesystem(url):
    """(fsspec filesystem, path inside it). Options for remote filesystems come from the environment the way
    each fsspec implementation reads them (AWS_* / endpoint from `FSSPEC_S3_ENDPOINT_URL` or
    `AWS_ENDPOINT_URL`...), never from the URL, so that secrets stay out of logs and manifests."""
    if is_local(url):
        return _fs("file"), os.fspath(local_path(url).absolute())
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(normalize(url))
    except ValueError as e:      # "Protocol not known: nope"
        raise ValueError(f"{url}: {e} (a local path, or a URL of an fsspec filesystem: s3:// with s3fs, gs:// with "
                         "gcsfs, memory://, ...)") from None
    except ImportError as e:     # s3:// without s3fs installed
        raise ValueError(f"{url}: {e}") from None
    return fs, path


def arrow_filesystem(url):
    """(pyarrow filesystem, path) for pyarrow.dataset / parquet on this URL (native for local paths)."""
    import pyarrow.fs as pafs

    if is_local(url):
        return pafs.LocalFileSystem(), os.fspath(local_path(url).absolute())
    fs, path = filesystem(url)
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def exists(url) -> bool:
    if is_local(url):
        return local_path(url).exists()
    fs, path = filesystem(url)
    return fs.exists(path)


def isdir(url) -> bool:
    if is_local(url):
        return local_path(url).is_dir()
    fs, path = filesystem(url)
    return fs.isdir(path)


def makedirs(url) -> None:
    """Create a folder (object stores have no folders: nothing to do there but fsspec's own bookkeeping)."""
    if is_local(url):
        local_path(url).mkdir(parents=True, exist_ok=True)
        return
    fs, path = filesystem(url)
    fs.makedirs(path, exist_ok=True)


def listdir(url, suffix: str = "") -> list[str]:
    """Names (not paths) in a folder that end with `suffix`, sorted; [] when the folder does not exist."""
    if is_local(url):
        p = local_path(url)
        return sorted(c.name for c in p.iterdir() if c.name.endswith(suffix)) if p.is_dir() else []
    fs, path = filesystem(url)
    try:
        entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    return sorted(n for n in (posixpath.basename(e.rstrip("/")) for e in entries) if n.endswith(suffix))


def remove(url) -> None:
    """Delete a file if it is there."""
    if is_local(url):
        local_path(url).unlink(missing_ok=True)
        return
    fs, path = filesystem(url)
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        pass


def open_input(url):
    """A binary file object for reading (pyarrow and json read from it)."""
    if is_local(url):
        return open(local_path(url), "rb")
    fs, path = filesystem(url)
    return fs.open(path, "rb")


def read_bytes(url) -> bytes:
    with open_input(url) as f:
        return f.read()


def read_text(url) -> str:
    return read_bytes(url).decode("utf-8")


def write_bytes(url, data: bytes) -> None:
    """Commit a whole file (see the module doc for the rule per kind of storage)."""
    write_with(url, lambda f: f.write(data))


def write_text(url, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))


def write_with(url, writer) -> None:
    """Commit a file whose bytes `writer(binary_file)` writes: atomically and durably on local disk (tmp, fsync,
    rename, fsync folder), as one whole object on object storage."""
    if is_local(url):
        from .durable import durable_replace

        path = local_path(url)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            writer(f)
        durable_replace(tmp, path)
        return
    fs, path = filesystem(url)
    with fs.open(path, "wb") as f:
        writer(f)


def write_parquet(table, url, **kwargs) -> None:
    """`pyarrow.parquet.write_table` committed by `write_with`."""
    import pyarrow.parquet as pq

    write_with(url, lambda f: pq.write_table(table, f, **kwargs))


def parquet_file(url):
    """A `pyarrow.parquet.ParquetFile` over a local path or a URL."""
    import pyarrow.parquet as pq

    if is_local(url):
        return pq.ParquetFile(os.fspath(local_path(url)))
    fs, path = arrow_filesystem(url)
    return pq.ParquetFile(fs.open_input_file(path))


def scan_threads(url) -> bool:
    """Whether a pyarrow dataset scan over this URL may use threads: not over a Python (fsspec) filesystem, where
    pyarrow's scanner threads calling back into Python abort the interpreter at exit (seen with pyarrow 26 and
    fsspec's memory filesystem). Pass it as `use_threads=` to `to_table` / `scanner`."""
    return is_local(url)


def parquet_dataset(urls: Iterable[str], schema, base=None):
    """A `pyarrow.dataset` over these part files (all on the filesystem of `base`, or of the first URL); scan it
    with `use_threads=scan_threads(url)`."""
    import pyarrow.dataset as ds

    urls = list(urls)
    if not urls:
        return ds.dataset([], schema=schema, format="parquet")
    fs, _ = arrow_filesystem(base if base is not None else urls[0])
    paths = [arrow_filesystem(u)[1] for u in urls]
    return ds.dataset(paths, schema=schema, format="parquet", filesystem=fs)


__all__ = ["protocol", "is_local", "local_path", "normalize", "join", "name", "filesystem", "arrow_filesystem",
           "exists", "isdir", "makedirs", "listdir", "remove", "open_input", "read_bytes", "read_text",
           "write_bytes", "write_text", "write_with", "write_parquet", "parquet_file", "parquet_dataset", "scan_threads"]
