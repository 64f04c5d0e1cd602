"""Eval instances on disk: one JSON line per (QA item or needle probe) x target length, plus a manifest.

The context is a list of items in order; images are *referenced*, never copied, and resolved at run time:
  {"doc_id": ..., "page": 3, "width": W, "height": H}        a page of the page store (pixel size of its JPEG)
  {"asset": "assets/ab12.jpg", "width": W, "height": H}      an image written beside the set (needle pages)
  {"text": "..."}                                             a text part between pages (text needles)
This keeps a 512K set a few MB and lets the same set be run against any store copy holding those documents.

A set is a local folder or an fsspec URL (s3://bucket/sets/x, memory://...): its files are written and read through
`mmprolong.storage` (locally: tmp, fsync, rename; on object storage: one whole-object write per file).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Iterator

from .. import storage

INSTANCES = "instances.jsonl"
MANIFEST = "manifest.json"


@dataclass
class EvalInstance:
    instance_id: str
    dataset: str
    question: str
    answer: str
    answer_format: str                 # String | Integer | Float | List | None
    target_length: int
    n_tokens: int                      # exact, whole prompt as sent (with generation prompt), for the set's model
    depth: float                       # where the (first) evidence starts, as a fraction of context tokens
    context: list[dict]
    doc_id: str = ""                   # the gold document ("" for needles)
    evidence_pages: list[int] = field(default_factory=list)   # 0-based pages of the gold document
    evidence_sources: list[str] = field(default_factory=list)
    qa_id: str = ""
    kind: str = "doc"                  # "doc" | "needle"
    task: str = ""                     # needle task (retrieval, counting, reasoning) or QA task
    max_pixels: int | None = None      # pixel budget the counts were made with (None: the model's)
    doc_name: str = ""                 # the gold document's name in the prompt ("Based on Document <name>")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> "EvalInstance":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown eval instance field(s): {sorted(unknown)}")
        return cls(**d)

    def pages(self) -> list[tuple[str, int]]:
        """The (doc_id, page) store pages making up the context, in order."""
        return [(c["doc_id"], int(c["page"])) for c in self.context if "doc_id" in c]


def write_instances(out: str | Path, instances: Iterable[EvalInstance], manifest: dict) -> Path | str:
    """Write instances.jsonl, then manifest.json, into folder `out` (a local folder or a URL), each committed
    whole (`storage.write_with`: atomic and durable locally, one object remotely). Returns instances.jsonl's path
    (a Path for a local folder, else the URL)."""
    storage.makedirs(out)
    n = 0

    def write(f) -> None:
        nonlocal n
        for inst in instances:
            f.write((inst.to_json() + "\n").encode("utf-8"))
            n += 1

    path = storage.join(out, INSTANCES)
    storage.write_with(path, write)
    storage.write_text(storage.join(out, MANIFEST), json.dumps({**manifest, "n_instances": n}, indent=2,
                                                                  ensure_ascii=False))
    return storage.local_path(path) if storage.is_local(path) else path


def read_instances(path: str | Path) -> Iterator[EvalInstance]:
    """Instances from an eval-set folder (or its instances.jsonl), local or on a URL."""
    p = storage.normalize(path)
    if storage.isdir(p):
        p = storage.join(p, INSTANCES)
    if not storage.exists(p):
        raise FileNotFoundError(f"{p}: no eval instances (run `mmprolong eval build` or `eval needles` first)")
    with storage.open_input(p) as raw, io.TextIOWrapper(raw, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield EvalInstance.from_dict(json.loads(line))
                except (json.JSONDecodeError, TypeError) as e:
                    raise ValueError(f"{p}:{i}: bad eval instance: {e}") from e


def read_manifest(set_dir: str | Path) -> dict:
    p = storage.join(set_dir, MANIFEST)
    return json.loads(storage.read_text(p)) if storage.exists(p) else {}
