"""The demo corpus: what ingest, section detection and rule-based QA rely on, checked in the rendered PDFs."""

from __future__ import annotations

import re
from collections import defaultdict

import pypdfium2 as pdfium
import pytest

from mmprolong.demo.corpus import plan_demo_corpus, plan_document, write_demo_corpus


def _norm(text: str) -> str:
    return " ".join(text.split())


def _page_texts(path) -> list[str]:
    pdf = pdfium.PdfDocument(path)
    try:
        return [_norm(pdf[i].get_textpage().get_text_range()) for i in range(len(pdf))]
    finally:
        pdf.close()


def test_default_corpus_is_sized(tmp_path):
    paths = write_demo_corpus(tmp_path)   # (its speed is a benchmark's business, not a test's: no wall clock here)
    assert len(paths) == 6 and all(p.suffix == ".pdf" for p in paths)
    for path, plan in zip(paths, plan_demo_corpus()):
        pdf = pdfium.PdfDocument(path)
        assert 24 <= len(pdf) <= 44
        assert len(pdf) == plan.n_pages
        pdf.close()


def test_paper_sizes_vary(demo_pdfs, demo_plans):
    sizes = set()
    for path, plan in zip(demo_pdfs, demo_plans):
        pdf = pdfium.PdfDocument(path)
        w, h = pdf[0].get_size()
        pdf.close()
        assert (round(w), round(h)) == tuple(round(x) for x in plan.page_size)
        sizes.add((round(w), round(h)))
    assert sizes == {(595, 842), (612, 792)}  # A4 and US Letter


def test_same_seed_same_bytes_other_seed_other_corpus(tmp_path, demo_pdfs):
    again = write_demo_corpus(tmp_path / "again", n_docs=2, seed=0)
    assert [p.read_bytes() for p in again[:1]] == [demo_pdfs[0].read_bytes()]
    other = write_demo_corpus(tmp_path / "other", n_docs=2, seed=1)
    assert other[0].read_bytes() != demo_pdfs[0].read_bytes()


def test_outline_matches_plan_and_last_document_has_none(demo_pdfs, demo_plans):
    for path, plan in zip(demo_pdfs, demo_plans):
        pdf = pdfium.PdfDocument(path)
        toc = [(b.get_dest().get_index(), b.level, b.get_title()) for b in pdf.get_toc()]
        pdf.close()
        if plan.has_outline:
            assert toc == plan.sections
        else:
            assert toc == []
    assert [p.has_outline for p in demo_plans] == [True] * 5 + [False]


def test_sections_are_numbered_and_3_to_10_pages(demo_plans):
    for plan in demo_plans:
        top = [(first, h) for first, level, h in plan.sections if level == 0 and h != "Preface"]
        assert [h.split()[0] for _, h in top] == [str(i + 1) for i in range(len(top))]
        assert top[0][1] == "1 Introduction" and top[0][0] == plan.front_pages
        bounds = [f for f, _ in top] + [plan.n_pages]
        assert all(3 <= b - a <= 10 for a, b in zip(bounds, bounds[1:]))


def test_headings_printed_even_without_outline(demo_pdfs, demo_plans):
    texts = _page_texts(demo_pdfs[-1])
    for first, _, heading in demo_plans[-1].sections:
        assert heading in texts[first]


def test_every_fact_is_in_the_text_layer_of_its_page(demo_pdfs, demo_plans):
    for path, plan in zip(demo_pdfs, demo_plans):
        texts = _page_texts(path)
        assert len(plan.facts) > 3 * plan.n_pages // 2
        for f in plan.facts:
            if f.source == "Text":
                assert f.text in texts[f.page], (path.name, f)
            else:
                assert f.value in texts[f.page], (path.name, f)


def test_values_repeat_across_pages_and_subjects_span_pages(demo_plans):
    for plan in demo_plans:
        pages_of_value = defaultdict(set)
        pages_of_subject = defaultdict(set)
        for f in plan.facts:
            pages_of_value[f.subject, f.attribute, f.when, f.value].add(f.page)
            if f.attribute == "output":
                pages_of_subject[f.subject].add(f.page)
        assert any(len(p) >= 2 for p in pages_of_value.values())
        assert any(len(p) >= 2 for p in pages_of_subject.values())


def test_one_value_per_subject_attribute_and_year(demo_plans):
    for plan in demo_plans:
        seen = {}
        for f in plan.facts:
            key = (f.subject, f.attribute, f.when)
            assert seen.setdefault(key, f.value) == f.value


def test_printed_page_numbers_differ_from_index(demo_pdfs, demo_plans):
    path, plan = demo_pdfs[0], demo_plans[0]
    pdf = pdfium.PdfDocument(path)
    labels = [pdf.get_page_label(i) for i in range(len(pdf))]
    pdf.close()
    assert labels == plan.page_labels
    assert labels[:2] == ["i", "ii"] and labels[plan.front_pages] == "1"
    texts = _page_texts(path)
    for i in range(1, plan.n_pages):
        assert re.search(rf"(^|\s){re.escape(labels[i])}\s", texts[i])
        assert plan.title in texts[i]  # running header
    assert all(label != str(i + 1) for i, label in enumerate(labels))


def test_tables_and_figures_are_captioned(demo_pdfs, demo_plans):
    all_text = " ".join(t for p in demo_pdfs for t in _page_texts(p))
    assert re.search(r"Table 1: \w+", all_text) and re.search(r"Figure 1: \w+", all_text)
    tables = [f for plan in demo_plans for f in plan.facts if f.source == "Table"]
    assert tables and all(re.fullmatch(r"[\d,]+", f.value) for f in tables)


def test_bad_arguments_are_errors(tmp_path):
    with pytest.raises(ValueError, match="pages"):
        plan_document(0, pages=(10, 5))
    with pytest.raises(ValueError, match="n_docs"):
        write_demo_corpus(tmp_path, n_docs=0)


def test_short_documents_still_have_front_matter_and_a_section():
    plan = plan_document(3, seed=5, pages=(4, 4))
    assert plan.n_pages == 4 and plan.sections[0] == (2, 0, "1 Introduction")


def test_broken_files(broken_pdfs):
    assert sorted(broken_pdfs) == ["corrupt", "empty", "encrypted", "not_pdf", "truncated"]
    assert broken_pdfs["empty"].stat().st_size == 0
    assert not broken_pdfs["not_pdf"].read_bytes().startswith(b"%PDF")
    for kind in ("corrupt", "truncated", "empty", "not_pdf", "encrypted"):
        with pytest.raises(pdfium.PdfiumError):
            pdfium.PdfDocument(broken_pdfs[kind])
    pdf = pdfium.PdfDocument(broken_pdfs["encrypted"], password="user-secret")
    assert len(pdf) == 4
    pdf.close()
