"""`mmprolong eval ...`: build eval sets at exact lengths, needles, run backends, score, report, import MMLongBench.
Parses and wires only; the work is in mmprolong.eval."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..units import length_arg, parse_lengths

LENGTHS_HELP = "comma-separated token lengths, e.g. 8K,16K,32K,64K,128K,256K,512K"


def _lengths(s: str | None) -> list[int] | None:
    return parse_lengths(s)


def _floats(s: str) -> list[float]:
    try:
        return [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"bad number list {s!r}") from None


def _prompt(args, preset: str = "mmlongbench"):
    from ..eval.prompt import PRESETS, PromptConfig

    preset = getattr(args, "preset", None) or preset
    if preset not in PRESETS:
        raise ValueError(f"unknown --preset {preset!r}; use one of {', '.join(PRESETS)}")
    data = dict(PRESETS[preset])
    if args.prompt:
        p = Path(args.prompt)
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such prompt file")
        if p.suffix in (".yaml", ".yml"):
            import yaml
            data.update(yaml.safe_load(p.read_text()) or {})
        else:
            data.update(json.loads(p.read_text()))
    if args.page_label:
        data["page_label"] = args.page_label
    return PromptConfig(**data)


def _counting_args(p) -> None:
    p.add_argument("--store", required=True, metavar="STORE",
                   help="page store with the documents (from ingest; a folder or a URL)")
    p.add_argument("--out", required=True, metavar="SET",
                   help="eval-set folder to write (or an fsspec URL, e.g. s3://bucket/sets/v1)")
    p.add_argument("--model", default="qwen2.5-vl",
                   help="whose tokens to count: a preset (qwen2.5-vl, qwen3-vl) or a local model folder "
                        "(default %(default)s)")
    p.add_argument("--max-pixels", type=int, default=None, help="per-image pixel budget (default: the model's)")
    p.add_argument("--lengths", default="8K,16K,32K,64K,128K,256K,512K", help=LENGTHS_HELP + " (default: all)")
    p.add_argument("--seed", type=int, default=0, help="negative-document and depth choice seed (default %(default)s)")
    p.add_argument("--preset", default=None, choices=("mmlongbench", "niah", "legacy"),
                   help="prompt layout (default: mmlongbench for build, niah for needles: MMLongBench's prompts)")
    p.add_argument("--prompt", default=None, metavar="FILE",
                   help="prompt settings over the preset (JSON/YAML: instruction, header, page_label, template, "
                        "system, include_page_text)")
    p.add_argument("--page-label", default=None,
                   help='text before each page, e.g. "Page {index}:" (default: the preset\'s, "\\n\\nDocument '
                        '{doc:.15}: " for mmlongbench)')
    p.add_argument("--exclude-out", default=None, metavar="FILE",
                   help="add every document used to this exclusion list (sha256 per line) for ingest/synthesis")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate models at 8K-512K: build sets, needles, run, score, report",
                       description="Long-document VQA at exact token lengths, needles, backends, scorers, reports.")
    s = p.add_subparsers(dest="eval_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    b = s.add_parser("build", help="build QA instances at exact lengths (pad with negatives / window the evidence)",
                     description="Each QA item at each length: a shorter gold document is padded alternately left and "
                                 "right with random negative documents; a longer one keeps a page window around the "
                                 "evidence. n_tokens is exact (whole prompt as sent) and never above the target.")
    b.add_argument("--qa", action="append", required=True, metavar="FILE",
                   help="QA file(s), paths or URLs: JSONL/JSON with doc_id, question, answer, answer_format, "
                        "evidence_pages (0-based), or synthesis Parquet (repeatable; one dataset per file unless "
                        "rows say)")
    b.add_argument("--dataset", action="append", default=None, help="dataset name per --qa (default: file stem)")
    b.add_argument("--limit", type=int, default=None, help="first N items per QA file (the paper: 100)")
    _counting_args(b)
    b.set_defaults(func=cmd_build)

    n = s.add_parser("needles", help="needle-in-a-haystack suite over page images (length x depth)",
                     description="A needle (an image drawn onto a page, or a text line between pages) is placed at "
                                 "each depth of a haystack of store pages at each exact length; retrieval, counting "
                                 "and reasoning probes, scored as MMLongBench scores them. Writes an eval set for "
                                 "`eval run`.")
    _counting_args(n)
    n.add_argument("--depths", default="0,0.25,0.5,0.75,1", help="needle depths in [0, 1] (default %(default)s)")
    n.add_argument("--tasks", default="retrieval,counting,reasoning", help="(default %(default)s)")
    n.add_argument("--modalities", default="image,text", help="image: rendered on a page; text: between pages")
    n.add_argument("--repeats", type=int, default=10,
                   help="probes per cell (default %(default)s: a cell's 95%% interval is about +-31 points at 50%%, "
                        "+-19 at 90%%)")
    n.set_defaults(func=cmd_needles)

    r = s.add_parser("run", help="answer an eval set with a backend (resumable)",
                     description="Writes RUN/predictions.jsonl one answer at a time; run again to resume "
                                 "(failed instances are retried, finished ones kept).")
    r.add_argument("set", metavar="SET", help="eval-set folder or URL (from eval build / eval needles)")
    r.add_argument("--store", default=None, metavar="STORE",
                   help="page store the set's pages come from (a folder or a URL)")
    r.add_argument("--out", required=True, metavar="RUN",
                   help="run folder (created or resumed; local: predictions are appended per answer)")
    r.add_argument("--backend", choices=("openai", "hf"), required=True,
                   help="openai: any OpenAI-compatible server (vLLM, SGLang); hf: a local transformers model")
    r.add_argument("--limit", type=int, default=None, help="first N instances per length")
    r.add_argument("--lengths", default=None, help="only these lengths (" + LENGTHS_HELP + ")")
    r.add_argument("--max-new-tokens", type=int, default=None, help="default: 256 (openai), 128 (hf)")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    o = r.add_argument_group("openai backend")
    o.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    o.add_argument("--served-model", help="model name on the server")
    o.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable with the API key")
    o.add_argument("--concurrency", type=int, default=4,
                   help="requests in flight; raise it until the server is busy (default %(default)s)")
    o.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                   help="limit for one whole request (default %(default)s)")
    o.add_argument("--retries", type=int, default=3,
                   help="retries of a failed request before it is recorded as an error (default %(default)s)")
    o.add_argument("--tokenizer", default=None,
                   help="TokenCounter for image sizing (preset or folder; default: the set's model)")
    h = r.add_argument_group("hf backend")
    h.add_argument("--model-path", help="local transformers model folder")
    h.add_argument("--rope-theta", type=float, default=None, help="override the RoPE base (e.g. 4e6)")
    h.add_argument("--max-position-embeddings", type=length_arg, default=None,
                   help="override the model's max positions (131072, 128K or 128k)")
    h.add_argument("--yarn-factor", type=float, default=None, help="enable YaRN with this factor")
    h.add_argument("--yarn-original-max", type=int, default=None, help="YaRN original max positions")
    h.add_argument("--dtype", default="auto", choices=("auto", "bfloat16", "float16", "float32"),
                   help="weights' dtype (default: as saved)")
    h.add_argument("--device", default="auto", help="torch device, e.g. cuda:0 or cpu (default: auto)")
    h.add_argument("--attn", default=None, help="attn_implementation, e.g. flash_attention_2, sdpa")
    r.set_defaults(func=cmd_run)

    sc = s.add_parser("score", help="score a run (MMLongBench's rule-based doc-QA by default, a metric, or an LLM "
                                    "judge)", description="Failed requests score 0 and are counted. Needles are "
                                    "scored as MMLongBench scores MM-NIAH (counting: exact sum).")
    sc.add_argument("run", metavar="RUN", help="run folder (from eval run)")
    sc.add_argument("--scorer", default="mmlongbench", choices=("mmlongbench", "mmlongbench-strict"),
                    help="rule-based doc-QA scorer (default %(default)s: MMLongBench's own rules; -strict: last "
                         "number only, case-insensitive exact forms)")
    sc.add_argument("--metric", default=None, choices=("anls", "substring", "accuracy", "mc"),
                    help="a classic metric instead of the doc-QA scorer")
    sc.add_argument("--lengths", default=None, help="lengths for the overall mean (default: 64K,128K, as the paper)")
    sc.add_argument("--judge-base-url", default=None, help="opt-in LLM judge (OpenAI-compatible endpoint)")
    sc.add_argument("--judge-model", default=None, help="judge model name at the endpoint")
    sc.add_argument("--judge-api-key-env", default="OPENAI_API_KEY",
                    help="environment variable holding the judge's API key (default %(default)s)")
    sc.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    sc.set_defaults(func=cmd_score)

    rp = s.add_parser("report", help="markdown tables + PNG plots + predictions JSONL for one or more runs",
                      description="Scores (rescored when predictions changed) per dataset and length with n and "
                                  "errors, the overall mean of 64K and 128K, needle heatmaps, and for two runs the "
                                  "paired differences with bootstrap 95% intervals. Writes DIR/report.md and PNGs.")
    rp.add_argument("runs", nargs="+", metavar="RUN", help="run folders (from eval run), compared side by side")
    rp.add_argument("--out", required=True, metavar="DIR", help="report folder to write")
    rp.add_argument("--names", default=None, help="comma-separated display names, one per run")
    rp.add_argument("--lengths", default=None, help="lengths for the overall mean (default: 64K,128K, as the paper)")
    rp.add_argument("--force", action="store_true",
                    help="compare runs that cover different length sets (flagged in the report)")
    rp.set_defaults(func=cmd_report)

    sv = s.add_parser("serve-config", help="vLLM settings to serve a model for `eval run --backend openai` on a set",
                      description="Prints the `vllm serve` and `eval run` commands that fit SET: max model length, "
                                  "images per prompt, the pixel budget, and the concurrency that keeps the server "
                                  "busy (docs/serving.md).")
    sv.add_argument("set", metavar="SET", help="eval-set folder the server must serve")
    sv.add_argument("--model-path", required=True,
                    help="the local model folder vLLM serves (its config.json is read: positions, KV-cache size)")
    sv.add_argument("--gpus", type=int, default=1, help="tensor-parallel GPUs (default %(default)s)")
    sv.add_argument("--gpu-mem", type=float, default=80.0, metavar="GIB",
                    help="GiB per GPU (default %(default)s)")
    sv.add_argument("--gpu-mem-gib", type=float, dest="gpu_mem", default=argparse.SUPPRESS,
                    help=argparse.SUPPRESS)   # the old name, kept working
    sv.add_argument("--max-new-tokens", type=int, default=256, help="answer budget per request (default %(default)s)")
    sv.add_argument("--rope-theta", type=float, default=None,
                    help="override the mRoPE base (ablations only: an exported checkpoint carries its own)")
    sv.add_argument("--served-model", default="mmprolong", help="name the server serves the model under "
                    "(default %(default)s)")
    sv.set_defaults(func=cmd_serve_config)

    im = s.add_parser("import-mmlongbench", help="import document-QA benchmarks (MMLongBench, MMLongBench-Doc, "
                                                 "LongDocURL, SlideVQA) and their documents from disk",
                      description="Reads a QA file (JSON/JSONL) and a folder of the documents (PDFs or folders "
                                  "of page images), puts the documents into STORE and writes a QA JSONL for "
                                  "`eval build`. No downloads. Items whose evidence lies outside the document or "
                                  "whose gold the scorer cannot read are refused and listed (QA_JSONL.refused.jsonl).")
    im.add_argument("--qa", required=True, metavar="FILE", help="the benchmark's QA file (JSON or JSONL)")
    im.add_argument("--docs", required=True, metavar="DIR",
                    help="folder of its documents: PDFs, or one folder of page images per document")
    im.add_argument("--store", required=True, metavar="STORE", help="page store to add the documents to")
    im.add_argument("--out", required=True, metavar="QA_JSONL", help="QA JSONL to write, for `eval build --qa`")
    im.add_argument("--dataset", default=None, help="dataset name (default: the QA file's stem)")
    im.add_argument("--preset", default="mmlongbench-doc",
                    choices=("mmlongbench-doc", "mmlongbench", "longdocurl", "slidevqa"),
                    help="the benchmark's fields, page numbering and answer types (default %(default)s)")
    im.add_argument("--pages-base", type=int, default=None,
                    help="evidence page numbering base (default: the preset's; mmlongbench: 0, others: 1)")
    im.add_argument("--exclude-out", default=None, metavar="FILE", help="exclusion list to add the documents to")
    im.add_argument("--field", action="append", default=[], metavar="OURS=THEIRS",
                    help="read our field from another column, e.g. doc_id=doc_no (repeatable)")
    im.add_argument("--workers", type=int, default=None, help="ingest worker processes (default: all cores)")
    im.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    im.set_defaults(func=cmd_import)


def _catalog(args, preset: str = "mmlongbench"):
    from .. import tokens
    from ..corpus.store import PageStore
    from ..eval.catalog import PageCatalog

    store = PageStore(args.store)
    counter = tokens.load(args.model)
    return store, PageCatalog(store, counter, _prompt(args, preset), max_pixels=args.max_pixels)


def cmd_build(args) -> int:
    from ..eval.build import build_eval_set
    from ..eval.exclusion import check_local
    from ..eval.qaset import load_qa

    check_local(args.exclude_out)
    if args.dataset and len(args.dataset) != len(args.qa):
        raise ValueError(f"--dataset given {len(args.dataset)} times for {len(args.qa)} --qa files")
    items = []
    for k, f in enumerate(args.qa):
        got = load_qa(f, args.dataset[k] if args.dataset else None)
        items += got[: args.limit] if args.limit else got
    _, cat = _catalog(args)
    man = build_eval_set(items, cat, _lengths(args.lengths), args.out, seed=args.seed, exclusion=args.exclude_out,
                         progress=not args.quiet, model_ref=args.model)
    print(f"{sum(man['per_length'].values())} instances -> {args.out} "
          f"(per length: {man['per_length']}; skipped: {len(man['skipped'])})")
    return 0


def cmd_needles(args) -> int:
    from ..eval.exclusion import check_local
    from ..eval.needles import NeedleConfig, build_needles

    check_local(args.exclude_out)
    cfg = NeedleConfig(lengths=_lengths(args.lengths), depths=_floats(args.depths),
                       tasks=[t for t in args.tasks.split(",") if t], repeats=args.repeats, seed=args.seed,
                       modalities=[m for m in args.modalities.split(",") if m])
    store, cat = _catalog(args, "niah")
    build_needles(cat, store, args.out, cfg, progress=not args.quiet, model_ref=args.model,
                  exclusion=args.exclude_out)
    n = len(cfg.lengths) * len(cfg.depths) * len(cfg.tasks) * len(cfg.modalities) * cfg.repeats
    print(f"{n} needle probes -> {args.out}")
    return 0


def cmd_run(args) -> int:
    from .. import tokens
    from ..corpus.store import PageStore
    from ..eval.instance import read_manifest
    from ..eval.runner import check_inputs, require_local, run_eval

    require_local(args.out)   # before the backend loads: predictions are appended, a local-only operation
    man = read_manifest(args.set)
    if not man:
        raise FileNotFoundError(f"{args.set}: not an eval set (no manifest.json)")
    if args.backend == "openai":
        from ..eval.backends.openai_backend import OpenAIBackend, OpenAIConfig

        if not args.base_url or not args.served_model:
            raise ValueError("--backend openai needs --base-url and --served-model")
        cfg = OpenAIConfig(base_url=args.base_url, model=args.served_model, api_key_env=args.api_key_env,
                           concurrency=args.concurrency, timeout=args.timeout, max_retries=args.retries,
                           **({"max_new_tokens": args.max_new_tokens} if args.max_new_tokens else {}))
        backend = OpenAIBackend(cfg)
        counter = tokens.load(args.tokenizer or man.get("model_ref") or "qwen2.5-vl")
    else:
        from ..eval.backends.hf_backend import HFBackend, HFConfig

        if not args.model_path:
            raise ValueError("--backend hf needs --model-path")
        cfg = HFConfig(model=args.model_path, rope_theta=args.rope_theta,
                       max_position_embeddings=args.max_position_embeddings, yarn_factor=args.yarn_factor,
                       yarn_original_max_position_embeddings=args.yarn_original_max, dtype=args.dtype,
                       device=args.device, attn_implementation=args.attn,
                       **({"max_new_tokens": args.max_new_tokens} if args.max_new_tokens else {}))
        backend = HFBackend(cfg)
        counter = backend.counter
        if man.get("counter") and man["counter"] != counter.fingerprint():
            print(f"warning: the set was counted for {man.get('model')}, the model reads with {counter.name}; "
                  "n_tokens_sent in the predictions says what it read", file=sys.stderr)
    store = PageStore(args.store) if args.store else None
    check_inputs(args.set, backend, store)
    res = run_eval(args.set, backend, args.out, store, counter, limit=args.limit, lengths=_lengths(args.lengths),
                   progress=not args.quiet)
    print(f"{res['answered']} answered, {res['skipped_done']} already done, {res['errors']} errors -> {args.out}")
    return 1 if res["errors"] else 0


def cmd_score(args) -> int:
    from ..eval.score import score_run

    judge = None
    if args.judge_base_url or args.judge_model:
        from ..eval.scorers.judge import JudgeConfig, LLMJudge

        if not (args.judge_base_url and args.judge_model):
            raise ValueError("the LLM judge needs both --judge-base-url and --judge-model")
        judge = LLMJudge(JudgeConfig(base_url=args.judge_base_url, model=args.judge_model,
                                     api_key_env=args.judge_api_key_env), cache=Path(args.run) / "judge_cache.jsonl")
    out = score_run(args.run, metric=args.metric, judge=judge, lengths=_lengths(args.lengths),
                    progress=not args.quiet, scorer=args.scorer)
    doc = out["doc"]
    from ..eval.report import fmt_len
    for L, v in sorted(doc["macro"].items()):
        print(f"{fmt_len(L):>6}  macro {v:6.2f}")
    ov = ", ".join(fmt_len(L) for L in doc["overall_lengths"])
    if doc["overall"] is not None:
        print(f"overall {doc['overall']:.2f} ({ov})")
    else:
        print(f"overall: not computed, no results at {', '.join(fmt_len(L) for L in doc['missing_lengths'])}")
    print(f"{doc['n_total']} rows, {doc['errors_total']} failed requests (scored 0)")
    return 0


def cmd_report(args) -> int:
    from ..eval.report import write_report

    names = [x.strip() for x in args.names.split(",")] if args.names else None
    path = write_report(args.runs, args.out, lengths=_lengths(args.lengths), names=names, force=args.force)
    print(f"report -> {path}")
    return 0


def cmd_serve_config(args) -> int:
    from ..eval.serving import plan

    p = plan(args.set, args.model_path, max_new_tokens=args.max_new_tokens, gpus=args.gpus,
             gpu_mem_gib=args.gpu_mem, rope_theta=args.rope_theta)
    print(p.command(args.model_path, args.served_model))
    print(f"mmprolong eval run {args.set} --store STORE --out RUN --backend openai --base-url "
          f"http://127.0.0.1:8000/v1 --served-model {args.served_model} --concurrency {p.client_concurrency} "
          f"--max-new-tokens {args.max_new_tokens}")
    return 0


def cmd_import(args) -> int:
    from ..eval.exclusion import check_local
    from ..eval.mmlongbench import import_mmlongbench

    check_local(args.exclude_out)
    fields = {}
    for f in args.field:
        if "=" not in f:
            raise ValueError(f"--field {f!r}: use OURS=THEIRS, e.g. doc_id=doc_no")
        ours, theirs = f.split("=", 1)
        fields[ours.strip()] = theirs.strip()
    s = import_mmlongbench(args.qa, args.docs, args.store, args.out, dataset=args.dataset,
                           pages_base=args.pages_base, exclusion=args.exclude_out, workers=args.workers,
                           progress=not args.quiet, fields=fields, preset=args.preset)
    print(f"{s['qa']} QA items over {s['documents']} documents -> {args.out} (skipped {s['skipped']}, "
          f"refused {len(s['refused'])}" + (f": see {args.out}.refused.jsonl)" if s["refused"] else ")"))
    return 0
