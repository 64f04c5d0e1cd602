"""Eval instances on disk: one JSON line per (QA item or needle probe) x target length, plus a manifest.

The context is a list of items in order; images are *referenced*, never copied, and resolved at run time:
  {"doc_id": ..., "page": 3, "width": W, "height": H}        a page of the page store (pixel size of its JPEG)
  {"asset": "assets/ab12.jpg", "width": W, "height": H}      an image written beside the set (needle pages)
  {"text": "..."}                                             a text part between pages (text needles)
This keeps a 512K set a few MB and lets the same set be run against any store copy holding those documents.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Iterator

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


def write_instances(out: str | Path, instances: Iterable[EvalInstance], manifest: dict) -> Path:
    """Write instances.jsonl (atomically) and manifest.json into folder `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (INSTANCES + ".tmp")
    n = 0
    with open(tmp, "w") as f:
        for inst in instances:
            f.write(inst.to_json() + "\n")
            n += 1
    tmp.replace(out / INSTANCES)
    (out / MANIFEST).write_text(json.dumps({**manifest, "n_instances": n}, indent=2, ensure_ascii=False))
    return out / INSTANCES


def read_instances(path: str | Path) -> Iterator[EvalInstance]:
    """Instances from an eval-set folder (or its instances.jsonl)."""
    p = Path(path)
    if p.is_dir():
        p = p / INSTANCES
    if not p.exists():
        raise FileNotFoundError(f"{p}: no eval instances (run `mmprolong eval build` or `eval needles` first)")
    with open(p) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield EvalInstance.from_dict(json.loads(line))
                except (json.JSONDecodeError, TypeError) as e:
                    raise ValueError(f"{p}:{i}: bad eval instance: {e}") from e


def read_manifest(set_dir: str | Path) -> dict:
    p = Path(set_dir) / MANIFEST
    return json.loads(p.read_text()) if p.exists() else {}
