"""The page store on fsspec URLs: fsspec's memory filesystem (in this process: it is per process) and an
S3-compatible server on 127.0.0.1 (moto), written by a real process pool through s3fs. Credentials and the endpoint
come from the environment, never the URL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from mmprolong import storage
from mmprolong.corpus.ingest import doc_row
from mmprolong.corpus.report import write_report
from mmprolong.corpus.store import PageStore, read_document
from mmprolong.corpus.writer import PagesFile, StoreWriter, doc_pages_name
from mmprolong.errors import EXIT_OUTPUT, OutputError
from mmprolong.run.outdir import HOLDER, claim

from .test_worker_writes import snapshot


def _doc(i: int, n: int):
    doc_id = f"{i:064x}"
    pages = [{"doc_id": doc_id, "page": k, "width": 612.0, "height": 792.0, "image": b"\xff\xd8jpeg%d" % k,
              "image_width": 10, "image_height": 12, "text": f"doc {i} page {k}", "text_source": "layer"}
             for k in range(n)]
    return doc_row(f"d{i}.pdf", "ok", doc_id=doc_id, n_pages=n, title=f"Doc {i}"), pages


def test_store_on_the_memory_filesystem():
    url = f"memory://stores/{uuid.uuid4().hex}"
    w = StoreWriter(url, flush_pages=50)
    w.add(*_doc(0, 3))
    w.add(*_doc(1, 70))
    doc, pages = _doc(2, 130)                      # as a worker writes it
    out = PagesFile(w.pages_url(doc_pages_name(doc["doc_id"])))
    out.write(pages)
    w.add({**doc, "pages_file": doc_pages_name(doc["doc_id"]), "page_row_groups": out.close()})
    w.add(doc_row("bad.pdf", "corrupt", error="x"))
    w.close()
    orphan = PagesFile(w.pages_url(doc_pages_name("e" * 64)))     # finished, never committed
    orphan.write(_doc(3, 5)[1])
    orphan.close()
    w2 = StoreWriter(url)
    assert w2.removed_orphans == 1 and w2.run == 1
    w2.write_manifest({"dpi": 144}, {}, complete=True)

    store = PageStore(url)
    assert store.root == url and store.manifest["pages"] == 203
    got = {d.doc_id: [p["text"] for p in d.pages] for d in store.iter_documents()}
    assert got == {f"{i:064x}": [f"doc {i} page {k}" for k in range(n)] for i, n in ((0, 3), (1, 70), (2, 130))}
    rows = {r["doc_id"]: r for r in store.docs_table().to_pylist()}
    located = store.locate(list(rows))
    assert all(f.startswith(url + "/pages/") for v in located.values() for f, _ in v)
    assert located[f"{2:064x}"] == [(f"{url}/pages/{doc_pages_name(f'{2:064x}')}", rg) for rg in (0, 1, 2)]
    for d, row in rows.items():
        assert [p["page"] for p in read_document(row, located[d]).pages] == list(range(row["n_pages"]))
    assert [p["page"] for p in store.document(f"{1:064x}", with_images=False).pages] == list(range(70))
    md, png = write_report(url)
    assert "| ok | 3 |" in storage.read_text(md) and storage.read_bytes(png)[:4] == b"\x89PNG"


def test_a_remote_claim_is_refused_while_its_holder_record_exists():
    url = f"memory://stores/{uuid.uuid4().hex}"
    with claim(url, "page-store", "ingest") as held:
        assert held == url and storage.exists(f"{url}/{HOLDER}")
        with pytest.raises(OutputError, match=f"in use by pid {os.getpid()}.*delete {url}/{HOLDER}"):
            with claim(url, "page-store", "ingest"):
                pass
    assert not storage.exists(f"{url}/{HOLDER}")
    with pytest.raises(OutputError, match="holds a page-store folder, not a build"):
        with claim(url, "build", "build"):
            pass


# -- S3 (moto's server on 127.0.0.1) ---------------------------------------------------------------------------

def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmprolong.cli.main", "ingest", *map(str, args), "--dpi", "36",
                           "--jpeg-quality", "60", "--quiet"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_ingest_to_s3_with_a_process_pool_equals_a_local_store(s3_env, corpus_dir, tmp_path):
    url = "s3://mmprolong-test/store"
    r = _cli(corpus_dir, "--out", url, "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "http://" not in storage.read_text(f"{url}/manifest.json")        # the endpoint is not recorded
    local = tmp_path / "local"
    assert _cli(corpus_dir, "--out", local, "--workers", "1", "--no-report").returncode == 0
    remote = snapshot(url)
    assert remote == snapshot(local) and len(remote[1]) == 4
    ok = PageStore(url).docs_table().to_pylist()
    assert storage.listdir(f"{url}/pages") == sorted(f"doc-{d['doc_id']}.parquet" for d in ok)  # workers wrote
    assert "| ok | 4 |" in storage.read_text(f"{url}/report.md")
    assert not storage.exists(f"{url}/{HOLDER}")

    again = _cli(corpus_dir, "--out", url, "--workers", "2")                 # resume: nothing to add
    assert again.returncode == 0 and snapshot(url) == remote
    storage.write_text(f"{url}/{HOLDER}", '{"pid": 1, "host": "elsewhere", "command": "ingest"}')  # a killed holder
    refused = _cli(corpus_dir, "--out", url)
    assert refused.returncode == EXIT_OUTPUT and "pid 1 on host elsewhere" in refused.stderr and HOLDER in refused.stderr
