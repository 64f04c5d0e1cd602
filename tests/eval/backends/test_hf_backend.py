"""The hf backend on a tiny random Qwen2.5-VL built from a config, saved, and loaded back by transformers."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from mmprolong import tokens  # noqa: E402
from mmprolong.corpus.store import PageStore  # noqa: E402
from mmprolong.eval.backends.hf_backend import HFBackend, HFConfig  # noqa: E402
from mmprolong.eval.build import build_eval_set  # noqa: E402
from mmprolong.eval.catalog import PageCatalog  # noqa: E402
from mmprolong.eval.images import ImageResolver  # noqa: E402
from mmprolong.eval.instance import read_instances  # noqa: E402
from mmprolong.eval.prompt import PromptConfig  # noqa: E402
from mmprolong.eval.qaset import QAItem  # noqa: E402
from mmprolong.eval.runner import instance_messages, read_predictions, run_eval  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    d = tmp_path_factory.mktemp("tiny-qwen2.5-vl")
    torch.manual_seed(0)
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=151680, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           fullatt_block_indexes=[0]))
    Qwen2_5_VLForConditionalGeneration(cfg).save_pretrained(d)
    Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=60_000).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def tiny_set(tiny_model, store_dir, doc_ids, tmp_path_factory):
    out = tmp_path_factory.mktemp("set")
    counter = tokens.load(str(tiny_model))
    assert counter.max_pixels == 60_000
    cat = PageCatalog(PageStore(store_dir), counter, PromptConfig())
    items = [QAItem(qa_id="q0", dataset="demo", doc_id=doc_ids[0], question="Revenue on page 2?", answer="101",
                    answer_format="Integer", evidence_pages=[1])]
    build_eval_set(items, cat, [600, 1200], out, progress=False)
    return out


def test_inputs_are_exactly_the_counted_tokens(tiny_model, tiny_set, store_dir):
    be = HFBackend(HFConfig(model=str(tiny_model), max_new_tokens=4))
    res = ImageResolver(PageStore(store_dir), tiny_set, be.counter)
    for inst in read_instances(tiny_set):
        msgs = instance_messages(inst, PromptConfig())
        inputs = be.encode(msgs, res.images(msgs))
        assert inputs["input_ids"].shape[1] == inst.n_tokens <= inst.target_length
        n_pad = int((inputs["input_ids"] == be.counter.image_pad_id).sum())
        assert n_pad == int(inputs["image_grid_thw"].prod(-1).sum()) // 4


def test_run_completes_and_resumes(tiny_model, tiny_set, store_dir, tmp_path):
    be = HFBackend(HFConfig(model=str(tiny_model), max_new_tokens=4))
    r = run_eval(tiny_set, be, tmp_path / "run", PageStore(store_dir), be.counter, progress=False)
    assert r == {"instances": 2, "skipped_done": 0, "answered": 2, "errors": 0}
    preds = read_predictions(tmp_path / "run")
    assert all(isinstance(p["prediction"], str) and not p["error"] for p in preds.values())
    assert all(p["n_tokens_sent"] == p["n_tokens"] for p in preds.values())
    again = run_eval(tiny_set, be, tmp_path / "run", PageStore(store_dir), be.counter, progress=False)
    assert again["skipped_done"] == 2 and again["answered"] == 0
    # greedy: the same answer twice
    msgs = instance_messages(next(read_instances(tiny_set)), PromptConfig())
    imgs = ImageResolver(PageStore(store_dir), tiny_set, be.counter).images(msgs)
    assert be.generate(msgs, imgs) == be.generate(msgs, imgs)


def test_rope_overrides(tiny_model):
    be = HFBackend(HFConfig(model=str(tiny_model), rope_theta=4e6, max_position_embeddings=8192, yarn_factor=2.0,
                            max_new_tokens=2))
    tc = be.model.config.text_config
    assert tc.rope_parameters["rope_theta"] == 4e6 and tc.rope_parameters["rope_type"] == "yarn"
    assert tc.rope_parameters["factor"] == 2.0 and tc.rope_parameters["original_max_position_embeddings"] == 4096
    assert tc.max_position_embeddings == 8192
    assert be.describe()["applied"]["rope_theta"] == 4e6


def test_bad_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a local model folder"):
        HFBackend(HFConfig(model=str(tmp_path)))
    with pytest.raises(ValueError):
        HFConfig(model="x", rope_thta=1.0)


def test_qwen3_vl_folder(tmp_path):
    """A tiny random Qwen3-VL (patch 16): ids from the counter, grids agree, greedy answer comes back."""
    from PIL import Image
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    torch.manual_seed(0)
    cfg = Qwen3VLConfig(
        text_config=dict(vocab_size=151680, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [2, 3, 3],
                                          "mrope_interleaved": True}),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           deepstack_visual_indexes=[0], num_position_embeddings=64))
    Qwen3VLForConditionalGeneration(cfg).save_pretrained(tmp_path)
    Qwen2VLImageProcessorPil(patch_size=16, min_pixels=4096, max_pixels=60_000).save_pretrained(tmp_path)
    be = HFBackend(HFConfig(model=str(tmp_path), max_new_tokens=3))
    assert be.counter.spec.patch_size == 16
    msgs = [{"role": "user", "content": [{"type": "image", "asset": "a", "width": 256, "height": 192},
                                         {"type": "text", "text": "What is shown?"}]}]
    out = be.generate(msgs, [Image.new("RGB", (256, 192), "white")])
    assert isinstance(out, str)
    assert be.last_n_tokens == be.counter.count_messages(msgs, add_generation_prompt=True).total
