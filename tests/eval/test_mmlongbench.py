import json

import pytest

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
        {"doc_id": "slides.pdf", "question": "Which slides?", "answer": "['a', 'b']", "evidence_pages": "[1, 10]",
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
    assert items[1].answer == '["a", "b"]'          # Python-literal list golds stored as JSON (MMLongBench's form)
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
    with pytest.raises(ValueError, match="unknown field"):
        import_mmlongbench(tmp_path / "qa.jsonl", docs, tmp_path / "store", tmp_path / "o.jsonl",
                           fields={"doc": "doc_no"}, progress=False)


def _images(folder, numbers, size=(300, 200)):
    folder.mkdir(parents=True)
    for n in numbers:
        Image.new("RGB", (size[0] + n, size[1]), "white").save(folder / f"{folder.name}_{n}.png")


def test_longdocurl_window_maps_evidence_by_file_name(tmp_path):
    """A folder holding pages 41-44 of a document: evidence page 42 is its second image, page 40 is refused."""
    docs = tmp_path / "docs"
    _images(docs / "4045130", [41, 42, 43, 44])
    rows = [{"doc_no": "4045130", "question": "Q1?", "answer": "5", "answer_format": "Integer",
             "evidence_pages": [42]},
            {"doc_no": "4045130", "question": "Q2?", "answer": "x", "answer_format": "String",
             "evidence_pages": [40]},
            {"doc_no": "4045130", "question": "Q3?", "answer": "yes", "answer_format": "Integer",
             "evidence_pages": [41]}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = import_mmlongbench(tmp_path / "qa.jsonl", docs, tmp_path / "store", tmp_path / "out.jsonl",
                           preset="longdocurl", progress=False)
    items = load_qa(tmp_path / "out.jsonl")
    assert s["qa"] == 1 and items[0].evidence_pages == [1]
    store = PageStore(tmp_path / "store")
    assert [p["image_width"] for p in store.document(items[0].doc_id, with_images=False).pages] == [341, 342, 343, 344]
    reasons = {r["where"].rsplit(":", 1)[1]: r["reason"] for r in s["refused"]}
    assert "outside the document" in reasons["2"] and "numbered 41-44" in reasons["2"]
    assert "not a number" in reasons["3"]
    assert len((tmp_path / "out.jsonl.refused.jsonl").read_text().splitlines()) == 2


def test_mmlongbench_jsonl_preset_zero_based(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "report.pdf", 3)
    row = {"doc_name": "report", "question": "Total?", "answer": "7", "answer_format": "Integer",
           "ans_page_list": [1], "page_list": ["x/report/page1.png"]}
    (tmp_path / "mmlongdoc_K128.jsonl").write_text(json.dumps(row) + "\n")
    s = import_mmlongbench(tmp_path / "mmlongdoc_K128.jsonl", docs, tmp_path / "store", tmp_path / "o.jsonl",
                           preset="mmlongbench", workers=1, progress=False)
    assert s["qa"] == 1 and s["pages_base"] == 0 and load_qa(tmp_path / "o.jsonl")[0].evidence_pages == [1]


def test_slidevqa_answer_types_mapped(tmp_path):
    docs = tmp_path / "docs"
    _images(docs / "deck", [1, 2, 3])
    rows = [{"deck_name": "deck", "question": "How many?", "answer": "12", "answer_type": "Non-Span",
             "evidence_pages": [1]},
            {"deck_name": "deck", "question": "Share?", "answer": "45.5%", "answer_type": "Single-Span",
             "evidence_pages": [2]},
            {"deck_name": "deck", "question": "Who?", "answer": "Tim Cook", "answer_type": "Single-Span",
             "evidence_pages": [3]},
            {"deck_name": "deck", "question": "Sum?", "answer": 30, "answer_type": "Arithmetic",
             "evidence_pages": [1, 2]}]
    (tmp_path / "qa.json").write_text(json.dumps(rows))
    import_mmlongbench(tmp_path / "qa.json", docs, tmp_path / "store", tmp_path / "o.jsonl", preset="slidevqa",
                       progress=False)
    assert [i.answer_format for i in load_qa(tmp_path / "o.jsonl")] == ["Integer", "Float", "String", "Integer"]


def test_errors_name_file_and_line(tmp_path):
    docs = tmp_path / "docs"
    _images(docs / "d", [1])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"doc_id": "d", "question": "q", "answer": "a"}) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2:\d+: bad JSON"):
        import_mmlongbench(bad, docs, tmp_path / "store", tmp_path / "o.jsonl", progress=False)
    bad.write_text(json.dumps({"doc_id": "d", "question": "q", "answer": "a"}) + "\n"
                   + json.dumps({"doc_id": "d", "answer": "a"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: no field 'question'"):
        import_mmlongbench(bad, docs, tmp_path / "store", tmp_path / "o.jsonl", progress=False)
    bad.write_text(json.dumps({"deck_name": "d", "question": "q"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: no field 'answer'"):
        import_mmlongbench(bad, docs, tmp_path / "store", tmp_path / "o.jsonl", preset="slidevqa", progress=False)
    bad.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: no field 'deck_name' \(our doc_id\)"):
        import_mmlongbench(bad, docs, tmp_path / "store", tmp_path / "o.jsonl", preset="slidevqa", progress=False)
