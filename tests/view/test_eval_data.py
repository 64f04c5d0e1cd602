"""Eval sets and runs behind the view: filters, the context of an instance, failed requests, two runs compared."""

from __future__ import annotations

import json

from mmprolong.eval.instance import read_instances
from mmprolong.view.eval_data import diff
from mmprolong.view.server import open_folder


def test_set_run_and_diff(eval_runs, demo_store):
    s = open_folder(eval_runs["set"], str(demo_store))
    insts = list(read_instances(eval_runs["set"]))
    assert s.kind == "eval-set" and s.items({})["total"] == len(insts)
    assert s.items({"length": "8192"})["total"] == sum(i.target_length == 8192 for i in insts)
    one = insts[-1]
    d = s.item(one.instance_id)
    assert d["question"] == one.question and "context" not in d
    assert sum(len(c["pages"]) for c in d["context_docs"]) == len(one.pages())
    assert [e["page"] for e in d["evidence_text"]] == sorted(one.evidence_pages)

    a, b = open_folder(eval_runs["a"], str(demo_store)), open_folder(eval_runs["b"], str(demo_store))
    assert a.kind == b.kind == "eval-run" and a.info()["failed"] == 1
    failed = a.items({"score": "failed"})["items"]
    assert len(failed) == 1 and "500" in failed[0]["error"] and failed[0]["prediction"] is None
    assert b.items({"score": "1"})["total"] == b.info()["n"]        # the server that answers every gold
    scored = {json.loads(x)["instance_id"]: json.loads(x) for x in (eval_runs["a"] / "scored.jsonl").open()}
    assert all(r["score"] == scored[r["instance_id"]]["score"] for r in a.rows)
    item = a.item(failed[0]["instance_id"])
    assert item["error"] and item["evidence_text"] and item["doc_id"]
    dd = diff(a, b, {})
    assert dd["both"] == len(insts) and dd["total"] == sum(r["score"] != 1 for r in a.rows)
    assert any(r["a"]["error"] for r in dd["items"])
