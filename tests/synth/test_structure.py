"""Reasoning over structure on a real PDF: a manual with an outline, made with reportlab, ingested by pdfium.

The PDF's truth is known: chapter 3 has three subsections (the last sharing its page with chapter 4), chapter 4 has
two, chapter 5 lists 5.1 and 5.3 (5.2 is missing from the outline), and pages 9-12 carry Figure 1-3 and Table 1.
"""

import dataclasses
import random

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from mmprolong.corpus.ingest import IngestConfig, ingest
from mmprolong.corpus.store import PageStore
from mmprolong.synth import GeneratorConfig, make_generator, verify
from mmprolong.synth.calc import parse_calc
from mmprolong.synth.structure import caption_counts, subsection_counts
from mmprolong.synth.tasks import scope_pages, section_scopes

BODY = "Settings are read once at start-up and kept for the whole session unless a later command changes them"

# page (0-based) -> [(heading, outline level)], in page order
HEADINGS = {
    2: [("3 Configuration", 0)],
    3: [("3.1 Network settings", 1)],
    5: [("3.2 Storage settings", 1)],
    7: [("3.3 Logging settings", 1), ("4 Operation", 0)],   # a subsection and the next chapter share page 8
    8: [("4.1 Starting the service", 1)],
    10: [("4.2 Stopping the service", 1)],
    12: [("5 Maintenance", 0)],
    13: [("5.1 Backups", 1)],
    15: [("5.3 Upgrades", 1)],                                # 5.2 was lost: no count for chapter 5
}
CAPTIONS = {9: "Figure 1: Service states", 10: "Figure 2: Start-up order", 11: "Figure 3: Shutdown order",
            12: "Table 1: Default ports"}


def _manual(path):
    c = Canvas(str(path), pagesize=letter, invariant=1)
    w, h = letter
    for p in range(17):
        y = h - 80
        c.setFont("Helvetica", 10)
        c.drawString(72, y, f"Widget Server Guide {p + 1}")   # running header
        y -= 40
        for k, (head, level) in enumerate(HEADINGS.get(p, [])):
            c.setFont("Helvetica-Bold", 16 if level == 0 else 13)
            c.drawString(72, y, head)
            c.bookmarkHorizontal(f"h{p}-{k}", 0, y + 20)
            c.addOutlineEntry(head, f"h{p}-{k}", level=level)
            c.setFont("Helvetica", 10)
            for j in range(4):
                c.drawString(72, y - 20 - 14 * j, BODY)
            y -= 100
        c.setFont("Helvetica", 10)
        if p in CAPTIONS:
            c.drawString(72, 200, CAPTIONS[p])
        for j in range(6):
            c.drawString(72, y - 14 * j, BODY)
        c.showPage()
    c.save()
    return path


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    root = tmp_path_factory.mktemp("structure")
    (root / "pdfs").mkdir()
    pdf = _manual(root / "pdfs" / "guide.pdf")
    ingest([str(pdf)], root / "store", IngestConfig(dpi=36, jpeg_quality=60, workers=1, progress=False))
    [doc] = PageStore(root / "store").iter_documents(with_images=False)
    return doc


def test_scopes_hold_subsections_and_a_shared_page(manual):
    scopes = {s.heading: (s.first, s.last) for s in section_scopes(manual)}
    assert scopes["3 Configuration"] == (2, 7)      # to page 8 (0-based 7), where 3.3 and chapter 4 both start
    assert scopes["3.2 Storage settings"] == (5, 6)
    assert scopes["4 Operation"] == (7, 11)
    q = 'How many subsections does the section "3 Configuration" have?'
    assert scope_pages(q, manual) == set(range(2, 8))


def test_subsections_are_counted_as_the_outline_gives_them(manual):
    counts = {c.question.split('"')[1]: c for c in subsection_counts(manual, (0, 16), random.Random(0))}
    assert counts["3 Configuration"].answer == 3 and counts["3 Configuration"].pages == [3, 5, 7]
    assert counts["4 Operation"].answer == 2
    assert "5 Maintenance" not in counts            # 5.1 then 5.3: a gap, so the count would be wrong
    # a section that does not fit in the segment is not asked about
    assert set(c.question.split('"')[1] for c in subsection_counts(manual, (7, 12), random.Random(0))) == \
        {"4 Operation"}


def test_captions_are_counted_per_kind_when_numbered_without_gaps(manual):
    counts = {c.question: c for c in caption_counts(manual, (8, 12))}
    assert counts["How many numbered figures are there on pages 9-13?"].answer == 3
    assert not any("tables" in q for q in counts)   # one table: a lookup, not a count
    assert caption_counts(manual, (9, 9)) == []


def test_structure_items_pass_verification_and_a_wrong_count_fails(manual):
    gen = make_generator(GeneratorConfig(kind="rules"))
    seen = set()
    for s in range(40):
        for qa in gen.generate(manual, (2, 11), "reasoning", random.Random(s)):
            v = verify(qa, manual)
            assert v.ok, (qa, v.checks_failed)
            seen.add(parse_calc(qa.evidence).op)
            if parse_calc(qa.evidence).op == "count_named":
                wrong = dataclasses.replace(qa, answer=str(int(qa.answer) + 1))
                assert "recompute_mismatch" in verify(wrong, manual).checks_failed
                # a heading that is not on the page it names fails the operand check
                forged = dataclasses.replace(qa, evidence=qa.evidence.replace("Network settings@", "Proxy settings@"))
                if forged.evidence != qa.evidence:
                    assert "operand_not_in_evidence" in verify(forged, manual).checks_failed
    assert {"count_named", "count"} <= seen
