"""Model verification against a real local server that answers from the text of the pages it is sent."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from mmprolong.synth import verify
from mmprolong.synth.config import VerifyConfig
from mmprolong.synth.verifier import Verifier, make_verifier

from .verifier_server import VerifierServer, corrupt, make_corpus

CORPUS = make_corpus(6, seed=1)


@pytest.fixture
def server():
    s = VerifierServer()
    for doc, _, _ in CORPUS:
        s.register(doc)
    yield s
    s.close()


@pytest.fixture
def verifier(server, monkeypatch, tmp_path):
    monkeypatch.setenv("VERIFIER_KEY", "secret-verifier-key")
    v = Verifier(VerifyConfig(kind="openai", model="reader", base_url=server.base_url, api_key_env="VERIFIER_KEY",
                              max_retries=1, timeout_s=10))
    yield v
    v.close()


def test_correct_items_pass(verifier):
    for doc, _, items in CORPUS:
        for name in ("single", "reasoning"):
            v = verify(items[name], doc, verifier=verifier)
            assert v.ok, (name, v.checks_failed)
            assert {"verifier_agrees", "needs_document"} <= set(v.checks_passed)


@pytest.mark.parametrize("kind, reasons", [
    ("wrong_value_same_page", {"answer_not_at_labels"}),  # the workers count is not at "tonnes ... produce"
    ("wrong_page", {"answer_not_in_evidence"}),        # the rules see it first; the model is asked only when they pass
    ("no_calculation", {"no_calculation", "verifier_disagrees"}),
    ("answerable_from_priors", {"answerable_without_document"}),
])
def test_corrupted_items_are_rejected_with_their_reason(verifier, kind, reasons):
    rng = random.Random(kind)
    for doc, facts, items in CORPUS:
        bad = corrupt(kind, items, facts, rng)
        v = verify(bad, doc, verifier=verifier)
        assert set(v.checks_failed) == reasons, (kind, v.question, v.answer, v.checks_failed)


def test_wrong_page_is_caught_by_the_model_alone(server, monkeypatch):
    monkeypatch.setenv("VERIFIER_KEY", "k")
    cfg = VerifyConfig(kind="openai", model="reader", base_url=server.base_url, api_key_env="VERIFIER_KEY",
                       checks=["evidence"], only_if_rules_pass=False)
    with Verifier(cfg) as ver:
        for doc, facts, items in CORPUS:
            v = verify(corrupt("wrong_page", items, facts, random.Random(0)), doc, verifier=ver)
            assert "verifier_disagrees" in v.checks_failed


def test_no_calculation_kept_when_the_verifier_agrees(verifier):
    for doc, _, items in CORPUS:
        r = items["reasoning"]
        v = verify(replace(r, evidence="The two pages give the plant's output."), doc, verifier=verifier)
        assert v.ok and "calculation_by_verifier" in v.checks_passed
        assert verify(replace(r, evidence="The two pages give the plant's output."), doc).checks_failed == [
            "no_calculation"]


def test_verifier_sees_the_evidence_pages_as_the_sample_shows_them(verifier, server):
    doc, _, items = CORPUS[0]
    qa = items["reasoning"]
    server.requests.clear()
    verify(qa, doc, verifier=verifier)
    with_pages = [r for r in server.requests if VerifierServer.images(r)]
    closed = [r for r in server.requests if not VerifierServer.images(r)]
    assert len(with_pages) == 1 and len(closed) == 1
    parts = with_pages[0]["messages"][0]["content"]
    pages = sorted(qa.evidence_pages)
    assert [p["text"] for p in parts[:-1] if p["type"] == "text"] == [f"Page {p + 1}:" for p in pages]
    assert VerifierServer.images(with_pages[0]) == [doc.pages[p]["image"] for p in pages]
    assert qa.question in parts[-1]["text"] and "Answer:" in parts[-1]["text"]
    assert qa.answer not in str(closed[0]["messages"])  # the teacher's answer is never sent


def test_usage_cache_and_key_handling(server, monkeypatch, tmp_path):
    monkeypatch.setenv("VERIFIER_KEY", "secret-verifier-key")
    cfg = VerifyConfig(kind="openai", model="reader", base_url=server.base_url, api_key_env="VERIFIER_KEY",
                       cache_dir=str(tmp_path))
    doc, _, items = CORPUS[0]
    from collections import Counter
    use = Counter()
    with make_verifier(cfg) as ver:
        assert "secret" not in repr(ver)
        verify(items["single"], doc, verifier=ver, usage=use)
    assert use["requests"] == 2 and use["prompt_tokens"] > 0 and use["completion_tokens"] == 16
    n = len(server.requests)
    use2 = Counter()
    with make_verifier(cfg) as ver:   # a rerun pays nothing: replies come from the cache
        assert verify(items["single"], doc, verifier=ver, usage=use2).ok
    assert len(server.requests) == n and use2["cache_hits"] == 2 and use2["requests"] == 0


def test_server_failure_is_a_rejection_not_a_crash(server, monkeypatch):
    monkeypatch.setenv("VERIFIER_KEY", "k")
    server.fail_next = 100
    cfg = VerifyConfig(kind="openai", model="reader", base_url=server.base_url, api_key_env="VERIFIER_KEY",
                       max_retries=0)
    doc, _, items = CORPUS[0]
    with Verifier(cfg) as ver:
        assert verify(items["single"], doc, verifier=ver).checks_failed == ["verifier_failed"]


def test_config_errors_name_the_key(monkeypatch):
    assert make_verifier(VerifyConfig()) is None
    with pytest.raises(ValueError, match="model"):
        VerifyConfig(kind="openai")
    with pytest.raises(ValueError, match="modell"):
        VerifyConfig(kind="openai", modell="x")
    monkeypatch.delenv("NO_SUCH_VERIFIER_KEY", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_VERIFIER_KEY"):
        Verifier(VerifyConfig(kind="openai", model="m", api_key_env="NO_SUCH_VERIFIER_KEY"))


def test_whole_instance_check(server, monkeypatch):
    from mmprolong.dataset.assemble import build_messages

    monkeypatch.setenv("VERIFIER_KEY", "k")
    cfg = VerifyConfig(kind="openai", model="reader", base_url=server.base_url, api_key_env="VERIFIER_KEY",
                       checks=["evidence", "instance"])
    doc, facts, items = CORPUS[0]
    pages = list(range(len(doc.pages)))
    with Verifier(cfg) as ver:
        good = items["single"]
        v = ver.check_instance(good, build_messages(doc, pages, good.question, good.answer), doc)
        assert v.passed == ["verifier_agrees_instance"] and v.usage["requests"] == 1
        bad = corrupt("wrong_value_same_page", items, facts, random.Random(0))
        v = ver.check_instance(bad, build_messages(doc, pages, bad.question, bad.answer), doc)
        assert v.failed == ["verifier_disagrees_instance"]
        assert len(VerifierServer.images(server.requests[-1])) == len(pages)   # the whole instance was sent


def test_synth_stage_with_verifier(server, monkeypatch, tmp_path):
    import pyarrow.parquet as pq

    from mmprolong.synth.stage import synthesize

    from ..dataset.docs import write_store

    monkeypatch.setenv("VERIFIER_KEY", "k")
    store = write_store(tmp_path / "store", [d for d, _, _ in CORPUS[:2]])
    cfg = {"kind": "openai", "model": "reader", "base_url": server.base_url, "api_key_env": "VERIFIER_KEY"}
    s = synthesize(store, tmp_path / "out", {"kind": "rules"}, per_doc=3, min_pages=4, max_pages=10,
                   progress=False, verify_cfg=cfg)
    rows = pq.read_table(tmp_path / "out" / "qa").to_pylist()
    asked = [r for r in rows
             if {"verifier_agrees", "verifier_disagrees"} & set(r["checks_passed"] + r["checks_failed"])]
    assert asked and s.verifier["requests"] == len(server.requests) > 0
    assert all(("verifier_agrees" in r["checks_passed"]) == (not r["checks_failed"]) for r in asked)
