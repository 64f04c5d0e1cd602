"""TokenCounter against transformers' Qwen2.5-VL / Qwen3-VL processors: image grids, whole chats, ids and masks."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from PIL import Image

from mmprolong.tokens import load, smart_resize

MODELS = ("qwen2.5-vl", "qwen3-vl")

# (width, height): tiny, page scans, huge, extreme aspect, exactly on factor multiples and pixel bounds
SIZES = [
    (1, 1), (2, 3), (10, 10), (27, 27), (28, 28), (29, 29), (32, 32), (56, 56), (55, 57), (100, 30),
    (224, 224), (448, 448), (640, 480), (800, 600), (1024, 768), (1190, 1684), (1240, 1754), (1654, 2339),
    (2480, 3508), (3000, 4000), (4961, 7016), (8000, 8000), (12000, 9000), (20000, 20000), (50000, 40000),
    (28, 5599), (5599, 28), (14, 2799), (100, 19999), (19999, 100), (1000, 10), (10, 1999), (3584, 3584),
    (3585, 3583), (1280, 28 * 28), (2 * 1792, 1792), (1792, 1792), (1791, 1793), (256, 256), (255, 257),
    (4096, 4096), (4097, 4095), (3136, 1), (1, 3136 // 50), (57, 56), (56 * 64, 56 * 64), (28 * 128, 28 * 128 + 1),
]
MAX_PIXELS = [None, 3136, 12544, 65536, 100352, 200704, 401408, 802816, 1003520, 1605632, 12845056, 16777216]


def _hf_patches(proc, w: int, h: int, max_pixels: int | None) -> int:
    kw = {} if max_pixels is None else {"max_pixels": max_pixels}
    return proc.image_processor.get_number_of_image_patches(h, w, kw)


@pytest.mark.parametrize("model", MODELS)
def test_image_tokens_equal_transformers_rule(model, counters, hf_processors):
    c, proc = counters[model], hf_processors(model)
    merge2 = proc.image_processor.merge_size ** 2
    n = 0
    for (w, h), mp in itertools.product(SIZES, MAX_PIXELS):
        if mp is not None and mp < c.min_pixels:
            continue
        if max(w, h) / min(w, h) > 200:
            with pytest.raises(ValueError, match="aspect ratio"):
                c.image_tokens(w, h, mp)
            with pytest.raises(ValueError):
                _hf_patches(proc, w, h, mp)
            continue
        assert c.image_tokens(w, h, mp) == _hf_patches(proc, w, h, mp) // merge2, (model, w, h, mp)
        n += 1
    assert n > 400


@pytest.mark.parametrize("model", MODELS)
def test_grids_equal_real_image_processing(model, counters, hf_processors):
    """Run transformers' image processor on real pixels and compare grid_thw, pixel rows and resized sizes."""
    c, proc = counters[model], hf_processors(model)
    ip = proc.image_processor
    cases = [((1, 1), None), ((27, 29), None), ((640, 480), None), ((1240, 1754), 401408), ((4000, 100), 200704),
             ((100, 4000), 200704), ((3000, 2000), 65536 * 2), ((56, 56), None), ((333, 777), 1003520)]
    for (w, h), mp in cases:
        img = Image.fromarray(np.random.default_rng(w * h).integers(0, 255, (h, w, 3), dtype=np.uint8))
        kw = {} if mp is None else {"size": {"shortest_edge": c.min_pixels, "longest_edge": mp}}
        out = ip(images=[img], return_tensors="np", **kw)
        g = c.image_grid(w, h, mp)
        assert tuple(out["image_grid_thw"][0]) == g.thw
        assert out["pixel_values"].shape[0] == g.grid_t * g.grid_h * g.grid_w
        assert (g.height, g.width) == (g.grid_h * c.spec.patch_size, g.grid_w * c.spec.patch_size)


def test_smart_resize_equals_transformers_and_keeps_bounds():
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as hf_smart_resize

    for (w, h), mp in itertools.product(SIZES, (12544, 1003520, 12845056)):
        if max(w, h) / min(w, h) > 200:
            continue
        rh, rw = smart_resize(h, w, 28, 3136, mp)
        assert (rh, rw) == hf_smart_resize(h, w, 28, 3136, mp)
        assert rh % 28 == 0 and rw % 28 == 0 and rh * rw >= 3136
        if min(rh, rw) > 28:  # a side clamped to one factor may push the area over max_pixels (as upstream)
            assert rh * rw <= mp


def _img(w: int, h: int) -> dict:
    return {"type": "image", "width": w, "height": h}


def _chats() -> list[list[dict]]:
    """Multi-image, multi-turn chat samples in the format every stage uses."""
    q = "Which plant produced the most steel in 2019? Answer with the plant name."
    return [
        [{"role": "user", "content": [_img(640, 480), {"type": "text", "text": "Describe the page."}]}],
        [{"role": "user", "content": [_img(1240, 1754), _img(1240, 1754), _img(877, 1240), {"type": "text", "text": q}]},
         {"role": "assistant", "content": [{"type": "text", "text": "The Northwind plant (4,210 tonnes)."}]}],
        [{"role": "system", "content": "You read long documents carefully."},
         {"role": "user", "content": [{"type": "text", "text": "Page 1:"}, _img(300, 420), {"type": "text", "text": "\nPage 2:"},
                                      _img(420, 300), {"type": "text", "text": "\n" + q}]},
         {"role": "assistant", "content": [{"type": "text", "text": "Northwind"}]},
         {"role": "user", "content": [{"type": "text", "text": "And in 2020? 答案用中文。"}, _img(28, 28)]},
         {"role": "assistant", "content": "東北風工場 👩‍🔬, 4,455 t."}],
        [{"role": "user", "content": "Plain string content, no images.\n\tTabs  and  spaces."},
         {"role": "assistant", "content": [{"type": "text", "text": "<|im_start|> is literal? No."}]}],
        [{"role": "user", "content": [_img(2000, 100), _img(100, 2000), _img(3, 3)]},
         {"role": "assistant", "content": [{"type": "text", "text": "Three images: wide, tall, tiny."}]},
         {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}],
    ]


def _pil_images(messages: list[dict]) -> list[Image.Image]:
    out = []
    for m in messages:
        for p in m["content"] if isinstance(m["content"], list) else []:
            if p.get("type") == "image":
                out.append(Image.new("RGB", (p["width"], p["height"]), (200, 190, 180)))
    return out


def _hf_ids(proc, messages, add_generation_prompt, max_pixels=None) -> list[int]:
    text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    images = _pil_images(messages) or None
    kw = {}
    if max_pixels is not None and images:
        kw["size"] = {"shortest_edge": proc.image_processor.size["shortest_edge"], "longest_edge": max_pixels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = proc(text=[text], images=images, return_tensors="np", **kw)
    return out["input_ids"][0].tolist()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("max_pixels", [None, 200704])
def test_count_and_encode_messages_equal_processor(model, max_pixels, counters, hf_processors):
    c, proc = counters[model], hf_processors(model)
    for k, msgs in enumerate(_chats()):
        for gen in (False, True):
            ref = _hf_ids(proc, msgs, gen, max_pixels)
            count = c.count_messages(msgs, add_generation_prompt=gen, max_pixels=max_pixels)
            assert count.total == len(ref), (k, gen)
            assert count.image_tokens == sum(1 for t in ref if t == c.image_pad_id)
            enc = c.encode_messages(msgs, add_generation_prompt=gen, max_pixels=max_pixels)
            assert enc.input_ids == ref, (k, gen)
            assert len(enc.assistant_mask) == len(ref)


@pytest.mark.parametrize("model", MODELS)
def test_with_pixels_and_per_part_max_pixels(model, counters, hf_processors):
    c = counters[model]
    msgs = _chats()[1]
    small = c.with_pixels(max_pixels=200704)
    assert small.count_messages(msgs).total == c.count_messages(msgs, max_pixels=200704).total
    assert small.count_messages(msgs).total == len(_hf_ids(hf_processors(model, 200704), msgs, False))
    # a part's own max_pixels wins over the call's
    parted = [{**m, "content": [{**p, "max_pixels": 65536 * 2} if p.get("type") == "image" else p
                                for p in m["content"]]} for m in msgs]
    per = c.count_messages(parted, max_pixels=12845056)
    assert per.image_tokens == sum(c.image_tokens(p["width"], p["height"], 65536 * 2)
                                   for p in c.iter_images(msgs))


@pytest.mark.parametrize("model", MODELS)
def test_assistant_mask_covers_exactly_the_answers(model, counters):
    c = counters[model]
    msgs = _chats()[2]
    enc = c.encode_messages(msgs)
    target = c.decode([t for t, m in zip(enc.input_ids, enc.assistant_mask) if m])
    assert target == "Northwind<|im_end|>東北風工場 👩‍🔬, 4,455 t.<|im_end|>"
    assert not any(m for t, m in zip(enc.input_ids, enc.assistant_mask) if t == c.image_pad_id)
    assert [g.thw for g in enc.image_grids] == [c.image_grid(p["width"], p["height"]).thw
                                                for p in c.iter_images(msgs)]


def test_mrope_span_is_half_the_longer_grid_side(counters):
    c = counters["qwen2.5-vl"]
    g = c.image_grid(1240, 1754)
    assert c.mrope_span(1240, 1754) == max(g.grid_h, g.grid_w) // 2 < g.tokens


def test_image_parts_without_size_are_an_error(counters):
    with pytest.raises(ValueError, match="width"):
        counters["qwen2.5-vl"].count_messages([{"role": "user", "content": [{"type": "image", "page": 3}]}])


def test_fingerprint_changes_with_pixels(counters):
    c = counters["qwen2.5-vl"]
    assert c.fingerprint() != c.with_pixels(max_pixels=65536).fingerprint()
    assert load("qwen2.5-vl-7b").fingerprint() == c.fingerprint()
