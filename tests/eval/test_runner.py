"""The runner with page labels and the text layer in the prompt: what is sent is exactly what was counted."""

from mmprolong import tokens
from mmprolong.corpus.store import PageStore
from mmprolong.eval.build import build_eval_set
from mmprolong.eval.catalog import PageCatalog
from mmprolong.eval.prompt import PromptConfig
from mmprolong.eval.qaset import QAItem
from mmprolong.eval.runner import read_predictions, run_eval
from mmprolong.eval.instance import read_instances


class CountingBackend:
    """A backend that counts what it is sent with the TokenCounter and answers with the count."""

    name, concurrency = "count", 2

    def __init__(self, counter):
        self.counter = counter

    def generate(self, messages, images):
        sized = [dict(m) for m in messages]
        k = 0
        for m in sized:
            m["content"] = [dict(p) for p in m["content"]]
            for p in m["content"]:
                if p["type"] == "image":
                    p.update(width=images[k].width, height=images[k].height)
                    p.pop("max_pixels", None)
                    k += 1
        texts = [p["text"] for m in messages for p in m["content"] if p["type"] == "text"]
        assert any("Revenue was" in t for t in texts)  # the text layer was sent
        return str(self.counter.count_messages(sized, add_generation_prompt=True).total)

    def describe(self):
        return {}


def test_sent_equals_counted_with_labels_and_text(store_dir, doc_ids, tmp_path):
    counter = tokens.load("qwen2.5-vl")
    prompt = PromptConfig(page_label="Page {index}:", include_page_text=True)
    cat = PageCatalog(PageStore(store_dir), counter, prompt, max_pixels=150_000)
    items = [QAItem(qa_id="q", dataset="d", doc_id=doc_ids[3], question="Revenue?", answer="1",
                    answer_format="Integer", evidence_pages=[2])]
    build_eval_set(items, cat, [4096, 16384], tmp_path / "set", progress=False)
    r = run_eval(tmp_path / "set", CountingBackend(counter), tmp_path / "run", PageStore(store_dir), counter,
                 progress=False)
    assert r["answered"] == 2
    want = {i.instance_id: i.n_tokens for i in read_instances(tmp_path / "set")}
    assert {k: int(v["prediction"]) for k, v in read_predictions(tmp_path / "run").items()} == want
