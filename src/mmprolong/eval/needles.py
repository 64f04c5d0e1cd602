"""Needle-in-a-haystack over page images (after MM-NIAH): facts placed at chosen depths in a haystack of store
pages, at exact token lengths, with retrieval, counting and reasoning questions.

Two needle modalities: `image` (the sentence rendered onto a haystack page image, same pixel size so the same
token cost; the page is written to assets/ beside the set) and `text` (the sentence as a text part between pages).
Depth d places the (first) needle where d of the context tokens lie before it. The haystack for a length is the same
at every depth, so the heatmap compares like with like.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict

from .. import __version__, storage
from ..corpus.store import PageStore
from .catalog import PageCatalog
from .instance import EvalInstance, write_instances

TASKS = ("retrieval", "counting", "reasoning")
# Probes per (task, modality, length, depth) cell. A cell's score is a mean of 0/1 verdicts: its 95% interval is about
# +-98/sqrt(n) points at 50% and +-59/sqrt(n) at 90%, so 10 probes give +-31 / +-19 points (1 probe: a coin flip);
# the report states n per cell. Scale down for a quick look (--repeats 1), up for a paper figure.
DEFAULT_REPEATS = 10
MODALITIES = ("image", "text")
_COLORS = ("red", "blue", "green", "golden", "silver", "purple", "orange", "black")
_OBJECTS = ("door", "lantern", "violin", "teapot", "bicycle", "compass", "kite", "clock")
_ITEMS = ("apple", "shell", "pebble", "feather", "acorn", "marble")
_NAMES = ("Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana")


class NeedleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lengths: list[int]
    depths: list[float] = [0.0, 0.25, 0.5, 0.75, 1.0]
    tasks: list[str] = list(TASKS)
    modalities: list[str] = list(MODALITIES)
    repeats: int = DEFAULT_REPEATS
    seed: int = 0

    def check(self) -> None:
        for t in self.tasks:
            if t not in TASKS:
                raise ValueError(f"unknown needle task {t!r}; use {TASKS}")
        for m in self.modalities:
            if m not in MODALITIES:
                raise ValueError(f"unknown needle modality {m!r}; use {MODALITIES}")
        for d in self.depths:
            if not 0.0 <= d <= 1.0:
                raise ValueError(f"depth {d} outside [0, 1]")


@dataclass
class Probe:
    task: str
    sentences: list[str]        # needles, in order of appearance
    depths: list[float]
    question: str
    answer: str
    answer_format: str


def make_probe(task: str, depth: float, rng: random.Random) -> Probe:
    if task == "retrieval":
        c, o, n = rng.choice(_COLORS), rng.choice(_OBJECTS), rng.randint(1000, 9999)
        return Probe(task, [f"The secret number of the {c} {o} is {n}."], [depth],
                     f"What is the secret number of the {c} {o}? Answer with the number only.", str(n), "Integer")
    if task == "counting":
        item = rng.choice(_ITEMS)
        counts = [rng.randint(2, 9) for _ in range(3)]
        ds_ = [depth + k * (1.0 - depth) / 3 for k in range(3)]
        return Probe(task, [f"The little penguin counted {n} {item}s." for n in counts], ds_,
                     f"The little penguin counted {item}s several times in the document. List the numbers it counted, "
                     f"in order of appearance, like [1, 2, 3].", json.dumps(counts), "List")
    if task == "reasoning":
        a, b = rng.sample(_NAMES, 2)
        x, y = rng.randint(10, 60), rng.randint(10, 60)
        return Probe(task, [f"{a} keeps {x} silver coins in a box.", f"{b} keeps {y} silver coins in a box."],
                     [depth, depth + (1.0 - depth) / 2], f"How many silver coins do {a} and {b} keep together? "
                     "Answer with the number only.", str(x + y), "Integer")
    raise ValueError(f"unknown needle task {task!r}")


def render_on_page(jpeg: bytes, sentence: str) -> bytes:
    """The sentence drawn in a framed box across the middle of the page image (same pixel size)."""
    im = Image.open(io.BytesIO(jpeg)).convert("RGB")
    draw = ImageDraw.Draw(im)
    size = max(12, im.width // 32)
    font = ImageFont.load_default(size=size)
    words, lines, cur = sentence.split(), [], ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if draw.textlength(trial, font=font) > im.width * 0.8 and cur:
            lines.append(cur)
            cur = w
        else:
            cur = trial
    lines.append(cur)
    h = int(len(lines) * size * 1.4 + size)
    top = im.height // 2 - h // 2
    draw.rectangle([im.width * 0.05, top, im.width * 0.95, top + h], fill="white", outline="black", width=3)
    for i, ln in enumerate(lines):
        draw.text((im.width * 0.1, top + size // 2 + i * size * 1.4), ln, fill="black", font=font)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _page_jpeg(store: PageStore, doc_id: str, page: int) -> bytes:
    t = store.read_pages([doc_id], ["page", "image"])
    t = t.filter(pa.compute.equal(t.column("page"), page)).select(["image"])
    if t.num_rows == 0:
        raise KeyError(f"page {doc_id[:12]}:{page} not in store")
    return t.column("image")[0].as_py()


def haystack(cat: PageCatalog, budget: int, rng: random.Random) -> list[dict]:
    """Whole store pages, documents in random order (reused only when the store runs out), within budget."""
    ids = sorted(cat.docs)
    if not ids:
        raise ValueError("the page store has no documents for a haystack")
    out, used, misses = [], 0, 0
    min_cost = min(c for d in cat.docs.values() for c in d.costs)
    while budget - used >= min_cost and misses < 200:
        order = ids[:]
        rng.shuffle(order)
        for doc_id in order:
            d = cat.docs[doc_id]
            for i, c in enumerate(d.costs):
                if used + c <= budget:
                    out.append(d.item(i))
                    used += c
                    misses = 0
                else:
                    misses += 1
                if budget - used < min_cost or misses >= 200:
                    return out
    return out


def _insert_index(costs: list[int], depth: float) -> int:
    total, acc = sum(costs), 0
    for i, c in enumerate(costs):
        if acc >= depth * total:
            return i
        acc += c
    return len(costs)


def build_probe(cat: PageCatalog, store: PageStore, out: str | Path, probe: Probe, modality: str, target: int,
                hay: list[dict], rep: int) -> EvalInstance:
    context = [dict(h) for h in hay]
    costs = [cat.item_cost(c) for c in context]
    if modality == "text":
        idx = [_insert_index(costs, d) for d in probe.depths]   # on the haystack, needles in order
        for k, (i, s) in enumerate(zip(idx, probe.sentences)):
            context.insert(i + k, {"text": f"\n{s}\n"})
    else:
        taken: list[int] = []
        for d in probe.depths:
            i = min(_insert_index(costs, d), len(context) - 1)
            free = [j for j in range(len(context)) if j not in taken]
            if not free:
                raise ValueError(f"haystack at {target} tokens has too few pages for {len(probe.sentences)} needles")
            taken.append(i if i in free else min(free, key=lambda j: (abs(j - i), -j)))
        for i, s in zip(sorted(taken), probe.sentences):   # pages in order keep the needles in order
            page = context[i]
            img = render_on_page(_page_jpeg(store, page["doc_id"], page["page"]), s)
            name = "assets/" + hashlib.sha256(img).hexdigest()[:20] + ".jpg"
            storage.makedirs(storage.join(out, "assets"))
            storage.write_bytes(storage.join(out, name), img)   # committed whole (local: tmp, fsync, rename)
            context[i] = {"asset": name, "width": page["width"], "height": page["height"],
                          "from": [page["doc_id"], page["page"]]}
    n = cat.count(context, probe.question)
    while n > target:  # text needles may merge with neighbours: drop haystack pages from the end
        for j in range(len(context) - 1, -1, -1):
            if "doc_id" in context[j]:
                context.pop(j)
                break
        n = cat.count(context, probe.question)
    first = next(j for j, c in enumerate(context) if "asset" in c or "text" in c)
    before = sum(cat.item_cost(c) for c in context[:first])
    total = sum(cat.item_cost(c) for c in context) or 1
    return EvalInstance(
        instance_id=f"niah-{modality}-{probe.task}-{target}-d{probe.depths[0]:.2f}-r{rep}",
        dataset=f"niah-{modality}", question=probe.question, answer=probe.answer,
        answer_format=probe.answer_format, target_length=target, n_tokens=n, depth=round(probe.depths[0], 4),
        context=context, kind="needle", task=probe.task, max_pixels=cat.max_pixels,
        evidence_sources=[f"actual_depth={before / total:.4f}"])


def build_needles(cat: PageCatalog, store: PageStore, out: str | Path, cfg: NeedleConfig, progress: bool = True,
                  model_ref: str | None = None, exclusion: str | Path | None = None) -> dict:
    from ..run.outdir import claim

    cfg.check()
    with claim(out, "eval-set", "eval needles"):   # one writer; never into a folder of another kind
        return _build_needles(cat, store, out, cfg, progress, model_ref, exclusion)


def _build_needles(cat: PageCatalog, store: PageStore, out: str | Path, cfg: NeedleConfig, progress: bool = True,
                   model_ref: str | None = None, exclusion: str | Path | None = None) -> dict:
    from rich.progress import track

    cfg.check()
    out = storage.normalize(out)   # a local folder or a URL (written through mmprolong.storage)
    storage.makedirs(out)
    insts: list[EvalInstance] = []
    jobs = [(L, r, t, m, d) for L in cfg.lengths for r in range(cfg.repeats) for t in cfg.tasks
            for m in cfg.modalities for d in cfg.depths]
    hays: dict = {}
    for L, r, t, m, d in (track(jobs, description="building needles") if progress else jobs):
        probe = make_probe(t, d, random.Random(f"{cfg.seed}:{L}:{r}:{t}"))
        reserve = sum(cat.counter.count_text(f"\n{s}\n") for s in probe.sentences) if m == "text" else 0
        key = (L, r, t, m)
        if key not in hays:
            hays[key] = haystack(cat, L - cat.overhead(probe.question) - reserve - 8,
                                 random.Random(f"{cfg.seed}:hay:{L}:{r}"))
        insts.append(build_probe(cat, store, out, probe, m, L, hays[key], r))
    manifest = {"kind": "needles", "mmprolong": __version__, "model": cat.counter.name, "model_ref": model_ref,
                "counter": cat.counter.fingerprint(), "max_pixels": cat.max_pixels,
                "prompt": cat.prompt.model_dump(), "config": cfg.model_dump(),
                "images": "haystack pages referenced by (doc_id, page); needle pages in assets/"}
    if exclusion:
        from .exclusion import add_to_exclusion
        used = {c["doc_id"] for i in insts for c in i.context if "doc_id" in c}
        used |= {c["from"][0] for i in insts for c in i.context if "from" in c}
        manifest["exclusion_added"] = add_to_exclusion(exclusion, used)
    write_instances(out, insts, manifest)
    return manifest
