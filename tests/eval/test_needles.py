import io
import json

import pytest
from PIL import Image

from mmprolong import tokens
from mmprolong.corpus.store import PageStore
from mmprolong.eval.catalog import PageCatalog
from mmprolong.eval.images import ImageResolver
from mmprolong.eval.instance import read_instances
from mmprolong.eval.needles import NeedleConfig, build_needles, render_on_page
from mmprolong.eval.prompt import PromptConfig
from mmprolong.eval.runner import instance_messages

from .conftest import jpeg


@pytest.fixture(scope="module")
def needle_set(store_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("needles")
    cat = PageCatalog(PageStore(store_dir), tokens.load("qwen2.5-vl"), PromptConfig(), max_pixels=300_000)
    cfg = NeedleConfig(lengths=[8192, 32768], depths=[0.0, 0.5, 1.0], repeats=1)
    man = build_needles(cat, PageStore(store_dir), out, cfg, progress=False)
    return out, cat, man


def test_grid_of_probes_at_exact_lengths(needle_set):
    out, cat, man = needle_set
    insts = list(read_instances(out))
    assert len(insts) == 2 * 3 * 3 * 2
    for i in insts:
        assert i.kind == "needle" and i.n_tokens <= i.target_length
        assert i.target_length - i.n_tokens < 600          # within a page (~390 tokens at 300K pixels) + needles
        assert cat.count(i.context, i.question) == i.n_tokens
    text = [i for i in insts if i.dataset == "niah-text" and i.task == "counting"]
    for i in text:
        counts = json.loads(i.answer)
        said = [int(c["text"].split("counted ")[1].split()[0]) for c in i.context if "text" in c]
        assert said == counts
    # depth orders the needle's position
    ret = sorted((i for i in insts if i.dataset == "niah-text" and i.task == "retrieval" and i.target_length == 32768),
                 key=lambda i: i.depth)
    pos = [next(k for k, c in enumerate(i.context) if "text" in c) for i in ret]
    assert pos[0] == 0 and pos[0] < pos[1] < pos[2] and pos[2] == len(ret[2].context) - 1


def test_image_needles_are_rendered_pages_of_the_same_size(needle_set, store_dir):
    out, cat, _ = needle_set
    inst = next(i for i in read_instances(out) if i.dataset == "niah-image" and i.task == "retrieval")
    assets = [c for c in inst.context if "asset" in c]
    assert len(assets) == 1
    im = Image.open(out / assets[0]["asset"])
    assert im.size == (assets[0]["width"], assets[0]["height"])
    msgs = instance_messages(inst, PromptConfig())
    imgs = ImageResolver(PageStore(store_dir), out, cat.counter, max_pixels=300_000).images(msgs)
    assert all(i.width * i.height <= 300_000 for i in imgs)


def test_render_changes_pixels_not_size():
    raw = jpeg(600, 800)
    out = render_on_page(raw, "The secret number of the red door is 1234.")
    a, b = Image.open(io.BytesIO(raw)), Image.open(io.BytesIO(out))
    assert a.size == b.size and a.convert("L").getextrema() != b.convert("L").getextrema()


def test_bad_config():
    with pytest.raises(ValueError, match="unknown needle task"):
        NeedleConfig(lengths=[1000], tasks=["sorting"]).check()
    with pytest.raises(ValueError):
        NeedleConfig(lengths=[1000], depht=[0.1])
