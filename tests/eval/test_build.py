import time

import pytest

from mmprolong import tokens
from mmprolong.corpus.store import PageStore
from mmprolong.eval.build import assemble, build_eval_set, parse_length, DEFAULT_LENGTHS
from mmprolong.eval.catalog import PageCatalog
from mmprolong.eval.exclusion import read_exclusion
from mmprolong.eval.instance import read_instances, read_manifest
from mmprolong.eval.prompt import PromptConfig
from mmprolong.eval.qaset import QAItem


@pytest.fixture(scope="module")
def cat(store_dir):
    return PageCatalog(PageStore(store_dir), tokens.load("qwen2.5-vl"), PromptConfig())


def qa(doc_id, ev=(3,), qid="q1"):
    return QAItem(qa_id=qid, dataset="demo", doc_id=doc_id, question="What was the revenue on page 4?",
                  answer="103", answer_format="Integer", evidence_pages=list(ev))


def test_parse_length():
    assert parse_length("8K") == 8192 and parse_length("512k") == 524288 and parse_length("5000") == 5000
    with pytest.raises(ValueError, match="bad length"):
        parse_length("lots")


def test_lengths_exact_8k_to_512k(cat, doc_ids, tmp_path):
    t0 = time.perf_counter()
    item = qa(doc_ids[0])
    min_page = min(c for d in cat.docs.values() for c in d.costs)
    max_page = max(c for d in cat.docs.values() for c in d.costs)
    for L in DEFAULT_LENGTHS:
        inst = assemble(item, L, cat, doc_ids[1:])
        assert inst.n_tokens <= L
        # as close as whole pages allow
        assert L - inst.n_tokens < max_page + 64, (L, inst.n_tokens)
        # n_tokens is exactly what the backend sends
        msgs = cat.messages(inst.context, inst.question, inst.doc_name)
        assert cat.counter.count_messages(msgs, add_generation_prompt=True).total == inst.n_tokens
        # never cut an image: context items are whole store pages with their stored sizes
        for c in inst.context:
            dp = cat.docs[c["doc_id"]].pages[c["page"]]
            assert (c["width"], c["height"]) == (dp["width"], dp["height"])
        # the evidence page is in the context and depth points at it
        pos = inst.context.index(cat.docs[doc_ids[0]].item(3))
        assert 0.0 <= inst.depth <= 1.0
        if L >= 65536:  # padded on both sides
            assert inst.context[0]["doc_id"] != doc_ids[0] and inst.context[-1]["doc_id"] != doc_ids[0]
    assert min_page > 0
    assert time.perf_counter() - t0 < 20


def test_window_around_evidence_when_document_is_longer(cat, doc_ids):
    item = qa(doc_ids[0], ev=(5, 6))
    inst = assemble(item, 8192, cat, doc_ids[1:])
    pages = [c["page"] for c in inst.context]
    assert all(c["doc_id"] == doc_ids[0] for c in inst.context)
    assert pages == list(range(pages[0], pages[-1] + 1)) and 5 in pages and 6 in pages
    assert len(pages) < len(cat.docs[doc_ids[0]].pages)
    assert inst.n_tokens <= 8192


def test_evidence_too_long_is_skipped(cat, doc_ids):
    item = qa(doc_ids[0], ev=(0, 11))
    r = assemble(item, 8192, cat, doc_ids[1:])
    assert "longer than the target" in r.reason


def test_page_labels_and_text_still_exact(store_dir, doc_ids):
    c = PageCatalog(PageStore(store_dir), tokens.load("qwen2.5-vl"),
                    PromptConfig(page_label="Page {index}:", include_page_text=True), max_pixels=500_000)
    inst = assemble(qa(doc_ids[1]), 32768, c, [d for d in doc_ids if d != doc_ids[1]])
    msgs = c.messages(inst.context, inst.question, inst.doc_name)
    assert c.counter.count_messages(msgs, add_generation_prompt=True, max_pixels=500_000).total == inst.n_tokens
    assert inst.n_tokens <= 32768 and inst.max_pixels == 500_000


def test_build_set_writes_instances_manifest_and_exclusion(cat, doc_ids, tmp_path):
    items = [qa(doc_ids[0]), qa(doc_ids[2], ev=(1,), qid="q2"), qa("f" * 64, qid="missing")]
    excl = tmp_path / "exclude.txt"
    excl.write_text("a" * 64 + "\n")
    man = build_eval_set(items, cat, [8192, 65536], tmp_path / "set", exclusion=excl, progress=False)
    insts = list(read_instances(tmp_path / "set"))
    assert len(insts) == 4 and man["per_length"] == {"8192": 2, "65536": 2}
    assert any("not in the page store" in s["reason"] for s in man["skipped"])
    ex = read_exclusion(excl)
    used = {d for i in insts for d, _ in i.pages()}
    assert used <= ex and "a" * 64 in ex
    assert read_manifest(tmp_path / "set")["model"] == "qwen2.5-vl"
    # deterministic
    build_eval_set(items, cat, [8192, 65536], tmp_path / "set2", progress=False)
    assert [i.context for i in read_instances(tmp_path / "set2")] == [i.context for i in insts]


def test_padded_pages_name_their_own_document(cat, doc_ids):
    """MMLongBench's layout: every page labelled with its own document, the question with the gold one."""
    inst = assemble(qa(doc_ids[0]), 65536, cat, doc_ids[1:])
    assert inst.doc_name == "doc0" and len({d for d, _ in inst.pages()}) > 1
    parts = cat.messages(inst.context, inst.question, inst.doc_name)[-1]["content"]
    for k, p in enumerate(parts):
        if p["type"] == "image":
            assert parts[k - 1]["text"] == f"\n\nDocument {cat.docs[p['doc_id']].name}: "
    assert parts[-1]["text"] == ("\n\nQuestion: Based on Document doc0, answer the following question. "
                                 "What was the revenue on page 4?")


def test_unscorable_gold_is_skipped_with_its_reason(cat, doc_ids):
    item = QAItem(qa_id="bad", dataset="demo", doc_id=doc_ids[0], question="How many?", answer="yes",
                  answer_format="Integer", evidence_pages=[0])
    r = assemble(item, 8192, cat, doc_ids[1:])
    assert not hasattr(r, "context") and "gold cannot be scored" in r.reason and "not a number" in r.reason
