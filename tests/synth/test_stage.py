
import pyarrow.dataset as ds
import pytest

from mmprolong import schema
from mmprolong.synth.stage import synthesize


def _rows(out):
    return ds.dataset(sorted(str(p) for p in (out / "qa").glob("*.parquet")), schema=schema.QA).to_table().to_pylist()


def test_rules_stage_writes_verified_qa_and_report(demo_store, tmp_path):
    out = tmp_path / "qa"
    s = synthesize(demo_store, out, {"kind": "rules"}, per_doc=3, docs_per_part=2, progress=False)
    rows = _rows(out)
    assert s.docs >= 4 and len(rows) == s.records == 3 * s.docs
    assert {r["task"] for r in rows} == {"extract-single", "extract-multi", "reasoning"}
    assert s.kept >= 0.8 * s.records
    assert len(list((out / "qa").glob("*.parquet"))) == (s.docs + 1) // 2
    assert (out / "report.md").read_text().startswith("# Synthesis report") and (out / "report.png").exists()
    # same seed -> same records
    again = synthesize(demo_store, tmp_path / "qa2", {"kind": "rules"}, per_doc=3, progress=False, report=False)
    assert sorted(r["qa_id"] for r in _rows(tmp_path / "qa2")) == sorted(r["qa_id"] for r in rows)
    assert again.records == s.records


def test_resume_skips_done_documents_and_drops_uncommitted_parts(demo_store, tmp_path):
    out = tmp_path / "qa"
    first = synthesize(demo_store, out, {"kind": "rules"}, per_doc=2, docs_per_part=2, progress=False)
    all_rows = _rows(out)
    # simulate a kill: the last part lost its completion record, a temp file lies around
    last = sorted((out / "_done").glob("*.json"))[-1]
    last.unlink()
    (out / "qa" / "part-00099.parquet.tmp").write_bytes(b"junk")
    second = synthesize(demo_store, out, {"kind": "rules"}, per_doc=2, docs_per_part=2, progress=False)
    assert 0 < second.docs < first.docs and second.docs_skipped == first.docs - second.docs
    rows = _rows(out)
    assert sorted(r["qa_id"] for r in rows) == sorted(r["qa_id"] for r in all_rows)
    third = synthesize(demo_store, out, {"kind": "rules"}, per_doc=2, progress=False)
    assert third.docs == 0 and len(_rows(out)) == len(all_rows)


def test_openai_stage_generation_errors_are_rows(demo_store, tmp_path, teacher, monkeypatch):
    monkeypatch.setenv("STAGE_KEY", "k")
    teacher.default = ("text", "not json")
    cfg = {"kind": "openai", "model": "m", "base_url": teacher.base_url, "api_key_env": "STAGE_KEY",
           "json_retries": 0, "cache_dir": str(tmp_path / "cache"), "concurrency": 4}
    s = synthesize(demo_store, tmp_path / "qa", cfg, per_doc=1, min_pages=2, max_pages=3, progress=False)
    rows = _rows(tmp_path / "qa")
    assert len(rows) == s.docs and all(r["checks_failed"] == ["generation:malformed_json"] for r in rows)
    assert s.failures == {"generation:malformed_json": s.docs}


def test_bad_arguments(demo_store, tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        synthesize(demo_store, tmp_path / "x", {"kind": "rules"}, tasks=["ocr"], progress=False)
    with pytest.raises(ValueError, match="concurency"):
        synthesize(demo_store, tmp_path / "x", {"kind": "rules", "concurency": 2}, progress=False)
    with pytest.raises(FileNotFoundError):
        synthesize(tmp_path / "nostore", tmp_path / "x", {"kind": "rules"}, progress=False)
