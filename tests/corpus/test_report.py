"""The store's ingest report: markdown counts and a PNG, from the docs table alone."""

from __future__ import annotations

from mmprolong.corpus.ingest import doc_row
from mmprolong.corpus.report import write_report
from mmprolong.corpus.writer import StoreWriter


def test_report_counts_outcomes_and_draws_a_png(tmp_path):
    w = StoreWriter(tmp_path / "s")
    for i, n in enumerate([20, 35, 35]):
        w.add(doc_row(f"d{i}.pdf", "ok", doc_id=f"{i:064x}", n_pages=n, sections_from="outline", seconds=1.0))
    w.add(doc_row("bad.pdf", "corrupt", error="pdfium could not open it: Data format error"))
    w.add(doc_row("enc.pdf", "encrypted", error="pdfium could not open it: Incorrect password error"))
    w.close()
    md, png = write_report(tmp_path / "s")
    text = md.read_text()
    assert "| ok | 3 |" in text and "| corrupt | 1 |" in text and "| encrypted | 1 |" in text
    assert "pages: 90" in text and "median 35" in text and "outline 3" in text
    assert "2 x pdfium could not open it" in text
    assert png.read_bytes()[:4] == b"\x89PNG"
