import json

import pytest
from PIL import Image

from mmprolong.eval.report import diff_ylim, fmt_len, score_ylim, write_report
from mmprolong.eval.runner import PREDICTIONS, RUN
from mmprolong.eval.score import SCORED, is_current, score_run

LENGTHS = (65536, 131072)


def fake_run(d, name, right, lengths=LENGTHS, fail=0, needles=True, repeats=1):
    d.mkdir()
    (d / RUN).write_text(json.dumps({"backend": name, "set_manifest": {"config": {"repeats": repeats}}}))
    rows = []
    for L in lengths:
        for ds in ("docA", "docB"):
            for k in range(4):
                rows.append({"instance_id": f"{ds}{k}@{L}", "dataset": ds, "kind": "doc", "task": "",
                             "target_length": L, "depth": 0.5, "question": "q", "answer": "12",
                             "answer_format": "Integer", "prediction": f"Answer: {12 if k < right else 3}",
                             "error": ""})
                if ds == "docB" and k < fail:
                    rows[-1] = {**rows[-1], "prediction": None, "error": "APITimeoutError: timed out"}
        if needles:
            for depth in (0.0, 1.0):
                rows.append({"instance_id": f"n{L}{depth}", "dataset": "niah-text", "kind": "needle",
                             "task": "retrieval", "target_length": L, "depth": depth, "question": "q",
                             "answer": "4721", "answer_format": "Integer",
                             "prediction": "Answer: 4721" if depth == 0 else "no", "error": ""})
    (d / PREDICTIONS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_report_tables_paired_and_plots(tmp_path):
    a = fake_run(tmp_path / "a", "openai:base", right=1)
    b = fake_run(tmp_path / "b", "hf:ours", right=3, fail=1)
    s = score_run(b, progress=False)
    # docB at each length: 3 right of 4, but one of them failed -> 2/4; docA 3/4
    assert s["doc"]["by_dataset"]["docB"][65536] == 50.0 and s["doc"]["errors"] == {65536: 1, 131072: 1}
    assert s["doc"]["overall"] == 62.5
    md = write_report([a, b], tmp_path / "rep").read_text()
    assert "| docA | 25.00 (n=4, err=0) | 25.00 (n=4, err=0) |" in md
    assert "| docB | 50.00 (n=4, err=1) | 50.00 (n=4, err=1) |" in md
    assert "| errors (scored 0) | 1 | 1 |" in md
    assert "| openai:base | 25.00 | 25.00 | 25.00 | 0 |" in md
    assert "| 0% | 100 (n=1) | 100 (n=1) |" in md and "Probes per cell in the set: 1 (a cell" in md
    assert "hf:ours vs openai:base (paired on the same instances)" in md
    assert "| **macro** | 64K | 8 | 25.00 | 62.50 | **+37.50** |" in md
    for png in ("score_vs_length_0.png", "score_vs_length_1.png", "models.png", "needles_0.png", "paired_1.png"):
        assert Image.open(tmp_path / "rep" / png).size[0] > 300
    rows = [json.loads(x) for x in (tmp_path / "rep" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and {r["run"] for r in rows} == {"openai:base", "hf:ours"}
    assert sum(r["failed"] for r in rows) == 2


def test_stale_scores_are_recomputed(tmp_path):
    a = fake_run(tmp_path / "a", "x", right=4, needles=False)
    score_run(a, progress=False)
    assert is_current(a)
    with open(a / PREDICTIONS, "a") as f:   # the run was resumed: more predictions
        f.write(json.dumps({"instance_id": "docA9@65536", "dataset": "docA", "kind": "doc", "task": "",
                            "target_length": 65536, "depth": 0.5, "question": "q", "answer": "12",
                            "answer_format": "Integer", "prediction": "Answer: 3", "error": ""}) + "\n")
    assert not is_current(a)
    md = write_report([a], tmp_path / "rep").read_text()
    assert "| docA | 80.00 (n=5, err=0) |" in md
    assert len((a / SCORED).read_text().splitlines()) == 17 and is_current(a)


def test_different_length_sets_refused_unless_forced(tmp_path):
    a = fake_run(tmp_path / "a", "a", right=2)
    b = fake_run(tmp_path / "b", "b", right=2, lengths=(65536,))
    with pytest.raises(ValueError, match="different lengths"):
        write_report([a, b], tmp_path / "rep")
    md = write_report([a, b], tmp_path / "rep", force=True).read_text()
    assert "different length sets" in md and "| b | 50.00 | missing | - | 0 |" in md


def test_heatmap_marks_missing_cells(tmp_path):
    from mmprolong.eval.score import needle_grid
    rows = [{"dataset": "niah-text", "task": "retrieval", "target_length": 8192, "depth": 0.0, "score": 1.0,
             "prediction": "x", "error": ""},
            {"dataset": "niah-text", "task": "retrieval", "target_length": 16384, "depth": 0.5, "score": None,
             "prediction": None, "error": "timeout"}]
    g = needle_grid(rows)["niah-text/retrieval"]
    assert g[16384][0.5] == {"score": 0.0, "n": 1, "errors": 1} and 0.5 not in g[8192]
    from mmprolong.eval.report import _needle_md, _plot_needles
    md = "\n".join(_needle_md({"niah-text/retrieval": g}, 3))
    assert "| 0% | 100 (n=1) | missing |" in md and "+-57 points" in md and "| 50% | missing | 0 (n=1, err=1) |" in md
    _plot_needles({"niah-text/retrieval": g}, "t", tmp_path / "h.png")


def test_axes():
    assert score_ylim([0.01, 0.02]) == (0.0, 100.0)
    lo, hi = diff_ylim([-0.02], [0.04])
    assert lo == -hi and hi >= 5.0
    assert diff_ylim([-30.0], [2.0])[1] >= 30.0


def test_fmt_len():
    assert fmt_len(8192) == "8K" and fmt_len(524288) == "512K" and fmt_len(1000) == "1000"
