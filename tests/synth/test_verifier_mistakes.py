"""The verifier protocol against a stand-in that makes a real model's mistakes (tests/synth/verifier_server.py's
MistakenReader): a misread digit, the neighbouring row's value and a refusal each reject a right item the rules keep;
the rules catch what the model misses; an item the rules cannot check is kept only when the model agrees (and the
switch allows it)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mmprolong.synth import verify
from mmprolong.synth.config import VerifyConfig
from mmprolong.synth.verifier import Verifier

from .verifier_server import CORRUPTIONS, MistakenReader, make_corpus

CORPUS = make_corpus(4, seed=3)


def _reader(**rates):
    r = MistakenReader(**{"misread": 0.0, "neighbour": 0.0, "refuse": 0.0, **rates})
    for doc, facts, items in CORPUS:
        r.register(doc)
        for qa in items.values():
            page = qa.evidence_pages[0]
            workers = str(facts["pages"][page][3]) if page in facts["pages"] else None
            r.teach(qa.question, qa.answer, neighbour=workers)
    return r


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("VERIFIER_KEY", "k")
    return "VERIFIER_KEY"


def _verifier(reader, key, **kw):
    return Verifier(VerifyConfig(kind="openai", model="reader", base_url=reader.base_url, api_key_env=key,
                                 max_retries=0, timeout_s=10, **kw))


@pytest.mark.parametrize("mistake", ["misread", "neighbour", "refuse"])
def test_each_mistake_rejects_a_right_item_the_rules_keep(key, mistake):
    reader = _reader(**{mistake: 1.0})
    try:
        with _verifier(reader, key) as ver:
            doc, _, items = CORPUS[0]
            qa = items["single"]
            assert verify(qa, doc).ok
            assert verify(qa, doc, verifier=ver).checks_failed == ["verifier_disagrees"]
            assert reader.errors[mistake] >= 1
    finally:
        reader.close()


def test_rules_catch_what_a_reader_slipping_a_row_misses(key):
    # the reader answers the neighbouring value (the workers count), so it "agrees" with that wrong item
    reader = _reader(neighbour=1.0)
    try:
        with _verifier(reader, key, only_if_rules_pass=False, checks=["evidence"]) as ver:
            doc, facts, items = CORPUS[1]
            page = items["single"].evidence_pages[0]
            bad = replace(items["single"], answer=str(facts["pages"][page][3]))
            assert ver.check(bad, doc).agrees
            assert verify(bad, doc).checks_failed == ["answer_not_at_labels"]
    finally:
        reader.close()


@pytest.mark.parametrize("switch, kept", [(True, True), (False, False)])
def test_an_item_the_rules_cannot_check_needs_the_models_agreement(key, switch, kept):
    reader = _reader()
    try:
        with _verifier(reader, key, unchecked_if_agrees=switch) as ver:   # the recipe's switch
            doc, _, items = CORPUS[2]
            qa = items["single"]
            page = qa.evidence_pages[0]
            blank = replace(doc, pages=[dict(p, text="", text_source="none") if p["page"] == page else p
                                        for p in doc.pages])
            assert verify(qa, blank).checks_failed == ["unchecked_by_rules"]
            v = verify(qa, blank, verifier=ver)
            assert v.ok is kept
            assert ("checked_by_verifier_only" in v.checks_passed) is kept
    finally:
        reader.close()


def test_the_old_corruptions_still_rejected_by_rules_alone():
    import random

    from .verifier_server import corrupt

    for doc, facts, items in CORPUS:
        for kind in CORRUPTIONS:
            if kind == "answerable_from_priors":
                continue    # a capital city printed on the page is right; only a closed-book model rejects it
            assert not verify(corrupt(kind, items, facts, random.Random(kind)), doc).ok, kind
