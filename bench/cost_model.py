"""Cost model for the paper's pool (docs/COST.md), from measured per-unit figures.

    PYTHONPATH=$PWD/src python bench/cost_model.py measure   # ~2 min: the per-request token counts and attempt
                                                            # rates -> bench/results/cost_inputs.json
    PYTHONPATH=$PWD/src python bench/cost_model.py           # docs/COST.md from the inputs (seconds)

`measure` makes the demo corpus (4 seeds x 6 documents), ingests it at 144 DPI (local executor) and builds the paper
recipe (recipes/paper-qwen2.5-vl-7b.yaml) over it with the offline rules generator in place of the teacher and the
budget lifted. For every generation attempt of that build (kept and rejected items: one teacher request each, as the
paper's teacher writes ONE pair per request) it renders the request the openai generator would send
(`OpenAIGenerator.messages`: the segment's page images at 144 DPI, "Page N" labels, system prompt, task
instruction) and the verifier's requests (`Verifier.evidence_messages`, `closed_book_messages`), and counts them with
the project's one token counter (Qwen2.5-VL processor: the 72B teacher's too). Completion tokens: the pair as the
JSON object the prompt asks for.

The report step reads those inputs, the repo's other measured results (bench/results/ingest.md,
bench/results/scaleout/*.json, bench/results/ocr.md) and the paper's figures (docs/PAPER.md, copied below
with their source), and writes every table of docs/COST.md.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "bench" / "results" / "cost_inputs.json"
DOC = ROOT / "docs" / "COST.md"
SCALEOUT = ROOT / "bench" / "results" / "scaleout"

# ---- inputs that are not measured here: (value, source) -------------------------------------------------------
PAPER = {
    "pool_pdfs": (1_537_504, "docs/PAPER.md (Data: pool)"),
    "pool_pages": (36_600_000, "docs/PAPER.md (Data: pool, 36.6M pages)"),
    "pool_jpeg_bytes": (7e12, "estimate, not a paper figure: the pool's 36.6M pages (docs/PAPER.md) x about "
                              "190 KB a 144-DPI page JPEG"),
    "tokens_per_page_paper": (2_200, "docs/PAPER.md (about 2.2K tokens a page at 144 DPI)"),
    "instance_tokens_paper": (85_300, "docs/PAPER.md (pool-native: avg 85.3K tokens)"),
    "instances_paper": (177_774, "docs/PAPER.md (pool-native: 177,774 instances)"),
    "budget_tokens": (5_000_000_000, "recipes/paper-qwen2.5-vl-7b.yaml (budget_tokens: 5.0e9)"),
    "per_document": (1, "recipes/paper-qwen2.5-vl-7b.yaml (per_document: 1)"),
}
MEASURED_ELSEWHERE = {
    "ingest_pages_per_cpu_s": (68.8, "bench/results/ingest.md, Debian PDFs (34 real PDFs, 624 pages), `ingest` "
                                     "end to end, 1 worker, CPU of every process"),
    "ingest_pages_per_cpu_s_demo": (89.1, "bench/results/ingest.md, demo corpus 48 documents, 1 worker"),
    "ocr_pages_per_core_s": (0.067, "bench/results/ocr.md, tesseract, measured at load average 14 on 2 cores "
                                    "(an idle core is several times faster)"),
}
ASSUMED = {
    "cores_per_node": (64, "assumed node size (nodes of 64 cores)"),
    "ocr_share": (0.0, "assumed: share of pages without a usable text layer (OCR'd by --ocr auto); 0 for "
                       "born-digital PDFs, see the sensitivity row"),
    "json_retries_per_request": (0.0, "assumed: extra teacher requests for malformed JSON (needs a real teacher)"),
}
NODES = (1, 8, 32, 128)


# ============================================================================================================
# measure
# ============================================================================================================

def _image_part(part: dict) -> dict:
    """An OpenAI image_url part as the counter's {"type": "image", width, height} (pixel size from the JPEG)."""
    from PIL import Image

    data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
    return {"type": "image", "width": w, "height": h}


def _countable(messages: list[dict]) -> list[dict]:
    out = []
    for m in messages:
        c = m["content"]
        if isinstance(c, list):
            c = [_image_part(p) if p.get("type") == "image_url" else p for p in c]
        out.append({"role": m["role"], "content": c})
    return out


def _reply_json(row: dict) -> str:
    """The pair as the teacher's JSON reply (prompts.SYSTEM's object; reasoning adds its calculation)."""
    obj = {"question": row["question"], "answer": row["answer"], "answer_format": row["answer_format"],
           "evidence": row.get("evidence") or "", "evidence_pages": [int(p) + 1 for p in row["evidence_pages"]],
           "evidence_sources": list(row.get("evidence_sources") or [])}
    calc = row.get("calculation") or row.get("calc")
    if calc:
        obj["calculation"] = calc
    return json.dumps(obj, ensure_ascii=False)


def attempts(kept: list[dict], rejected: list[dict]) -> dict:
    """Teacher requests of a build, by what came of them. One request per attempt: every kept pair and every
    rejected one, except a slot's surplus (a second pair of the same request). "mix" left-outs (the quota holding
    the task shares, early in a build) were paid for but are no failure of the attempt."""
    reasons: dict[str, int] = {}
    for r in rejected:
        why = str(r["reason"])
        key = why if why.startswith("verify") else why.split(":")[0]
        reasons[key] = reasons.get(key, 0) + 1
    mix, surplus = reasons.get("mix", 0), reasons.get("surplus", 0)
    failed = len(rejected) - mix - surplus
    good = len(kept) + mix
    return {"kept": len(kept), "mix": mix, "surplus": surplus, "failed_attempts": failed,
            "requests": good + failed, "requests_per_success": (good + failed) / max(good, 1),
            "rejected_by_reason": dict(sorted(reasons.items()))}


def measure(work: Path, seeds: int) -> dict:
    import pyarrow.parquet as pq

    from mmprolong.corpus.ingest import IngestConfig, ingest
    from mmprolong.corpus.store import PageStore
    from mmprolong.dataset.build import build
    from mmprolong.demo.corpus import write_demo_corpus
    from mmprolong.recipe import Generator, load_recipe
    from mmprolong.synth.config import GeneratorConfig, VerifyConfig
    from mmprolong.synth.openai_gen import OpenAIGenerator
    from mmprolong.synth.verifier import Verifier

    work.mkdir(parents=True, exist_ok=True)
    pdf_dirs = []
    for seed in range(seeds):
        d = work / "pdfs" / f"seed{seed}"
        if not (d / ".done").exists():
            write_demo_corpus(d, n_docs=6, seed=seed)
            (d / ".done").write_text("")
        pdf_dirs.append(str(d))
    store_dir, out = work / f"store_{seeds}seeds", work / "build"
    if not (store_dir / "manifest.json").exists():
        ingest(pdf_dirs, store_dir, IngestConfig(progress=False))
    recipe = load_recipe("paper-qwen2.5-vl-7b").model_copy(
        update={"generator": Generator(kind="rules"), "budget_tokens": 10**12})
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.monotonic()
    summary = build(recipe, store_dir, out, executor="local", progress=False, report=False)
    build_s = time.monotonic() - t0
    manifest = json.loads((out / "manifest.json").read_text())
    store = PageStore(store_dir)
    smf = store.manifest
    kept = pq.read_table(out / "qa").to_pylist()
    rejected = pq.read_table(out / "rejected").to_pylist() if (out / "rejected").exists() else []
    shards = pq.read_table(out / "shards", columns=["n_tokens", "n_image_tokens"]).to_pylist()

    os.environ["MMPROLONG_COST_MODEL_KEY"] = "unused"   # requests are rendered and counted, never sent
    gen = OpenAIGenerator(GeneratorConfig(kind="openai", model="teacher", api_key_env="MMPROLONG_COST_MODEL_KEY"))
    ver = Verifier(VerifyConfig(kind="openai", model="verifier", api_key_env="MMPROLONG_COST_MODEL_KEY"),
                   page_markers=recipe.page_markers)
    counter = recipe.counter()
    docs: dict = {}

    def doc(doc_id):
        if doc_id not in docs:
            docs[doc_id] = store.document(doc_id)
        return docs[doc_id]

    # one teacher request per attempt: every kept pair and every rejected one except a slot's surplus
    prompt, prompt_img, completion, seg_pages = [], [], [], []
    for r in kept + [r for r in rejected if not str(r["reason"]).startswith("surplus")]:
        if r.get("segment_first") is None:
            continue
        seg = (int(r["segment_first"]), int(r["segment_last"]))
        c = counter.count_messages(_countable(gen.messages(doc(r["doc_id"]), seg, r["task"])),
                                   add_generation_prompt=True)
        prompt.append(c.total)
        prompt_img.append(c.image_tokens)
        seg_pages.append(seg[1] - seg[0] + 1)
        if r.get("question"):
            completion.append(counter.count_text(_reply_json(r)))
    ev, cb, ans = [], [], []
    for r in kept:
        qa = SimpleNamespace(question=r["question"], evidence_pages=list(r["evidence_pages"]))
        ev.append(counter.count_messages(_countable(ver.evidence_messages(qa, doc(r["doc_id"]))),
                                         add_generation_prompt=True).total)
        cb.append(counter.count_messages(ver.closed_book_messages(qa), add_generation_prompt=True).total)
        ans.append(counter.count_text(f"Answer: {r['answer']}"))
    # the demo recipe (3 slots a document, 5 tasks, 4-8 page segments) over the same store: more attempts, so the
    # rules generator's failure and retry rates are better sampled
    demo_out = work / "build_demo"
    shutil.rmtree(demo_out, ignore_errors=True)
    build(load_recipe("demo").model_copy(update={"budget_tokens": 10**12}), store_dir, demo_out, executor="local",
          progress=False, report=False)
    demo_rej = pq.read_table(demo_out / "rejected").to_pylist() if (demo_out / "rejected").exists() else []
    demo_att = attempts(pq.read_table(demo_out / "qa").to_pylist(), demo_rej)
    mean = statistics.fmean
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "corpus": f"demo corpus, seeds 0-{seeds - 1} x 6 documents, ingested at 144 DPI",
        "store_documents": smf["documents"], "store_pages": smf["pages"],
        "store_bytes_on_disk": sum(f.stat().st_size for f in (store_dir / "pages").rglob("*.parquet")),
        "store_image_bytes": sum(len(b or b"") for b in pq.read_table(store_dir / "pages", columns=["image"])
                                 .column("image").to_pylist()),
        "build_seconds": build_s,
        "docs_planned": summary.docs_planned, "docs_done": summary.docs_done,
        "instances": summary.samples, "qa_kept": len(kept), "rejected": len(rejected),
        "attempts": attempts(kept, rejected), "attempts_demo_recipe": demo_att,
        "verifier_usage": manifest.get("verifier_usage") or {},
        "instance_tokens_mean": mean(s["n_tokens"] for s in shards) if shards else 0,
        "instance_image_tokens_mean": mean(s["n_image_tokens"] for s in shards) if shards else 0,
        "segment_pages_mean": mean(seg_pages),
        "teacher_prompt_tokens_mean": mean(prompt), "teacher_prompt_image_tokens_mean": mean(prompt_img),
        "teacher_completion_tokens_mean": mean(completion),
        "teacher_max_tokens": gen.cfg.max_tokens,
        "verifier_evidence_prompt_tokens_mean": mean(ev), "verifier_closed_book_prompt_tokens_mean": mean(cb),
        "verifier_answer_tokens_mean": mean(ans), "verifier_max_tokens": ver.cfg.max_tokens,
    }


# ============================================================================================================
# report
# ============================================================================================================

def _driver(label_file: Path) -> dict | None:
    """Marginal driver CPU per page and per document, smallest -> largest scale, from a scaleout run."""
    if not label_file.exists():
        return None
    m = json.loads(label_file.read_text())
    commit = re.sub(r"\s*\(issue-[\w-]+\)", "", m["commit"])   # a working-branch label means nothing in a clone
    out = {"label": m["label"], "commit": commit, "load_before": m.get("load_before"),
           "load_after": m.get("load_after")}
    for phase in ("ingest", "build"):
        rs = sorted((r for r in m["rows"] if r["phase"] == phase), key=lambda r: r["scale"])
        a, b = rs[0], rs[-1]
        dp = max(b["pages"] - a["pages"], 1)
        # marginal cost (fixed start-up left out); floored at 0, as noise can make a flat driver look cheaper at 8x
        out[phase] = {"cpu_s_per_page": max(0.0, (b["driver_cpu_s"] - a["driver_cpu_s"]) / dp),
                      "cpu_s_per_doc": max(0.0, (b["driver_cpu_s"] - a["driver_cpu_s"])
                                           / max(b["documents"] - a["documents"], 1)),
                      "recv_bytes_per_page": b["stats"]["received_bytes"] / max(b["pages"], 1),
                      "sent_bytes_per_page": b["stats"]["sent_bytes"] / max(b["pages"], 1),
                      "peak_rss_mb": (a["driver_peak_rss_mb"], b["driver_peak_rss_mb"]),
                      "scales": (a["scale"], b["scale"]), "pages": (a["pages"], b["pages"])}
    return out


def _floor(x: dict, pages: float, docs: float) -> float:
    """Driver CPU seconds for the pool: the larger of the per-page and the per-document reading of the same
    measured growth (a driver that handles pages costs per page; one that only schedules documents, per document;
    the pool's documents are shorter than the demo's, 23.8 pages against ~34)."""
    return max(pages * x["cpu_s_per_page"], docs * x["cpu_s_per_doc"])


def _h(x: float) -> str:
    return f"{x:.2f}" if x < 1 else f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def _n(x: float) -> str:
    if x >= 1e12:
        return f"{x / 1e12:,.2f} T"
    if x >= 1e9:
        return f"{x / 1e9:,.2f} B"
    if x >= 1e6:
        return f"{x / 1e6:,.2f} M"
    return f"{x:,.0f}"


def _dedup_lines(docs: int, pages: int, nodes, cores: int, hours: bool = True) -> list[str]:
    """The dedup section (bench/dedup.py `cost_lines`, from bench/results/dedup_scale.json)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_dedup", ROOT / "bench" / "dedup.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.cost_lines(docs, pages, nodes, cores, hours=hours)


def report() -> str:
    m = json.loads(INPUTS.read_text())
    P = {k: v for k, (v, _) in PAPER.items()}
    E = {k: v for k, (v, _) in MEASURED_ELSEWHERE.items()}
    A = {k: v for k, (v, _) in ASSUMED.items()}
    runs = {p.stem: _driver(p) for p in sorted(SCALEOUT.glob("*.json"))}
    L: list[str] = []
    w = L.append
    w("# Cost model: the paper's pool on a cluster")
    w("")
    w("Generated by `PYTHONPATH=$PWD/src python bench/cost_model.py` from `bench/results/cost_inputs.json` "
      "(`bench/cost_model.py measure`), the scale-out runs in `bench/results/scaleout/*.json` "
      "(`bench/scaleout.py`) and the figures below; edit the script, not this file. Every result is a formula over "
      "the inputs of section 1; nothing is estimated by hand.")
    w("")
    w("## 1. Inputs")
    w("")
    w("| input | value | source |")
    w("|---|---:|---|")
    for k, (v, src) in {**PAPER, **MEASURED_ELSEWHERE, **ASSUMED}.items():
        w(f"| `{k}` | {v:,} | {src} |")
    meas = [
        ("store_pages", m["store_pages"], "pages of the measuring store"),
        ("jpeg_bytes_per_page_demo", m["store_image_bytes"] / m["store_pages"], "page JPEG bytes / pages (demo)"),
        ("store_bytes_per_page_demo", m["store_bytes_on_disk"] / m["store_pages"],
         "pages/*.parquet bytes on disk / pages (JPEG + text + Parquet)"),
        ("requests_per_success", m["attempts"]["requests_per_success"],
         f"teacher requests per slot filled, paper recipe: {m['attempts']['requests']:,} requests (attempts: kept + "
         f"rejected, no surplus) / {m['attempts']['kept'] + m['attempts']['mix']:,} pairs that passed every check "
         f"({m['attempts']['kept']} kept + {m['attempts']['mix']} left out for the mix)"),
        ("requests_per_success_demo_recipe", m["attempts_demo_recipe"]["requests_per_success"],
         f"the same for the demo recipe on the same store: {m['attempts_demo_recipe']['requests']:,} requests / "
         f"{m['attempts_demo_recipe']['kept'] + m['attempts_demo_recipe']['mix']:,}; failed attempts by reason: "
         + (", ".join(f"{k} {v}" for k, v in m["attempts_demo_recipe"]["rejected_by_reason"].items()
                      if k not in ("mix", "surplus")) or "none")),
        ("segment_pages_mean", m["segment_pages_mean"], "pages shown per teacher request (recipe: 8-15)"),
        ("teacher_prompt_tokens_mean", m["teacher_prompt_tokens_mean"],
         "tokens of one teacher request (images + prompt), Qwen2.5-VL counter"),
        ("teacher_prompt_image_tokens_mean", m["teacher_prompt_image_tokens_mean"], "of which image tokens"),
        ("teacher_completion_tokens_mean", m["teacher_completion_tokens_mean"],
         "tokens of the reply JSON (the kept and rejected pairs)"),
        ("teacher_max_tokens", m["teacher_max_tokens"], "upper bound of a reply (generator.max_tokens)"),
        ("verifier_evidence_prompt_tokens_mean", m["verifier_evidence_prompt_tokens_mean"],
         "verifier `evidence` request (evidence pages + question)"),
        ("verifier_closed_book_prompt_tokens_mean", m["verifier_closed_book_prompt_tokens_mean"],
         "verifier `closed_book` request (question only)"),
        ("verifier_answer_tokens_mean", m["verifier_answer_tokens_mean"],
         "\"Answer: ...\" (lower bound of a verifier reply; upper: verify.max_tokens "
         f"{m['verifier_max_tokens']})"),
        ("instance_tokens_mean_demo", m["instance_tokens_mean"], "mean n_tokens of the built instances"),
    ]
    w("")
    w(f"Measured by `bench/cost_model.py measure` ({m['date']}; {m['corpus']}: {m['store_documents']} documents, "
      f"{m['store_pages']:,} pages; the paper recipe with the rules generator in place of the teacher, budget "
      f"lifted; {m['docs_done']} documents built of {m['docs_planned']} planned (pool-native keeps 32-50 pages), "
      f"{m['instances']} instances; rejections by reason: "
      + (", ".join(f"{k} {v}" for k, v in m["attempts"]["rejected_by_reason"].items()) or "none") + "):")
    w("")
    w("| input | value | how |")
    w("|---|---:|---|")
    for k, v, how in meas:
        w(f"| `{k}` | {v:,.1f} | {how} |" if isinstance(v, float) else f"| `{k}` | {v:,} | {how} |")
    for name, d in runs.items():
        if not d:
            continue
        for phase in ("ingest", "build"):
            x = d[phase]
            w(f"| `driver_cpu_s_per_page_{phase}_{name}` | {x['cpu_s_per_page'] * 1000:.3f} ms | "
              f"bench/results/scaleout/{name}.json (commit {d['commit']}): driver CPU growth "
              f"{x['scales'][0]}x -> {x['scales'][1]}x / page growth ({x['pages'][0]:,} -> {x['pages'][1]:,} pages) |")
            w(f"| `driver_cpu_s_per_doc_{phase}_{name}` | {x['cpu_s_per_doc'] * 1000:.1f} ms | same growth per "
              f"document |")
            w(f"| `driver_bytes_per_page_{phase}_{name}` | {(x['recv_bytes_per_page'] + x['sent_bytes_per_page']) / 1024:,.1f} KiB | "
              f"same run: pickled bytes sent + received by the driver per page at {x['scales'][1]}x |")

    # ---- ingest ----------------------------------------------------------------------------------------------
    pages, rate, cores = P["pool_pages"], E["ingest_pages_per_cpu_s"], A["cores_per_node"]
    core_s = pages / rate + pages * A["ocr_share"] / E["ocr_pages_per_core_s"]
    w("")
    w("## 2. Formulas")
    w("")
    w("- ingest core-hours = `pool_pages / ingest_pages_per_cpu_s / 3600` (+ `pool_pages * ocr_share / "
      "ocr_pages_per_core_s / 3600` when pages need OCR)")
    w("- ingest hours on n nodes (workers only) = core-hours / (n * `cores_per_node`)")
    w("- driver floor (hours) = max(`pool_pages * driver_cpu_s_per_page_ingest`, `pool_pdfs * "
      "driver_cpu_s_per_doc_ingest`) / 3600: the driver's own CPU (its measured growth from the smallest to the "
      "largest scale, read per page and per document), which no node count divides; wall hours >= max(workers, "
      "driver floor)")
    w("- store bytes = `pool_pages * jpeg_bytes_per_page` (the paper's 7 TB gives its own bytes per page)")
    w("- instances for the budget = `budget_tokens / instance_tokens_paper`; documents = instances / "
      "`per_document`")
    w("- teacher requests = instances * `requests_per_success` * (1 + `json_retries_per_request`) (mix left-outs "
      "are instances left out to hold the task mix (dataset/quota.py): few when the generator makes every task at its planned rate, many when one task is scarce; see bench/results/mix_real.md)")
    w("- teacher prompt tokens = teacher requests * `teacher_prompt_tokens_mean`; completion = teacher requests * "
      "`teacher_completion_tokens_mean` (upper bound: * `teacher_max_tokens`)")
    w("- verifier requests (checks evidence + closed_book, the recipe's default when `verify:` is on) = 2 * pairs "
      "that reach the model checks; here every pair the rule checks pass, <= teacher requests; taken as "
      "instances * `requests_per_success` (an upper bound: rule-rejected pairs are never sent)")
    w("- verifier prompt tokens = verifier requests / 2 * (`verifier_evidence_prompt_tokens_mean` + "
      "`verifier_closed_book_prompt_tokens_mean`)")
    w("")
    w("## 3. Results")
    w("")
    w("### Ingest of the pool (36.6M pages)")
    w("")
    w(f"Worker CPU: {core_s / 3600:,.0f} core-hours at {rate} pages per CPU-second (real Debian PDFs; "
      f"{pages / E['ingest_pages_per_cpu_s_demo'] / 3600:,.0f} at the demo corpus' {E['ingest_pages_per_cpu_s_demo']}).")
    w("")
    head = "| nodes x cores | workers only, hours |"
    sep = "|---|---:|"
    for name, d in runs.items():
        if d:
            head += f" driver floor, {name} ({d['commit'].split()[0]}), hours | wall >= ({name}), hours |"
            sep += "---:|---:|"
    w(head)
    w(sep)
    for n in NODES:
        hrs = core_s / 3600 / (n * cores)
        row = f"| {n} x {cores} | {_h(hrs)} |"
        for name, d in runs.items():
            if d:
                floor = _floor(d["ingest"], pages, P["pool_pdfs"]) / 3600
                row += f" {_h(floor)} | {_h(max(hrs, floor))} |"
        w(row)
    w("")
    for name, d in runs.items():
        if d:
            floor = _floor(d["ingest"], pages, P["pool_pdfs"])
            cores_eq = (f"it matches the workers of {(pages / rate) / floor:,.0f} cores; beyond that, more nodes do "
                        "not shorten the run" if floor > 0 else "no measurable growth with the corpus")
            w(f"- {name}: the driver's CPU alone is {floor / 3600:,.1f} h for the pool "
              f"({d['ingest']['cpu_s_per_page'] * 1000:.2f} ms a page, {d['ingest']['cpu_s_per_doc'] * 1000:.1f} ms "
              f"a document): {cores_eq}. It also moves "
              f"{pages * (d['ingest']['recv_bytes_per_page'] + d['ingest']['sent_bytes_per_page']) / 1e12:,.2f} TB "
              f"of pickled pages through one process.")
    loads = "; ".join(f"{name}: load average {d.get('load_before', float('nan')):.1f} before, "
                      f"{d.get('load_after', float('nan')):.1f} after" for name, d in sorted(runs.items()))
    w("- Caveat: the driver floors come from the growth of the driver's CPU between the smallest and the largest "
      f"scale on a 2-core machine ({loads}); a growth under a second or two is near its noise. "
      "Rerun `bench/scaleout.py` with larger `--scales` (or on the cluster itself) for a firmer floor.")
    ocr10 = pages * 0.10 / E["ocr_pages_per_core_s"] / 3600
    w(f"- Sensitivity: if 10% of the pages needed OCR, tesseract at the measured {E['ocr_pages_per_core_s']} pages/s "
      f"per core adds {ocr10:,.0f} core-hours ({ocr10 / (core_s / 3600):,.0f} x the rendering), i.e. "
      f"{ocr10 / (128 * cores):,.1f} h on 128 x {cores} cores: OCR, not rendering, would set the bill (and the "
      f"OCR figure was taken on a loaded machine).")
    w("")
    w("### Storage")
    w("")
    jp_demo = m["store_image_bytes"] / m["store_pages"]
    disk_demo = m["store_bytes_on_disk"] / m["store_pages"]
    w("| bytes per page from | per page | pool (36.6M pages) |")
    w("|---|---:|---:|")
    w(f"| the paper (7 TB / 36.6M pages) | {P['pool_jpeg_bytes'] / pages / 1024:,.0f} KiB | "
      f"{P['pool_jpeg_bytes'] / 1e12:,.1f} TB |")
    w(f"| demo store, JPEG only | {jp_demo / 1024:,.0f} KiB | {pages * jp_demo / 1e12:,.1f} TB |")
    w(f"| demo store, Parquet on disk (JPEG + text) | {disk_demo / 1024:,.0f} KiB | {pages * disk_demo / 1e12:,.1f} TB |")
    w("")
    w("The demo pages (generated reports, much white space) compress better than the pool's; plan with the "
      "paper's figure. A build writes each kept instance's pages again into its shards (instances x pages).")
    w("")
    # ---- teacher / verifier ------------------------------------------------------------------------------------
    inst = P["budget_tokens"] / P["instance_tokens_paper"]
    att, att_demo = m["attempts"], m["attempts_demo_recipe"]
    per_inst = att["requests_per_success"] * (1 + A["json_retries_per_request"])
    w("### Teacher and verifier for the paper recipe")
    w("")
    w(f"Requests per instance, measured: **{per_inst:.2f}** with the paper recipe ({att['requests']:,} requests "
      f"for {att['kept'] + att['mix']:,} pairs), {att_demo['requests_per_success']:.2f} with the demo recipe "
      f"({att_demo['requests']:,} requests for {att_demo['kept'] + att_demo['mix']:,}). Both with the rules "
      "generator: a teacher's own failure rate (bad JSON, rule checks, verifier disagreement) adds to this and is "
      "known only once one runs (its rejections by reason are in a real build's report); each 10% of failed "
      "attempts adds about 0.11 requests per instance (1 / 0.9).")
    w("")
    w("| what | for the 5B-token budget | for the paper's 177,774 instances |")
    w("|---|---:|---:|")

    def row(what, f):
        w(f"| {what} | {f(inst)} | {f(P['instances_paper'])} |")

    row("instances (= documents, 1 per document)", lambda i: f"{i:,.0f}")
    row("teacher requests", lambda i: f"{i * per_inst:,.0f}")
    mix_rate = att["mix"] / max(att["kept"] + att["mix"], 1)
    row(f"teacher requests if the measured mix left-out rate ({mix_rate:.0%}) held at scale",
        lambda i: f"{i * per_inst / (1 - mix_rate):,.0f}")
    row("teacher prompt tokens", lambda i: _n(i * per_inst * m["teacher_prompt_tokens_mean"]))
    row("  of which image tokens", lambda i: _n(i * per_inst * m["teacher_prompt_image_tokens_mean"]))
    row("teacher completion tokens (JSON reply)", lambda i: _n(i * per_inst * m["teacher_completion_tokens_mean"]))
    row("teacher completion tokens, upper bound (max_tokens)", lambda i: _n(i * per_inst * m["teacher_max_tokens"]))
    row("verifier requests (evidence + closed_book)", lambda i: f"{2 * i * per_inst:,.0f}")
    row("verifier prompt tokens", lambda i: _n(i * per_inst * (m["verifier_evidence_prompt_tokens_mean"]
                                                               + m["verifier_closed_book_prompt_tokens_mean"])))
    row("verifier completion tokens (\"Answer: ...\" only)",
        lambda i: _n(2 * i * per_inst * m["verifier_answer_tokens_mean"]))
    row("verifier `instance` check, if on: prompt tokens (1 request per kept pair)",
        lambda i: _n(i * P["instance_tokens_paper"]))
    row("pages read by the build's workers (instances x pages)",
        lambda i: _n(i * P["instance_tokens_paper"] / P["tokens_per_page_paper"]))
    w("")
    w(f"Per teacher request: {m['segment_pages_mean']:.1f} pages, {m['teacher_prompt_tokens_mean']:,.0f} prompt "
      f"tokens ({m['teacher_prompt_image_tokens_mean']:,.0f} of them image tokens: "
      f"{m['teacher_prompt_image_tokens_mean'] / m['segment_pages_mean']:,.0f} a page at 144 DPI on the demo's A4 and "
      f"Letter pages, vs the paper's ~2.2K average; the generator's `image_max_pixels` unset, so pages go at full "
      f"144 DPI), {m['teacher_completion_tokens_mean']:,.0f} completion tokens (reasoning replies also carry a "
      "`calculation` object, not stored in the QA table, so not counted). "
      f"Our instance is {m['instance_tokens_mean']:,.0f} tokens on the demo corpus (paper 85.3K).")
    w("")
    for name, d in runs.items():
        if d:
            b = d["build"]
            pages_read = inst * P["instance_tokens_paper"] / P["tokens_per_page_paper"]
            w(f"- build driver, {name}: {b['cpu_s_per_page'] * 1000:.2f} ms of driver CPU per page read -> "
              f"{pages_read * b['cpu_s_per_page'] / 3600:,.1f} h for the 5B-token build's pages; "
              f"{pages_read * (b['recv_bytes_per_page'] + b['sent_bytes_per_page']) / 1e12:,.2f} TB through the driver.")
    w("")
    scale_path = ROOT / "bench" / "results" / "scale.json"
    scale = json.loads(scale_path.read_text()) if scale_path.exists() else []
    has_dedup = any(r.get("step", "").startswith("dedup") and "error" not in r for r in scale)
    L += _dedup_lines(P["pool_pdfs"], P["pool_pages"], NODES, A["cores_per_node"], hours=not has_dedup)
    if scale:   # corpus-wide steps: bench/scale.py
        sys.path.insert(0, str(ROOT / "bench"))
        from scale import cost_lines
        L += cost_lines(scale, P["pool_pdfs"], P["pool_pages"], A["cores_per_node"]) + [""]
    w("## 4. What this leaves out")
    w("")
    w("- GPU-hours of the teacher: they depend on the serving stack (tokens/s of a 72B VLM on the user's GPUs); "
      "multiply the token rows above by the measured throughput of that stack.")
    w("- The teacher's own rejection rate (bad JSON, failed rule checks, verifier disagreement): measured here "
      "with the rules generator only; rerun `measure` on a build with a real teacher's output folder to replace it.")
    w("- Shared-storage bandwidth: workers that read and write their own parts move the page bytes over the "
      "storage network instead of the driver's; size it from the storage rows above.")
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", nargs="?", default="report", choices=("measure", "report"))
    p.add_argument("--work", default="/tmp/mmprolong-cost", help="scratch folder for measure (default %(default)s)")
    p.add_argument("--seeds", type=int, default=8, help="demo corpus seeds x 6 documents (default %(default)s)")
    args = p.parse_args(argv)
    if args.step == "measure":
        inputs = measure(Path(args.work), args.seeds)
        INPUTS.write_text(json.dumps(inputs, indent=1))
        print(f"wrote {INPUTS.relative_to(ROOT)}")
    DOC.write_text(report())
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    if "src" not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
