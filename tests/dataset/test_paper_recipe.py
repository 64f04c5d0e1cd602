"""The paper's recipe file (recipes/paper-qwen2.5-vl-7b.yaml) builds with the openai generator against a real
teacher server on 127.0.0.1: only the server address and the key's variable are changed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import yaml

from mmprolong.corpus.ingest import IngestConfig, ingest
from mmprolong.dataset.parts import read_table
from mmprolong.demo.corpus import plan_document, write_demo_corpus
from mmprolong.recipe import RECIPES_DIR
from mmprolong.tokens import load

from ..synth.teacher_server import TeacherServer


def test_paper_recipe_builds_with_an_openai_teacher(tmp_path):
    # one pool-native document (32-50 pages), as the paper's recipe asks
    pdfs = write_demo_corpus(tmp_path / "pdfs", n_docs=1, seed=3, pages=(36, 36))
    plan = plan_document(0, seed=3, pages=(36, 36))
    ingest([str(p) for p in pdfs], tmp_path / "store", IngestConfig(workers=1, progress=False))

    def teacher(body: dict) -> dict:
        """Reads the "Page N" labels of the segment it was shown and asks about a fact on the first such page."""
        text = " ".join(part.get("text", "") for m in body["messages"] if isinstance(m["content"], list)
                        for part in m["content"] if part.get("type") == "text")
        shown = [int(n) for n in re.findall(r"^Page (\d+)$", text, flags=re.M)] or \
            [int(n) for n in re.findall(r"Page (\d+)", text)]
        fact = next(f for f in plan.facts if f.page + 1 in shown and f.source == "Text")
        return {"question": f"On page {fact.page + 1}, how many {fact.unit} did {fact.subject} produce in "
                            f"{fact.when}?",
                "answer": int(fact.value.replace(",", "")), "answer_format": "Integer",
                "evidence": f"Page {fact.page + 1}: {fact.text}", "evidence_pages": [fact.page + 1],
                "evidence_sources": ["Text"]}

    server = TeacherServer()
    server.default = ("fn", teacher)
    try:
        recipe = yaml.safe_load((RECIPES_DIR / "paper-qwen2.5-vl-7b.yaml").read_text())
        recipe["generator"].update(base_url=server.base_url, api_key_env="PAPER_TEST_KEY",
                                   cache_dir=str(tmp_path / "cache"))
        (tmp_path / "paper.yaml").write_text(yaml.safe_dump(recipe))
        # the CLI in a fresh process, as a user runs it: the key is in its environment from the start
        proc = subprocess.run([sys.executable, "-m", "mmprolong.cli.main", "build", "--recipe",
                               str(tmp_path / "paper.yaml"), "--store", str(tmp_path / "store"), "--out",
                               str(tmp_path / "out"), "--workers", "1", "--quiet"],
                              env=dict(os.environ, PAPER_TEST_KEY="sk-local"), capture_output=True, text=True,
                              timeout=300)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr

    assert server.requests, "the teacher was asked"
    rows = read_table(tmp_path / "out", "shards").to_pylist()
    assert len(rows) >= 1
    counter = load("qwen2.5-vl")
    for r in rows:
        msgs = json.loads(r["messages"])
        n_images = sum(1 for p in msgs[0]["content"] if p.get("type") == "image")
        assert n_images == 36 and r["n_tokens"] <= 131072          # the whole document, within 128K
        assert counter.count_messages(msgs, max_pixels=r["max_pixels"]).total == r["n_tokens"]
    qa = read_table(tmp_path / "out", "qa").to_pylist()
    assert qa and all(q["checks_failed"] == [] and q["generator"].startswith("openai") for q in qa)
