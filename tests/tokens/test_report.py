"""Token report of a page store: exact per-page / per-document counts, summary, files."""

from __future__ import annotations

import csv
import io
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmprolong import schema
from mmprolong.corpus.store import PageStore
from mmprolong.dataset.assemble import build_messages
from mmprolong.tokens import load
from mmprolong.tokens.report import CONTEXTS, count_document, token_report, write_report


def _write_store(root, docs: list[tuple[str, list[tuple[int, int, str]]]]):
    """A page store written directly with the schemas: docs = [(doc_id, [(width_px, height_px, text), ...])]."""
    (root / "docs").mkdir(parents=True)
    (root / "pages").mkdir()
    drows, prows = [], []
    for doc_id, pages in docs:
        drows.append({"doc_id": doc_id, "source": f"{doc_id}.pdf", "n_pages": len(pages), "title": doc_id.upper(),
                      "sections": [], "sections_from": "none", "status": "ok", "error": "", "file_bytes": 1,
                      "dpi": 144, "seconds": 0.0})
        for i, (w, h, text) in enumerate(pages):
            prows.append({"doc_id": doc_id, "page": i, "width": w / 2.0, "height": h / 2.0, "image": b"",
                          "image_width": w, "image_height": h, "text": text})
    pq.write_table(pa.Table.from_pylist(drows, schema=schema.DOCS), root / "docs" / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(prows, schema=schema.PAGES), root / "pages" / "part-0.parquet")
    return root


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("small") / "store"
    return _write_store(root, [
        ("a", [(1240, 1754, "Page one text."), (1754, 1240, "第二页。"), (28, 28, "")]),
        ("b", [(2480, 3508, "x " * 500)] * 30),
    ])


def test_counts_are_exact_per_page_and_document(small_store):
    c = load("qwen2.5-vl")
    doc = PageStore(small_store).document("a", with_images=False)
    d = count_document(doc, c)
    assert d.page_image_tokens == [c.image_tokens(1240, 1754), c.image_tokens(1754, 1240), c.image_tokens(28, 28)]
    assert d.page_text_tokens == [c.count_text("Page one text."), c.count_text("第二页。"), 0]
    assert d.text_layer_tokens == sum(d.page_text_tokens)
    assert d.image_tokens == sum(d.page_image_tokens)
    msgs = build_messages(doc, [0, 1, 2], question="", target="")
    assert d.tokens == c.count_messages(msgs).total == len(c.encode_messages(msgs).input_ids)


def test_document_length_equals_transformers_processor(demo_store, hf_processors):
    """The first demo document, real stored JPEGs through transformers' processor, has the reported length."""
    c = load("qwen2.5-vl", max_pixels=200704)
    doc = next(PageStore(demo_store).iter_documents())
    d = count_document(doc, c)
    proc = hf_processors("qwen2.5-vl", 200704)
    msgs = build_messages(doc, list(range(len(doc.pages))), question="", target="")
    images = [Image.open(io.BytesIO(p["image"])) for p in doc.pages]
    assert [im.size for im in images] == [(p["image_width"], p["image_height"]) for p in doc.pages]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = proc.apply_chat_template(msgs, tokenize=False)
        ids = proc(text=[text], images=images, return_tensors="np")["input_ids"][0]
    assert d.tokens == len(ids)
    assert d.image_tokens == int((ids == c.image_pad_id).sum())


def _reference(store, c, max_pixels=None):
    return [count_document(d, c, max_pixels) for d in PageStore(store).iter_documents(with_images=False)]


def test_summary_and_fits(small_store):
    r = token_report(small_store, load("qwen2.5-vl"), progress=False)
    s = r.summary()
    assert (s["docs"], s["pages"]) == (2, 33)
    docs = sorted(r.doc_tokens.tolist())
    assert docs[1] > 256 * 1024 > docs[0]  # b: 30 A4 pages at 300 DPI, about 11K tokens each
    assert [s[f"fit_{k}"] for k in CONTEXTS] == [1, 1, 1, 1]
    assert s["doc_tokens_median"] == pytest.approx(np.percentile(docs, 50))
    ref = _reference(small_store, load("qwen2.5-vl"))
    assert s["page_tokens_p90"] == pytest.approx(np.percentile([t for d in ref for t in d.page_sample_tokens], 90))
    texts = [t for d in ref for t in d.page_text_tokens]
    assert s["page_text_tokens_median"] == pytest.approx(np.percentile(texts, 50))
    # a lower pixel bound shrinks every image, and document b now fits 256K
    low = token_report(small_store, load("qwen2.5-vl"), max_pixels=401408, progress=False)
    assert low.max_pixels == 401408 and low.summary()["fit_256K"] == 2
    assert all(x < y for x, y in zip(low.doc_tokens, r.doc_tokens))


@pytest.mark.parametrize("max_pixels", [None, 401408])
def test_rows_equal_counting_each_document(small_store, max_pixels):
    """The report counts from the docs rows' page-size summaries (here: filled from the pages of a store written
    before them) what counting each document page by page gives."""
    c = load("qwen2.5-vl")
    r = token_report(small_store, c, max_pixels=max_pixels, progress=False)
    assert r.doc_rows().to_pylist() == [d.row() for d in _reference(small_store, c, max_pixels)]


def test_write_report_files(small_store, tmp_path):
    r = token_report(small_store, load("qwen3-vl"), progress=False, out_dir=tmp_path / "out")
    paths = write_report(r, tmp_path / "out")
    table = pq.read_table(paths["parquet"])
    assert table.num_rows == 2 and table.column("tokens").to_pylist() == r.doc_tokens.tolist()
    with open(paths["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [int(x["n_pages"]) for x in rows] == [3, 30] and "fits_128K" in rows[0]
    md = paths["md"].read_text()
    assert "documents within 128K" in md and "tokens_hist.png" in md and "qwen3-vl" in md
    assert Image.open(paths["png"]).size[0] > 400


def test_empty_store(tmp_path):
    store = _write_store(tmp_path / "empty", [])
    r = token_report(store, load("qwen2.5-vl"), progress=False)
    assert r.summary()["docs"] == 0
    assert write_report(r, tmp_path / "out")["png"].exists()


def test_page_tokens_are_what_a_page_adds_to_a_sample_not_its_text_layer(small_store):
    c = load("qwen2.5-vl")
    doc = PageStore(small_store).document("b", with_images=False)
    d = count_document(doc, c)
    empty = c.count_messages(build_messages(doc, [], question="", target="")).total
    assert sum(d.page_sample_tokens) == d.tokens - empty          # pages and the empty sample: the whole document
    one = c.count_messages(build_messages(doc, [0], question="", target="")).total
    assert d.page_sample_tokens[0] == one - empty
    ref = [t for x in _reference(small_store, c) for t in x.page_sample_tokens]
    s = token_report(small_store, c, progress=False).summary()
    assert (s["page_tokens_median"], s["page_tokens_p90"]) == (np.percentile(ref, 50), np.percentile(ref, 90))
    assert max(ref) < max(x + y for x, y in zip(d.page_image_tokens, d.page_text_tokens))


@pytest.fixture(scope="module")
def written_store(tmp_path_factory):
    """A store written by StoreWriter in three docs parts (every docs row carries its page-size summary)."""
    from mmprolong.corpus.ingest import doc_row
    from mmprolong.corpus.writer import StoreWriter

    root = tmp_path_factory.mktemp("written") / "store"
    w = StoreWriter(root, flush_docs=2)
    for i, n in enumerate([3, 7, 1, 12, 5]):
        pages = [{"doc_id": f"d{i}", "page": p, "width": 1.0, "height": 1.0, "image": b"",
                  "image_width": 600 + 40 * (p % 3), "image_height": 800, "text": f"page {p} of {i} " * (p + 1),
                  "text_source": "layer"} for p in range(n)]
        w.add(doc_row(f"d{i}.pdf", "ok", doc_id=f"d{i}", n_pages=n), pages)
    w.close()
    return root


def test_without_the_text_layer_no_pages_file_is_read(written_store, tmp_path):
    """Sample and image tokens come from the docs rows alone: the report holds with pages/ moved away."""
    import shutil

    c = load("qwen2.5-vl")
    full = token_report(written_store, c, progress=False)
    copy = tmp_path / "store"
    shutil.copytree(written_store, copy)
    shutil.rmtree(copy / "pages")
    (copy / "pages").mkdir()
    r = token_report(copy, c, progress=False, text_layer=False)
    assert r.doc_rows().drop(["text_layer_tokens"]).equals(full.doc_rows().drop(["text_layer_tokens"]))
    assert r.summary()["page_tokens_p90"] == full.summary()["page_tokens_p90"]
    assert full.doc_rows().column("text_layer_tokens").to_pylist() == [
        d.text_layer_tokens for d in _reference(written_store, c)]


def test_a_process_pool_counts_what_one_process_counts(written_store, tmp_path):
    c = load("qwen2.5-vl")
    one = token_report(written_store, c, progress=False)
    two = token_report(written_store, c, progress=False, executor="local", workers=2, out_dir=tmp_path / "o")
    assert two.doc_rows().equals(one.doc_rows()) and two.summary() == one.summary()
    assert two.longest == one.longest and len(one.longest) == 5


@pytest.mark.slow
def test_ray_counts_what_one_process_counts(written_store):
    c = load("qwen2.5-vl")
    one = token_report(written_store, c, progress=False)
    ray = token_report(written_store, c, progress=False, executor="ray", workers=2)
    assert ray.doc_rows().equals(one.doc_rows()) and ray.summary() == one.summary()


def test_the_report_names_documents_by_file_name_with_the_title_beside(small_store, tmp_path):
    """A title is metadata or a guess from the first page; the file name is what the user finds on disk."""
    paths = write_report(token_report(small_store, load("qwen2.5-vl"), progress=False), tmp_path / "r")
    md = paths["md"].read_text()
    table = md.split("## Longest documents", 1)[1]
    assert "| file | title |" in table
    assert "| b.pdf | B | 30 |" in table and "| a.pdf | A | 3 |" in table
