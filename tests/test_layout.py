"""The one prompt layout: training shards keep their format byte for byte, eval prompts are MMLongBench's, and the
token report / training / eval all lay out through mmprolong.layout (no upward imports)."""

import ast
import json
from pathlib import Path

from mmprolong.layout import (MMLB_DOCQA_INSTRUCTION, PromptLayout, eval_messages, page_marker,
                              training_messages)

SRC = Path(__file__).resolve().parents[1] / "src" / "mmprolong"


def _render(msgs):
    """The user turn as text, one "<image>" per image part (how MMLongBench writes its prompt before splitting)."""
    return "".join(p["text"] if p["type"] == "text" else "<image>" for p in msgs[-1]["content"])


def test_training_messages_are_byte_identical_to_the_shard_format():
    pages = [{"page": 4, "width": 640, "height": 828}, {"page": 5, "width": 640, "height": 830}]
    got = json.dumps(training_messages(pages, "What is X?", "42", max_pixels=401408), ensure_ascii=False)
    want = ('[{"role": "user", "content": [{"type": "text", "text": "Page 5:"}, {"type": "image", "page": 4, '
            '"width": 640, "height": 828, "max_pixels": 401408}, {"type": "text", "text": "Page 6:"}, {"type": '
            '"image", "page": 5, "width": 640, "height": 830, "max_pixels": 401408}, {"type": "text", "text": '
            '"What is X?"}]}, {"role": "assistant", "content": [{"type": "text", "text": "42"}]}]')
    assert got == want
    bare = training_messages(pages[:1], "Q", "A", page_markers=False)
    assert json.dumps(bare) == ('[{"role": "user", "content": [{"type": "image", "page": 4, "width": 640, "height": '
                                '828}, {"type": "text", "text": "Q"}]}, {"role": "assistant", "content": [{"type": '
                                '"text", "text": "A"}]}]')
    assert page_marker(0) == "Page 1:"


def test_default_eval_prompt_is_mmlongbench_docqa():
    ctx = [{"doc_id": "n" * 64, "name": "2021-Apple-Catalog-negative", "page": 0, "width": 56, "height": 56},
           {"doc_id": "g" * 64, "name": "PH_2016.06.08_Economy-Final", "page": 3, "width": 56, "height": 56},
           {"doc_id": "g" * 64, "name": "PH_2016.06.08_Economy-Final", "page": 4, "width": 56, "height": 56}]
    msgs = eval_messages(ctx, "How many?", PromptLayout(), doc="PH_2016.06.08_Economy-Final")
    # MMLongBench load_doc_qa: user_template.format(context, question) with item "Document {doc_id:.15}: <image>"
    context = "\n\n".join("Document {d:.15}: <image>".format(d=c["name"]) for c in ctx)
    question = "Based on Document {d:.15}, answer the following question. ".format(d="PH_2016.06.08_Economy-Final") \
        + "How many?"
    want = MMLB_DOCQA_INSTRUCTION + f"\n\n{context}\n\nQuestion: {question}"
    assert _render(msgs) == want
    assert "Document 2021-Apple-Cata: <image>" in want and "Document PH_2016.06.08_E: <image>" in want
    assert sum(p["type"] == "image" for p in msgs[0]["content"]) == 3


def test_niah_and_legacy_presets():
    ctx = [{"asset": "a.jpg", "width": 56, "height": 56}, {"text": "\nThe secret is 7.\n"}]
    niah = _render(eval_messages(ctx, "What?", PromptLayout.preset("niah")))
    assert niah.startswith("You are given interleaved text and images.") and niah.endswith("\n\nQuestion: What?")
    # an eval set written before this layout (its manifest has no "header") keeps its own layout
    old = {"instruction": "Read.", "template": "{instruction}\n\nQuestion: {question}", "system": None,
           "page_label": "Page {index}:", "include_page_text": False}
    legacy = _render(eval_messages(ctx[:1], "Q?", PromptLayout(**old)))
    assert legacy == "Page 1:<image>Read.\n\nQuestion: Q?"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            out.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_one_layout_module_at_a_low_layer():
    assert not {m for m in _imports(SRC / "layout.py") if m.startswith(".") or m.startswith("mmprolong")}
    assert not any("dataset" in m for m in _imports(SRC / "tokens" / "report.py"))
    for user in ("tokens/report.py", "dataset/assemble.py", "eval/prompt.py"):
        assert "..layout" in _imports(SRC / user), user
