import json

from PIL import Image
from reportlab.lib.pagesizes import A6
from reportlab.pdfgen import canvas

from mmprolong.corpus.store import PageStore
from mmprolong.eval.exclusion import read_exclusion
from mmprolong.eval.mmlongbench import import_mmlongbench
from mmprolong.eval.qaset import load_qa


def make_pdf(path, n):
    c = canvas.Canvas(str(path), pagesize=A6)
    for i in range(n):
        c.drawString(30, 200, f"Page {i + 1}: the total is {i * 7}.")
        c.showPage()
    c.save()


def test_import_pdfs_and_image_folders(tmp_path):
    docs = tmp_path / "documents"
    docs.mkdir()
    make_pdf(docs / "report.pdf", 3)
    (docs / "slides").mkdir()
    for i in (1, 2, 10):   # natural order: 1, 2, 10
        Image.new("RGB", (320 + i, 240), "white").save(docs / "slides" / f"slide_{i}.png")
    samples = [
        {"doc_id": "report.pdf", "doc_type": "Research report", "question": "What is the total on page 2?",
         "answer": "7", "evidence_pages": "[2]", "evidence_sources": "['Pure-text (Plain-text)']",
         "answer_format": "Int"},
        {"doc_id": "slides.pdf", "question": "Which slides?", "answer": "['a', 'b']", "evidence_pages": "[1, 3]",
         "evidence_sources": "[]", "answer_format": "List"},
        {"doc_id": "report.pdf", "question": "Who wrote it?", "answer": "Not answerable", "evidence_pages": "[]",
         "evidence_sources": "[]", "answer_format": "None"},
    ]
    qa = tmp_path / "samples.json"
    qa.write_text(json.dumps(samples))
    excl = tmp_path / "exclude.txt"
    s = import_mmlongbench(qa, docs, tmp_path / "store", tmp_path / "qa.jsonl", dataset="mmlongbench-doc",
                           exclusion=excl, workers=1, progress=False)
    assert s["qa"] == 3 and s["pdfs"] == 1 and s["image_documents"] == 1
    items = load_qa(tmp_path / "qa.jsonl")
    assert [i.evidence_pages for i in items] == [[1], [0, 2], []]
    assert [i.answer_format for i in items] == ["Integer", "List", "None"]
    assert {i.dataset for i in items} == {"mmlongbench-doc"}
    store = PageStore(tmp_path / "store")
    assert {i.doc_id for i in items} <= set(store.doc_ids()) == read_exclusion(excl)
    slides = store.document(items[1].doc_id, with_images=False)
    assert [p["image_width"] for p in slides.pages] == [321, 322, 330]
    # again: idempotent
    s2 = import_mmlongbench(qa, docs, tmp_path / "store", tmp_path / "qa.jsonl", workers=1, progress=False)
    assert s2["qa"] == 3 and len(PageStore(tmp_path / "store").doc_ids()) == 2


def test_field_mapping_longdocurl_style(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "4000134.pdf", 2)
    (tmp_path / "qa.jsonl").write_text(json.dumps({"doc_no": "4000134", "question": "Total on page 1?",
                                                   "answer": 0, "answer_format": "Integer",
                                                   "evidence_pages": [1]}) + "\n")
    s = import_mmlongbench(tmp_path / "qa.jsonl", docs, tmp_path / "store", tmp_path / "out.jsonl",
                           dataset="longdocurl", fields={"doc_id": "doc_no"}, workers=1, progress=False)
    item = load_qa(tmp_path / "out.jsonl")[0]
    assert s["qa"] == 1 and item.answer == "0" and item.evidence_pages == [0] and item.dataset == "longdocurl"
    import pytest
    with pytest.raises(ValueError, match="unknown field"):
        import_mmlongbench(tmp_path / "qa.jsonl", docs, tmp_path / "store", tmp_path / "o.jsonl",
                           fields={"doc": "doc_no"}, progress=False)
