import json

from PIL import Image

from mmprolong.eval.report import fmt_len, write_report
from mmprolong.eval.runner import PREDICTIONS, RUN
from mmprolong.eval.score import score_run


def fake_run(d, name, right):
    d.mkdir()
    (d / RUN).write_text(json.dumps({"backend": name}))
    rows = []
    for L in (8192, 16384):
        for ds in ("docA", "docB"):
            for k in range(2):
                rows.append({"instance_id": f"{ds}{k}@{L}", "dataset": ds, "kind": "doc", "task": "",
                             "target_length": L, "depth": 0.5, "question": "q", "answer": "12",
                             "answer_format": "Integer", "prediction": f"Answer: {12 if k < right else 3}",
                             "error": ""})
        for depth in (0.0, 1.0):
            rows.append({"instance_id": f"n{L}{depth}", "dataset": "niah-text", "kind": "needle",
                         "task": "retrieval", "target_length": L, "depth": depth, "question": "q",
                         "answer": "4721", "answer_format": "Integer",
                         "prediction": "Answer: 4721" if depth == 0 else "no", "error": ""})
    (d / PREDICTIONS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_report_tables_plots_and_predictions(tmp_path):
    a = fake_run(tmp_path / "a", "openai:base", right=1)
    b = fake_run(tmp_path / "b", "hf:ours", right=2)
    s = score_run(b, progress=False)
    assert s["doc"]["overall"] == 100.0
    md = write_report([a, b], tmp_path / "rep").read_text()
    assert "| docA | 50.00 (n=2) | 50.00 (n=2) |" in md
    assert "| **macro avg** | **100.00** | **100.00** |" in md
    assert "| openai:base | 50.00 | 50.00 | 50.00 |" in md
    assert "| 0% | 100 | 100 |" in md and "| 100% | 0 | 0 |" in md
    for png in ("score_vs_length_0.png", "score_vs_length_1.png", "models.png", "needles_0.png"):
        im = Image.open(tmp_path / "rep" / png)
        assert im.size[0] > 300
    rows = [json.loads(x) for x in (tmp_path / "rep" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and {r["run"] for r in rows} == {"openai:base", "hf:ours"}
    assert all("score" in r for r in rows)


def test_fmt_len():
    assert fmt_len(8192) == "8K" and fmt_len(524288) == "512K" and fmt_len(1000) == "1000"
