"""The README is executable: every command of its "Using it on your corpus" block runs, top to bottom, on the demo
corpus, so the README cannot drift from the code.

Only what a test machine cannot have is substituted, each in SUBSTITUTE below (a substitution the README no longer
needs fails the test too): the input folders become demo PDFs and an MMLongBench-Doc-style QA file about them, the
teacher and the model server become local servers on 127.0.0.1, the 7B 128K training config becomes the tiny CPU one,
64 workers / 8 GPUs / a Ray cluster become what a CI machine has. Flags, command names, file names and the order are the README's.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from mmprolong.cli.main import main
from mmprolong.demo.corpus import plan_document, write_demo_corpus
from mmprolong.recipe import RECIPES_DIR

from .eval.chat_server import ChatServer
from .synth.teacher_server import TeacherServer

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The commands of the README's usage block, continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Using it on your corpus", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    block = re.sub(r"\\\n\s*", " ", block)
    cmds = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            cmds.append(line)
    return cmds


def _numeric(f) -> bool:
    return f.source == "Text" and re.fullmatch(r"[\d,]+", f.value) is not None


def _teacher_for(plan):
    """A teacher that reads the "Page N" labels it was shown and asks about Text facts on those pages; for the
    reasoning task, the difference of two such facts with its calculation."""
    facts = sorted((f for f in plan.facts if f.source == "Text"), key=lambda f: not _numeric(f))

    def value(f) -> int | str:
        return int(f.value.replace(",", "")) if _numeric(f) else f.value

    def answer(body: dict) -> dict:
        text = " ".join(part.get("text", "") for m in body["messages"] if isinstance(m["content"], list)
                        for part in m["content"] if part.get("type") == "text")
        sys_text = " ".join(m["content"] for m in body["messages"] if isinstance(m["content"], str))
        shown = {int(n) for n in re.findall(r"^Page (\d+)", text, flags=re.M)} or \
            {int(n) for n in re.findall(r"Page (\d+)", text)}
        on = [f for f in facts if f.page + 1 in shown] or [f for f in plan.facts if f.page + 1 in shown] or facts
        a = on[0]
        nums = [f for f in on if _numeric(f)]
        if "calculation" in (text + sys_text) and "MUST" in (text + sys_text) and len(nums) >= 2:
            a, b = nums[0], nums[1]
            return {"question": f"How many more {a.unit} did {a.subject} report in {a.when} (page {a.page + 1}) than "
                                f"{b.subject} in {b.when} (page {b.page + 1})?",
                    "answer": value(a) - value(b), "answer_format": "Integer",
                    "evidence": f"Page {a.page + 1}: {a.text} Page {b.page + 1}: {b.text}",
                    "evidence_pages": sorted({a.page + 1, b.page + 1}), "evidence_sources": ["Text"],
                    "calculation": {"operation": "difference", "threshold": None,
                                    "operands": [{"label": a.when, "value": value(a), "page": a.page + 1},
                                                 {"label": b.when, "value": value(b), "page": b.page + 1}]}}
        return {"question": f"On page {a.page + 1}, what {a.attribute} figure is given for {a.subject} in {a.when}?",
                "answer": value(a), "answer_format": "Integer" if _numeric(a) else "String",
                "evidence": f"Page {a.page + 1}: {a.text}", "evidence_pages": [a.page + 1],
                "evidence_sources": ["Text"]}
    return answer


@pytest.mark.slow
def test_every_readme_command_runs_top_to_bottom(tmp_path, monkeypatch, capsys):
    cmds = readme_commands()
    assert len(cmds) >= 15 and cmds[0].startswith("source ")

    # inputs: a training PDF of the paper's pool-native size (32-50 pages) + 1 held-out evaluation document, which
    # also sits in the training folder: the exclusion list of step 0 must keep it out of the store
    plan = plan_document(0, seed=3, pages=(36, 36))
    pdfs = tmp_path / "pdfs"
    write_demo_corpus(pdfs, n_docs=1, seed=3, pages=(36, 36))
    eval_docs = tmp_path / "mmlongbench" / "documents"
    eval_pdf = write_demo_corpus(eval_docs, n_docs=1, seed=11, pages=(24, 24))[0]
    (pdfs / "heldout.pdf").write_bytes(eval_pdf.read_bytes())
    eval_plan = plan_document(0, seed=11, pages=(24, 24))
    golds = [f for f in eval_plan.facts if _numeric(f)][:3]
    samples = [{"doc_id": eval_pdf.name, "doc_type": "Report", "question": f"How many {f.unit} did {f.subject} "
                f"produce in {f.when}?", "answer": str(int(f.value.replace(",", ""))), "answer_format": "Int",
                "evidence_pages": f"[{f.page + 1}]", "evidence_sources": "['Pure-text (Plain-text)']"}
               for f in golds]
    (tmp_path / "mmlongbench" / "samples.json").write_text(json.dumps(samples))

    teacher = TeacherServer()
    teacher.default = ("fn", _teacher_for(plan))
    model = ChatServer().__enter__()
    recipe = yaml.safe_load((RECIPES_DIR / "paper-qwen2.5-vl-7b.yaml").read_text())
    recipe["generator"].update(base_url=teacher.base_url, cache_dir=str(tmp_path / "cache"))
    recipe["max_pixels"] = 200_704   # 256 tokens a page: the tiny model trains on CPU in seconds (the test's choice)
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(recipe))
    (tmp_path / "llava_mix.json").write_text(json.dumps([{"id": "0", "image": "a.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is it?"}, {"from": "gpt", "value": "Grey."}]}]))
    (tmp_path / "images").mkdir()
    from PIL import Image

    Image.new("RGB", (112, 84), (128, 128, 128)).save(tmp_path / "images" / "a.jpg")
    tiny_mix = yaml.safe_load((RECIPES_DIR / "train" / "demo-tiny.yaml").read_text())
    shipped = yaml.safe_load((RECIPES_DIR / "train" / "qwen2.5-vl-7b-128k-long60-short40.yaml").read_text())
    # the shipped config's sources and weights; one pack a step in both training runs (the config's 32K would be
    # two), 12K here: the one long sample (~9.2K tokens) and short ones beside it. The CPU's dense packed mask costs
    # the square of the pack length, so a full 16K mixed pack took most of this test's time (the test's choice)
    tiny_mix["data"] = dict(shipped["data"], max_length=12288)
    tiny_mix["optim"]["tokens_per_step"] = 12288
    tiny_mix["output_dir"] = "train-mix"
    (tmp_path / "tiny-mix.yaml").write_text(yaml.safe_dump(tiny_mix))

    tiny = str(RECIPES_DIR / "train" / "demo-tiny.yaml")
    SUBSTITUTE = {
        "/data/pdfs": str(pdfs),
        "--workers 64": "--workers 2",
        # Ray itself is tested in tests/run/test_ray_exec.py and tests/dataset/test_build.py; here a local Ray would
        # only add its start-up (and its start-up timeouts on a loaded 2-core machine) to every CI run
        "--executor ray": "--executor threads",
        "paper-qwen2.5-vl-7b --store": f"{tmp_path / 'paper.yaml'} --store",
        "torchrun --nproc-per-node 8 -m mmprolong.cli.main": "mmprolong",
        "--config recipes/train/qwen2.5-vl-7b-128k.yaml":
            f"--config {tiny} --shards data/shards --max-length 16K --tokens-per-step 16K --out train --steps 1",
        "--config recipes/train/qwen2.5-vl-7b-128k-long60-short40.yaml":
            f"--config {tmp_path / 'tiny-mix.yaml'} --steps 1",
        "--image-root /data/images": f"--image-root {tmp_path / 'images'}",
        "--model-path runs/mmprolong-qwen2.5-vl-7b/hf": "--model-path train/hf",
        "--lengths 8K,16K,32K,64K,128K,256K,512K": "--lengths 8K,16K,32K",
        "--lengths 32K,128K,512K": "--lengths 8K --repeats 1",
        "--base-url http://localhost:8000/v1": f"--base-url {model.url}",
        "view data run-a --store eval-store":     # no one to look at the page: it opens both folders and stops
            "view data run-a --store eval-store --port 0 --no-browser --stop-after-idle 1",
    }
    used = set()
    # each command is the `mmprolong` entry point (cli.main.main) called in this process, in the README's working
    # folder: the same code as the console script, without importing torch and transformers again per command
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-test")
    try:
        for cmd in cmds[1:]:
            if cmd.startswith("export OPENAI_API_KEY="):
                continue  # set in the environment above
            for a, b in SUBSTITUTE.items():
                if a in cmd:
                    cmd = cmd.replace(a, b)
                    used.add(a)
            argv = shlex.split(cmd)
            assert argv[0] == "mmprolong", cmd
            rc = main(argv[1:])
            out = capsys.readouterr()
            assert rc == 0, f"{cmd}\n{out.out[-3000:]}\n{out.err[-3000:]}"
    finally:
        teacher.close()
        model.__exit__(None, None, None)
    assert used == set(SUBSTITUTE), f"substitutions the README no longer needs: {set(SUBSTITUTE) - used}"

    # what the flow promised: the held-out document never entered the training store, every output has its log
    from mmprolong.corpus.store import PageStore

    docs = PageStore(tmp_path / "store").docs_table(ok_only=False).to_pylist()
    held = [d for d in docs if d["source"].endswith("heldout.pdf")]
    assert held and all(d["status"] == "excluded" for d in held)
    for folder in ("store", "data", "evalset", "run-a", "eval-report", "train"):
        assert (tmp_path / folder / "mmprolong.log").is_file(), folder
    assert (tmp_path / "train" / "hf" / "config.json").is_file()
    assert (tmp_path / "eval-report" / "report.md").is_file()


def offline_commands() -> list[list[str]]:
    """The argument lists of the README's offline block (torchrun's prefix dropped)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("### Offline", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    block = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line:
            argv = shlex.split(line)
            if argv[0] == "torchrun":
                argv = ["mmprolong"] + argv[argv.index("mmprolong.cli.main") + 1:]
            out.append(argv)
    return out


def _step(args) -> str:
    return " ".join(x for x in (args.command, getattr(args, "eval_command", None)) if x)


def test_the_offline_block_parses_and_needs_no_key_or_server():
    """Every command of the offline path is one the CLI takes, none talks to a teacher or a model server, and it
    covers every step of the main block that can run offline (all but the vLLM settings of `eval serve-config`)."""
    from mmprolong.cli.main import build_parser

    parser = build_parser()
    cmds = offline_commands()
    assert cmds and all(argv[0] == "mmprolong" for argv in cmds)
    parsed = [parser.parse_args(argv[1:]) for argv in cmds]
    steps = {_step(a) for a in parsed}
    for a in parsed:
        assert getattr(a, "generator", "rules") == "rules" and getattr(a, "backend", "hf") == "hf", _step(a)
        assert not getattr(a, "base_url", None)
    main_steps = set()
    for cmd in readme_commands():
        argv = shlex.split(cmd)
        if argv[0] == "torchrun":
            argv = ["mmprolong"] + argv[argv.index("mmprolong.cli.main") + 1:]
        if argv[0] == "mmprolong":
            main_steps.add(_step(parser.parse_args(argv[1:])))
    assert {"build", "train", "eval run", "eval serve-config"} <= main_steps
    assert main_steps - {"eval serve-config"} <= steps, main_steps - steps


def test_docs_stand_alone_in_a_clone():
    """README, docs/, bench/RESULTS.md and the tests cite neither work-tracker numbers nor files outside the
    repository; the paper's facts they rely on are in docs/PAPER.md, and every docs/*.md they name exists."""
    outside = re.compile(r"\bissues?[ -]?#?\d|RECIPE" r"\.md|/wo" r"rk/|DESIGN" r"\.md", re.I)
    files = [ROOT / "README.md", ROOT / "bench" / "RESULTS.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "tests").rglob("*.py"))]
    found = [f"{f.relative_to(ROOT)}:{n}: {line.strip()[:100]}" for f in files
             for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if outside.search(line)]
    assert not found, "\n".join(found)
    paper = (ROOT / "docs" / "PAPER.md").read_text()
    assert "arXiv 2605.13831" in paper
    for f in files:
        for name in re.findall(r"docs/([\w.-]+\.md)", f.read_text(encoding="utf-8")):
            assert (ROOT / "docs" / name).is_file(), f"{f.relative_to(ROOT)} names docs/{name}"
