"""`mmprolong export OUT --format llamafactory|swift|hf --to DIR`: a build's shards as a training tool's dataset."""

from __future__ import annotations

import sys

FORMATS = ("llamafactory", "swift", "hf")


def register(sub) -> None:
    p = sub.add_parser(
        "export", help="export built shards for LLaMA-Factory, ms-swift or Hugging Face datasets",
        description="Write a build's samples in a training tool's format, every page image stored at exactly the size "
                    "the token count used (so the tool's own resize keeps it and each sample keeps its n_tokens). "
                    "llamafactory: DIR/<name>.json, DIR/dataset_info.json and DIR/<name>_train.yaml (template, "
                    "cutoff_len, image_max/min_pixels, packing); swift: DIR/<name>.jsonl and DIR/<name>_train.sh "
                    "(the swift sft command with MAX_PIXELS and --template); hf: DIR/data/*.parquet with typed "
                    "features and a dataset card (datasets.load_dataset(DIR)). Image paths are relative to DIR.")
    p.add_argument("build_dir", metavar="OUT", help="a finished `mmprolong build` output folder")
    p.add_argument("--format", required=True, choices=FORMATS, help="target tool")
    p.add_argument("--to", required=True, metavar="DIR", help="export folder")
    p.add_argument("--name", default="mmprolong", help="dataset name / file stem (default %(default)s)")
    p.add_argument("--model", help="model the written training config starts from (default: the recipe's model "
                                   "folder, else the family's released checkpoint, e.g. Qwen/Qwen2.5-VL-7B-Instruct)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.format == "llamafactory":
        from ..dataset.export_llamafactory import export_llamafactory as export
    elif args.format == "swift":
        from ..dataset.export_swift import export_swift as export
    else:
        from ..dataset.export_hf import export_hf as export
    res = export(args.build_dir, args.to, name=args.name, model=args.model,
                 progress=not args.no_progress and sys.stderr.isatty())
    s = res["settings"]
    print(f"exported {res['samples']} samples ({res['images']} image references) to {res['file']}")
    print(f"images at their counted sizes ({s['model_type']}: {s['min_pixels']:,}-{s['max_pixels']:,} px, sides "
          f"multiples of {s['factor']}); max_length {s['max_length']:,}")
    print(f"next: {res['next']}")
    return 0
