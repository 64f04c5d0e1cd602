import json
import random
from collections import Counter

import pytest

from mmprolong.synth import QA_TASKS, Deduper, GeneratorConfig, choose_segment, make_generator, verify
from mmprolong.synth.calc import parse_calc

from .docs import make_doc, report_doc

GEN = make_generator(GeneratorConfig(kind="rules"))


@pytest.mark.parametrize("task", QA_TASKS)
def test_each_task_yields_verified_items(task):
    doc = report_doc()
    for seed in range(15):
        [qa] = GEN.generate(doc, (0, 9), task, random.Random(seed))
        v = verify(qa, doc)
        assert v.ok, (qa, v.checks_failed)
        assert qa.task == task and qa.generator == "rules" and qa.segment == (0, 9)
        assert all(0 <= p <= 9 for p in qa.evidence_pages)


def test_task_shapes():
    doc = report_doc()
    multi = [GEN.generate(doc, (0, 9), "extract-multi", random.Random(s))[0] for s in range(20)]
    lists = [q for q in multi if q.answer_format == "List"]
    assert all(len(json.loads(q.answer)) == 2 for q in lists)
    bridges = [q for q in multi if q.answer_format != "List"]
    assert lists and bridges and all(len(q.evidence_pages) == 2 and "listed with" in q.question for q in bridges)
    assert sum(len(q.evidence_pages) == 2 for q in multi) >= 16
    reasoning = [GEN.generate(doc, (0, 9), "reasoning", random.Random(s))[0] for s in range(20)]
    ops = Counter(parse_calc(q.evidence).op for q in reasoning)
    assert all(len(parse_calc(q.evidence).operands) >= 2 for q in reasoning)
    assert len(ops) >= 3, ops


def test_two_hop_bridge_through_a_table_row():
    from mmprolong.synth.rules import _two_hops, segment_facts
    hops = {q: (row.page, fact.page, fact.answer) for row, fact, q in _two_hops(segment_facts(report_doc(), (0, 9)))}
    q = ("On page 3, who was appointed plant manager of the plant listed with 2,150 under 2019 in Table 1 on page 4 "
         "on 3 March 2018?")
    assert hops[q] == (3, 2, "Maria Okafor")


def test_deterministic_for_seed_and_varied_across_seeds():
    doc = report_doc()
    a = [GEN.generate(doc, (0, 9), t, random.Random(7)) for t in QA_TASKS]
    b = [GEN.generate(doc, (0, 9), t, random.Random(7)) for t in QA_TASKS]
    assert a == b
    qs = {GEN.generate(doc, (0, 9), "extract-single", random.Random(s))[0].question for s in range(10)}
    assert len(qs) >= 5


def test_no_facts_gives_nothing_and_bad_task_is_an_error():
    doc = make_doc(["", "Lorem ipsum dolor sit amet consectetur adipiscing.", "  "])
    assert all(GEN.generate(doc, (0, 2), t, random.Random(0)) == [] for t in QA_TASKS)
    with pytest.raises(ValueError, match="unknown task"):
        GEN.generate(report_doc(), (0, 9), "summarise", random.Random(0))


def test_only_pages_in_segment_are_used():
    doc = report_doc()
    for s in range(10):
        for t in QA_TASKS:
            for qa in GEN.generate(doc, (3, 5), t, random.Random(s)):
                assert set(qa.evidence_pages) <= {3, 4, 5}


def test_demo_corpus_all_tasks_verified_and_deterministic(demo_documents):
    def run():
        out = []
        for di, doc in enumerate(demo_documents[:4]):
            for s in range(4):
                rng = random.Random(f"{di}:{s}")
                seg = choose_segment(doc, rng)
                for t in QA_TASKS:
                    out += GEN.generate(doc, seg, t, rng)
        return out
    items = run()
    assert items == run()
    dedup = Deduper()
    checked = [verify(q, next(d for d in demo_documents if d.doc_id == q.doc_id), dedup) for q in items]
    by_task = Counter(q.task for q in checked if q.ok)
    assert all(by_task[t] >= 12 for t in QA_TASKS), by_task
    fails = Counter(r for q in checked for r in q.checks_failed)
    assert set(fails) <= {"duplicate"}, fails
    sources = {s for q in checked for s in q.evidence_sources}
    assert {"Text", "Table"} <= sources


def test_running_headers_are_not_facts_and_reasoning_needs_comparable_values():
    import random as _random

    from mmprolong.synth.rules import RulesGenerator, running_lines, segment_facts

    from .docs import make_doc

    towns = ["Ashford", "Marlow", "Redhill", "Kestrel", "Oakridge", "Eastbrook"]
    pages = [f"Chapter 1: Introduction and preliminaries {p + 5}\nThe {towns[p]} committee reviewed {10 + p} "
             f"proposals during the spring session.\nIt met in {towns[p - 1]} twice.\n{p + 5}" for p in range(6)]
    doc = make_doc(pages)
    assert "chapter #: introduction and preliminaries #" in running_lines(doc)
    facts = segment_facts(doc, (0, 5))
    assert facts and not any("Chapter 1" in f.span for f in facts)
    # two unrelated quantities: no arithmetic on them
    doc2 = make_doc(["The library stores 250 books in the basement archive of the building.",
                     "Each visitor may borrow at most 7 maps from the cartography desk at once."])
    gen = RulesGenerator()
    assert all(not gen.generate(doc2, (0, 1), "reasoning", _random.Random(s)) for s in range(10))


def test_extract_multi_question_reads_as_a_request():
    import random as _random

    from mmprolong.synth.rules import RulesGenerator

    from .docs import make_doc

    doc = make_doc(["The Kestrel plant produced 1,200 tonnes of steel in 2019.",
                    "The Redhill plant employed 340 workers in 2018."])
    qas = [q for s in range(10) for q in RulesGenerator().generate(doc, (0, 1), "extract-multi", _random.Random(s))]
    assert qas and not any(q.question.startswith("What are the") for q in qas)


def test_a_running_header_seen_on_one_page_is_known_by_its_page_number_and_title():
    from mmprolong.synth.rules import running_lines, segment_facts

    body = "Stata files are a binary format and can be read by functions read.dta and write.dta in most cases."
    pages = ["3 Importing from other statistical systems\n" + body,
             "Chapter 3: Importing from other statistical systems 16\nThe reader accepts files of up to 512 "
             "megabytes in size on most systems.\n" + body,
             "4 Relational databases\n" + body]
    doc = make_doc(pages, sections=[(0, "3 Importing from other statistical systems"), (2, "4 Relational databases")])
    assert "chapter #: importing from other statistical systems #" in running_lines(doc)
    facts = segment_facts(doc, (0, 2))
    assert facts and not any("Chapter 3" in f.span or f.answer == "16" for f in facts)
    # a sentence that merely mentions a section is not a header
    assert not any("applications" in k for k in running_lines(doc))
