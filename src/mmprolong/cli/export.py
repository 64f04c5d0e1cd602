"""`mmprolong export OUT --format llamafactory|swift --to DIR`: a build's shards as a training tool's dataset."""

from __future__ import annotations

FORMATS = ("llamafactory", "swift")


def register(sub) -> None:
    p = sub.add_parser(
        "export", help="export built shards for LLaMA-Factory or ms-swift",
        description="Write a build's samples in a training tool's format, page images as JPEG files under DIR/images. "
                    "llamafactory: DIR/<name>.json (sharegpt messages + images) and DIR/dataset_info.json; "
                    "swift: DIR/<name>.jsonl (messages with <image> tags + images).")
    p.add_argument("build_dir", metavar="OUT", help="a finished `mmprolong build` output folder")
    p.add_argument("--format", required=True, choices=FORMATS, help="target tool")
    p.add_argument("--to", required=True, metavar="DIR", help="export folder")
    p.add_argument("--name", default="mmprolong", help="dataset name / file stem (default %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.format == "llamafactory":
        from ..dataset.export_llamafactory import export_llamafactory as export
    else:
        from ..dataset.export_swift import export_swift as export
    res = export(args.build_dir, args.to, name=args.name)
    print(f"exported {res['samples']} samples ({res['images']} image references) to {res['file']}")
    return 0
