"""`mmprolong import-sft INPUT... --out OUT`: short-context chat data -> training shards (parses and wires; the work is
mmprolong.dataset.import_sft)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "import-sft", help="import short-context SFT data (LLaVA / ShareGPT / Parquet / datasets) as training shards",
        description="Convert chat data with images into training shards (schema.SAMPLES) with exact token counts, to "
                    "mix with long-document shards by weight (data.sources in a training config). Reads LLaVA-style "
                    "JSON (conversations from/value, <image> placeholders, image paths), ShareGPT-style messages as "
                    "LLaMA-Factory and ms-swift read them (JSON / JSONL: messages role/content + images), Parquet "
                    "files and `datasets` folders with image columns. Writes OUT/shards, OUT/rejected (each bad row "
                    "with a reason) and OUT/manifest.json. A killed import resumes: run the same command again.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files (.json, .jsonl, .parquet) or folders")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder (created, or resumed)")
    p.add_argument("--model", default="qwen2.5-vl",
                   help="TokenCounter: qwen2.5-vl, qwen3-vl or a local HF model folder (default %(default)s)")
    p.add_argument("--max-pixels", type=int, default=None,
                   help="pixel bound per image (default: the model's); larger images are resized to its grid")
    p.add_argument("--max-tokens", "--max-length", dest="max_tokens", type=int, default=None,
                   metavar="N", help="reject samples longer than N tokens, counted as the model counts them "
                                     "(default 32768; 0: no limit)")
    p.add_argument("--image-root", default=None, metavar="DIR",
                   help="folder image paths start from and must stay inside (default: each input file's folder; "
                        "a path that leaves it, by .. or as an absolute path, rejects its row)")
    p.add_argument("--task", default="sft", help="value of the shards' task column (default %(default)s)")
    p.add_argument("--shard-size", type=int, default=1024, help="input rows per part file (default %(default)s)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes converting rows (default %(default)s); the output is the same for any number")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(a) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..dataset.import_sft import DEFAULT_MAX_LENGTH, ImportSettings, import_sft

    if a.shard_size < 1:
        raise ValueError("--shard-size must be at least 1")
    if a.max_tokens is not None and a.max_tokens < 0:
        raise ValueError("--max-tokens must be 0 (no limit) or a positive number of tokens")
    max_length = DEFAULT_MAX_LENGTH if a.max_tokens is None else (a.max_tokens or None)
    s = import_sft(a.inputs, a.out, ImportSettings(model=a.model, max_pixels=a.max_pixels,
                                                   max_length=max_length,
                                                   image_root=a.image_root, task=a.task, shard_size=a.shard_size),
                   progress=not a.quiet, workers=a.workers)
    if not a.quiet:
        t = Table(title="import-sft", show_header=False)
        t.add_row("rows", f"{s.rows:,}" + (" (resumed)" if s.resumed else ""))
        t.add_row("samples", f"{s.samples:,}")
        t.add_row("tokens", f"{s.tokens:,} ({s.image_tokens:,} image)")
        t.add_row("images", f"{s.images:,} ({s.resized_images:,} resized to the pixel bound)")
        t.add_row("rejected", ", ".join(f"{k} {v}" for k, v in s.rejected_by_reason.items()) or "-")
        t.add_row("output", s.out)
        Console().print(t)
    return 0
