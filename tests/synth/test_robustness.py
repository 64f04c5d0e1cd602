"""The rules generator on text that is not the demo corpus: a real PDF with awkward layout, and random text."""

import random
from collections import Counter

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from mmprolong.synth import FAILURES, QA_TASKS, GeneratorConfig, make_generator, verify
from mmprolong.synth.facts import page_facts

from .docs import make_doc, pdf_documents

PAGES = [
    ["Contents", "1 Introduction ........................ 3", "2 Methods ............................ 7",
     "References ........................... 19"],
    ["1 Introduction", "Since 1998 the consortium has studied river flow at 14 gauging stations.",
     "In 2021, the network recorded 312 flood days across the basin.",
     "The peak flow was 3,400 cubic metres per second in March, see Figure 2.",
     "The annual budget was 4.5 million euros in 2022 according to [12]."],
    ["2 Methods", "Samples were taken every 15 minutes (Section 3.2) using protocol v2.1.4.",
     "Station  Flow (m3/s)  Depth (m)", "Upper Reach  112.5  3.2", "Lower Reach  98.1  2.7",
     "Delta  143.0  4.1", "Table 4: Mean flow and depth"],
    ["[12] Smith, J. and Jones, K. (2019). River budgets. Journal of Hydrology 4(2), 33-45.",
     "[13] Lee, A. (2020). Flood days. Water 12, 1-9. https://doi.org/10.1000/xyz",
     "E = mc^2 where m = 3 and c = 300,000 km/s; x1 = 0.5, x2 = 1.5"],
]


def _pdf(path):
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for lines in PAGES:
        y = 780
        for ln in lines:
            c.drawString(60, y, ln)
            y -= 18
        c.showPage()
    c.save()


class _Plan:
    title = "River report"
    sections = [(1, 0, "1 Introduction"), (2, 0, "2 Methods")]


def test_real_pdf_with_awkward_text(tmp_path):
    path = tmp_path / "river.pdf"
    _pdf(path)
    [doc] = pdf_documents([path], [_Plan()])
    gen = make_generator(GeneratorConfig(kind="rules"))
    results = Counter()
    for seed in range(20):
        for task in QA_TASKS:
            for qa in gen.generate(doc, (0, 3), task, random.Random(seed)):
                v = verify(qa, doc)
                assert set(v.checks_failed) <= set(FAILURES)
                results[v.ok] += 1
                assert "1998" not in qa.answer or task != "reasoning"  # years are not reasoning operands
    assert results[True] >= 40 and results[False] == 0, results
    asks = {f.ask for f in page_facts(doc.pages[1]["text"], 1)}
    assert "how many flood days did the network record across the basin in 2021?" in asks
    assert not [a for a in asks if "see Figure" in a and "___" not in a]  # a trailing clause: cloze, not a template
    facts = page_facts(doc.pages[2]["text"], 2)
    assert {f.answer for f in facts if f.source == "Table"} >= {"112.5", "2.7"}
    # references, version numbers, section refs and TOC leaders give no numeric facts
    assert not [f for f in page_facts(doc.pages[0]["text"], 0) if f.kind == "number"]
    assert [f.ask for f in facts if f.source == "Table" and f.answer == "3.2"] == [
        "according to Table 4 on page 3, what is the Depth (m) value for Upper Reach?"]
    assert not [f for f in facts if f.source == "Text" and f.answer in ("3.2", "2.1", "4")]
    assert not page_facts(doc.pages[3]["text"], 3)  # a reference list


def test_random_text_never_breaks_the_generator():
    rng = random.Random(0)
    vocab = ["the", "plant", "produced", "was", "In", "2019,", "4,210", "12.5%", "tonnes", "of", "steel", ".",
             "Table", "1:", "Figure", "2:", "\n", "\n\n", "Northwind", "$3.4", "-7", "1,2,3", "(", ")", "é", "—",
             "appointed", "Maria", "Okafor", "on", "3 March 2018", "...........", "[4]"]
    gen = make_generator(GeneratorConfig(kind="rules"))
    for d in range(15):
        texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 120))) for _ in range(6)]
        doc = make_doc(texts, [(0, "In"), (3, "Table")])
        for task in QA_TASKS:
            for qa in gen.generate(doc, (0, 5), task, random.Random(d)):
                assert set(verify(qa, doc).checks_failed) <= set(FAILURES)
