"""Synthesis over a real page store (ingested demo PDFs: pdfium text layer, JPEG pages, detected sections)."""

import json
import random
from collections import Counter

from mmprolong.corpus.store import PageStore
from mmprolong.synth import QA_TASKS, Deduper, GeneratorConfig, choose_segment, make_generator, verify


def test_rules_on_ingested_store(demo_store):
    gen = make_generator(GeneratorConfig(kind="rules"))
    dedup = Deduper()
    ok = Counter()
    for doc in PageStore(demo_store).iter_documents(with_images=False):
        for s in range(3):
            rng = random.Random(f"{doc.doc_id}:{s}")
            seg = choose_segment(doc, rng)
            for t in QA_TASKS:
                for qa in gen.generate(doc, seg, t, rng):
                    v = verify(qa, doc, dedup)
                    assert set(v.checks_failed) <= {"duplicate"}, (qa, v.checks_failed)
                    ok[t] += v.ok
    assert all(ok[t] >= 8 for t in QA_TASKS), ok


def test_openai_generate_many_on_ingested_store(demo_store, teacher, monkeypatch, tmp_path):
    monkeypatch.setenv("STORE_TEST_KEY", "k")
    store = PageStore(demo_store)
    docs = list(store.iter_documents())[:2]
    items = [(d, choose_segment(d, random.Random(i)), "extract-single", i) for i, d in enumerate(docs)]
    # the teacher answers with the first page of the segment it was shown (1-based in its prompt)
    replies = []
    for d, (a, b), _, _ in items:
        replies.append(("json", {"question": f"On page {a + 1}, what is the title?", "answer": "x",
                                 "answer_format": "String", "evidence": "", "evidence_pages": [a + 1],
                                 "evidence_sources": ["Layout"]}))
    teacher.script = replies
    gen = make_generator(GeneratorConfig(kind="openai", model="m", base_url=teacher.base_url,
                                         api_key_env="STORE_TEST_KEY", cache_dir=str(tmp_path), concurrency=1))
    results = sorted(gen.generate_many(items), key=lambda r: r.index)
    for (d, (a, b), _, _), res, req in zip(items, results, teacher.requests):
        assert res.records[0].evidence_pages == [a]
        images = [p for p in req["messages"][1]["content"] if p["type"] == "image_url"]
        assert len(images) == b - a + 1
        labels = [p["text"] for p in req["messages"][1]["content"] if p["type"] == "text"][:2]
        assert labels[0] == f"Page {a + 1}"
    assert json.loads(json.dumps(req))  # the request is plain JSON
