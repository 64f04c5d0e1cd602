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


def test_longdocurl_window_maps_evidence_by_its_extractors_file_names(tmp_path):
    """LongDocURL's extractor names page k+1 `<doc>_<k>.png` and its QA rows list files `_41`..`_70` for pages
    42-71 (start_end_idx [42, 71]): evidence page 54 is file `_53` (the 13th image), not `_54`; page 41 is refused."""
    docs = tmp_path / "docs"
    _images(docs / "4055915", range(41, 71))
    rows = [{"doc_no": "4055915", "question": "Q1?", "answer": "5", "answer_format": "Integer",
             "evidence_pages": [54]},
            {"doc_no": "4055915", "question": "Q2?", "answer": "x", "answer_format": "String",
             "evidence_pages": [41]},
            {"doc_no": "4055915", "question": "Q3?", "answer": "yes", "answer_format": "Integer",
             "evidence_pages": [42]},
            {"doc_no": "4055915", "question": "Q4?", "answer": "x", "answer_format": "String",
             "evidence_pages": [42, 71]}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = import_mmlongbench(tmp_path / "qa.jsonl", docs, tmp_path / "store", tmp_path / "out.jsonl",
                           preset="longdocurl", progress=False)
    items = load_qa(tmp_path / "out.jsonl")
    assert s["qa"] == 2 and [i.evidence_pages for i in items] == [[12], [0, 29]]
    pages = PageStore(tmp_path / "store").document(items[0].doc_id, with_images=False).pages
    assert pages[12]["image_width"] == 300 + 53 and len(pages) == 30         # the image of file 4055915_53.png
    assert s["file_numbering"] == {"from 0 (preset)": 1}
    reasons = {r["where"].rsplit(":", 1)[1]: r["reason"] for r in s["refused"]}
    assert "evidence page(s) [41] outside the document" in reasons["2"]
    assert "page files 41-70, numbered from 0 (preset), evidence numbered from 1" in reasons["2"]
    assert "not a number" in reasons["3"]
    assert len((tmp_path / "out.jsonl.refused.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("first", [0, 1])
def test_mmlongbench_page_files_numbered_from_0_or_1_follow_their_own_base(tmp_path, first, caplog):
    """`--preset mmlongbench` evidence is 0-based; page files named page1..page4 (from 1) hold pages 0..3, so
    evidence page 0 is page1 (it was refused and every other page shifted by one); the count is reported."""
    docs = tmp_path / "docs"
    (docs / "report").mkdir(parents=True)
    for n in range(first, first + 4):
        Image.new("RGB", (300 + n, 200), "white").save(docs / "report" / f"page{n}.png")
    rows = [{"doc_name": "report", "question": f"Q{k}?", "answer": "x", "answer_format": "String",
             "ans_page_list": pages} for k, pages in enumerate([[0], [3], [1, 2], []])]
    (tmp_path / "mmlongdoc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = import_mmlongbench(tmp_path / "mmlongdoc.jsonl", docs, tmp_path / "store", tmp_path / "o.jsonl",
                           preset="mmlongbench", progress=False)
    items = load_qa(tmp_path / "o.jsonl")
    assert s["qa"] == 4 and not s["refused"] and [i.evidence_pages for i in items] == [[0], [3], [1, 2], []]
    pages = PageStore(tmp_path / "store").document(items[0].doc_id, with_images=False).pages
    assert [p["image_width"] for p in pages] == [300 + n for n in range(first, first + 4)]
    assert s["file_numbering"] == {f"from {first}": 1} and s["items_renumbered"] == (3 if first else 0)
    assert ("3 items: evidence pages numbered from 0 mapped" in caplog.text) == bool(first)


def test_bad_fields_refuse_their_item_naming_file_line_and_field(tmp_path):
    """An unknown answer_format, a page range, a page that is text and a null answer each refuse their own item
    (file, line and field named); the good item imports. A field the file lacks is still an error."""
    docs = tmp_path / "docs"
    _images(docs / "d", [1, 2, 3, 4, 5])
    good = {"doc_id": "d", "question": "q", "answer": "7", "answer_format": "Int", "evidence_pages": "[3]"}
    rows = [good, {**good, "answer_format": "Numeric"}, {**good, "evidence_pages": "3-5"},
            {**good, "evidence_pages": "[3, 't']"}, {**good, "answer": None}, {**good, "question": ""}]
    qa = tmp_path / "samples.json"
    qa.write_text(json.dumps(rows))
    s = import_mmlongbench(qa, docs, tmp_path / "store", tmp_path / "o.jsonl", progress=False)
    assert s["qa"] == 1 and load_qa(tmp_path / "o.jsonl")[0].evidence_pages == [2]
    assert [r["where"].rsplit(" ", 1)[1] for r in s["refused"]] == ["2", "3", "4", "5", "6"]   # in file order
    got = {r["where"]: (r["field"], r["reason"]) for r in s["refused"]}
    assert got == {
        f"{qa}: item 2": ("answer_format", "answer_format: unknown answer_format 'Numeric'; use one of String, "
                                           "Integer, Float, List, None"),
        f"{qa}: item 3": ("evidence_pages", "evidence_pages: '3-5' is not a page number (in '3-5')"),
        f"{qa}: item 4": ("evidence_pages", "evidence_pages: 't' is not a page number (in \"[3, 't']\")"),
        f"{qa}: item 5": ("answer", "answer is null"), f"{qa}: item 6": ("question", "question is empty")}
    assert len((tmp_path / "o.jsonl.refused.jsonl").read_text().splitlines()) == 5
    qa.write_text(json.dumps([good, {k: v for k, v in good.items() if k != "answer"}]))
    with pytest.raises(ValueError, match=r"samples.json: item 2: no field 'answer'"):
        import_mmlongbench(qa, docs, tmp_path / "store", tmp_path / "o.jsonl", progress=False)


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
