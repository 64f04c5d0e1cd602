"""`import-sft`: short-context chat data (the formats users have) -> training shards (schema.SAMPLES), so a run can mix
it with long-document shards by weight (train.config `data.sources`).

Inputs, found in files and folders (recursively) in a stable order:

- LLaVA-style JSON: a list of `{"id", "image": path | [paths], "conversations": [{"from": "human"|"gpt", "value"}]}`
  with `<image>` placeholders in the text;
- ShareGPT-style messages as LLaMA-Factory and ms-swift read them: JSON lists or JSONL lines of
  `{"messages": [{"role": "system"|"user"|"assistant", "content"}], "images": [...]}` (also `conversations` with
  from/value and a top-level `system`; ms-swift's `query` / `response` / `history` rows);
- Parquet files and `datasets` folders (`save_to_disk`) with image columns (`images` / `image`: the `datasets` Image
  feature's {bytes, path} structs, raw bytes, or paths) and one of the conversation columns above.

Images are paths (relative to `image_root`, default the input file's folder), {bytes, path} dicts or `data:` URIs;
URLs are rejected (nothing is downloaded). A path must stay inside the image root once `..` is resolved (an absolute
path too): a row naming `../../etc/passwd` is rejected (`image-outside-root`), not read; `image_root="/"` allows any
path. Symbolic links inside the root are followed (they are the user's own layout). A string content is split at
each `<image>` into an image part and text, as LLaMA-Factory and ms-swift expand it, so the rendered chat is the
one those tools train on. Images larger than the pixel bound are resized to the TokenCounter's grid (as
`dataset.export_common` does), so the stored bytes stay small and the model's processor keeps the counted grid;
smaller ones are stored as they are (re-encoded to JPEG when not JPEG). `n_tokens` is `TokenCounter.count_messages`
of the sample: exactly what transformers' processor gives.

A row that cannot be imported is a row of `rejected/` with its source, index and reason ("kind: detail"): a line that
is not UTF-8 or a string with a lone surrogate (`bad-encoding`), a sample over `max_length` tokens (`too-long`;
default 32K, so one runaway row cannot become a 2M-token sample) and so on; the other rows import. Output is
written like a build's: `shards/` and `rejected/` as numbered parts renamed into place, then a completion record in
`_progress/` with the input and row to go on from; a killed import resumes there (an uncommitted part is
deleted), so nothing is lost or duplicated. `manifest.json` holds the settings, their hash, the counter fingerprint,
versions and counts.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from .. import __version__, schema, storage, tokens
from ..run.outdir import is_bookkeeping
from .parts import PROGRESS

log = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"
MANIFEST = "manifest.json"
REJECTED_ROWS = pa.schema([("source", pa.string()), ("row", pa.int64()), ("id", pa.string()),
                           ("reason", pa.string())])
TABLES = {"shards": schema.SAMPLES, "rejected": REJECTED_ROWS}
MAX_PART_BYTES = 256 * 2**20
ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "model": "assistant",
         "bot": "assistant", "system": "system"}
CONVERSATION_KEYS = ("messages", "conversations", "conversation")
IMAGE_KEYS = ("images", "image")
_SKIP_FILES = {"dataset_info.json", "dataset_dict.json", "state.json"}
DEFAULT_MAX_LENGTH = 32768  # short-context SFT: a longer row is almost always broken data


@dataclass(frozen=True)
class ImportSettings:
    model: str = "qwen2.5-vl"          # TokenCounter name or local HF folder
    max_pixels: int | None = None      # per-image pixel bound (default: the model's); stored as the row's max_pixels
    max_length: int | None = DEFAULT_MAX_LENGTH  # reject samples longer than this many tokens (None: no limit)
    image_root: str | None = None      # base of relative image paths (default: each input file's folder)
    task: str = "sft"                  # the rows' `task` column
    shard_size: int = 1024             # input rows per committed part
    jpeg_quality: int = 95

    def digest(self, inputs: list[str]) -> str:
        blob = json.dumps({"settings": asdict(self), "inputs": inputs}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class ImportSummary:
    out: str
    rows: int
    samples: int
    rejected: int
    tokens: int
    image_tokens: int
    images: int
    resized_images: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed: bool = False

    def to_json(self) -> dict:
        return asdict(self)


class Rejected(Exception):
    """A row that cannot be imported; the message is the reason ("kind: detail")."""


# -- inputs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSource:
    path: Path
    kind: str  # json | jsonl | parquet | datasets

    @property
    def base(self) -> Path:
        return self.path if self.kind == "datasets" else self.path.parent

    def rows(self, skip: int = 0) -> Iterator[dict | Rejected]:
        """The rows from index `skip` on (a row that is not even a JSON object comes as a Rejected)."""
        if self.kind == "parquet":
            yield from _parquet_rows(self.path, skip)
        elif self.kind == "datasets":
            yield from _datasets_rows(self.path, skip)
        else:
            yield from _json_rows(self.path, self.kind, skip)


def _is_datasets_folder(p: Path) -> bool:
    return (p / "state.json").exists() or (p / "dataset_dict.json").exists()


def find_inputs(paths: list[str | Path]) -> list[InputSource]:
    """Input files and `datasets` folders named by paths (folders searched recursively), in a stable order."""
    out: list[InputSource] = []

    def add_file(f: Path) -> None:
        suf = f.suffix.lower()
        if suf == ".parquet":
            out.append(InputSource(f, "parquet"))
        elif suf in (".jsonl", ".ndjson"):
            out.append(InputSource(f, "jsonl"))
        elif suf == ".json" and f.name not in _SKIP_FILES:
            out.append(InputSource(f, "json"))

    def walk(d: Path) -> None:
        if _is_datasets_folder(d):
            out.append(InputSource(d, "datasets"))
            return
        for c in sorted(d.iterdir()):
            if c.is_dir():
                walk(c)
            elif c.is_file():
                add_file(c)

    for s in paths:
        p = Path(s)
        if p.is_dir():
            walk(p)
        elif p.is_file():
            n = len(out)
            add_file(p)
            if len(out) == n:
                raise ValueError(f"{p}: not an input file (.json, .jsonl, .parquet) or a `datasets` folder")
        else:
            raise FileNotFoundError(f"no such input: {p}")
    if not out:
        raise FileNotFoundError(f"no .json, .jsonl, .parquet or `datasets` inputs under {[str(p) for p in paths]}")
    return out


def _json_rows(path: Path, kind: str, skip: int) -> Iterator[dict | Rejected]:
    if kind == "json":
        # surrogateescape: a bad byte inside one row's string becomes a lone surrogate, rejected with that row
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            if e.msg != "Extra data":
                raise ValueError(f"{path}: not valid JSON ({e})") from None
            data = None  # one object per line in a .json file
        if data is not None:
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            if not isinstance(data, list):
                raise ValueError(f"{path}: a JSON input must be a list of rows")
            for r in data[skip:]:
                yield _checked(r)
            return
    with path.open("rb") as f:  # bytes: one line that is not UTF-8 is that row's rejection, not the file's
        i = 0
        for raw in f:
            if not raw.strip():
                continue
            if i >= skip:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield Rejected(f"bad-encoding: line {i + 1} of {path.name} is not UTF-8 (byte "
                                   f"0x{raw[e.start]:02x} at offset {e.start})")
                else:
                    try:
                        yield _checked(json.loads(line))
                    except json.JSONDecodeError as e:
                        yield Rejected(f"bad-json: {e}")
            i += 1


def _checked(r) -> dict | Rejected:
    """A parsed JSON row, or its rejection: not an object, or a string in it that is not text (a lone surrogate
    from a `\\ud800` escape or an undecodable byte) which no tokenizer or Parquet file can take."""
    if not isinstance(r, dict):
        return Rejected(f"bad-row: not an object ({type(r).__name__})")
    try:
        json.dumps(r, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end]
        return Rejected(f"bad-encoding: a string holds {bad.encode('utf-8', 'backslashreplace').decode()} "
                        "(a lone surrogate or a byte that is not UTF-8)")
    return r


def _parquet_rows(path: Path, skip: int) -> Iterator[dict]:
    pf = pq.ParquetFile(path)
    start = 0
    for rg in range(pf.num_row_groups):
        n = pf.metadata.row_group(rg).num_rows
        if start + n <= skip:
            start += n
            continue
        for batch in pf.iter_batches(batch_size=64, row_groups=[rg]):
            rows = batch.to_pylist()
            drop = max(0, skip - start)
            start += len(rows)
            yield from rows[drop:]


def _datasets_rows(path: Path, skip: int) -> Iterator[dict]:
    """A `datasets.save_to_disk` folder (a Dataset, or a DatasetDict's splits in name order), read as Arrow so image
    columns come as their stored {bytes, path} structs, never decoded twice."""
    try:
        import datasets
    except ImportError:
        raise ValueError(f"{path} is a `datasets` folder: reading it needs `pip install datasets` "
                         "(mmprolong[sft])") from None
    ds = datasets.load_from_disk(str(path))
    parts = [ds[k] for k in sorted(ds)] if isinstance(ds, datasets.DatasetDict) else [ds]
    start = 0
    for d in parts:
        n = len(d)
        if start + n <= skip:
            start += n
            continue
        d = d.with_format("arrow")
        for i in range(max(0, skip - start), n, 64):
            yield from d[i:min(n, i + 64)].to_pylist()
        start += n


# -- one row ----------------------------------------------------------------------------------------------------


def _turns(row: dict) -> list[tuple[str, object]]:
    """(role, content) per turn, roles normalised to system / user / assistant."""
    conv = next((row[k] for k in CONVERSATION_KEYS if row.get(k) is not None), None)
    turns: list[tuple[str, object]] = []
    if conv is None:
        if "query" in row and "response" in row:  # ms-swift query / response / history
            for h in row.get("history") or []:
                if not (isinstance(h, (list, tuple)) and len(h) == 2):
                    raise Rejected("bad-turns: history items must be [query, response] pairs")
                turns += [("user", h[0]), ("assistant", h[1])]
            turns += [("user", row["query"]), ("assistant", row["response"])]
        else:
            raise Rejected(f"no-conversation: none of {', '.join(CONVERSATION_KEYS)} or query/response")
    else:
        if isinstance(conv, str):
            try:
                conv = json.loads(conv)
            except json.JSONDecodeError:
                raise Rejected("bad-turns: conversation is a string, not JSON") from None
        if not isinstance(conv, list):
            raise Rejected(f"bad-turns: conversation is a {type(conv).__name__}, not a list")
        for t in conv:
            if not isinstance(t, dict):
                raise Rejected("bad-turns: a turn is not an object")
            role = t.get("role", t.get("from"))
            content = t["content"] if "content" in t else t.get("value")
            if role not in ROLES:
                raise Rejected(f"unsupported-role: {role!r}")
            turns.append((ROLES[role], content))
    system = row.get("system")
    if system and not (turns and turns[0][0] == "system"):
        turns.insert(0, ("system", system))
    body = turns[1:] if turns and turns[0][0] == "system" else turns
    if not body:
        raise Rejected("bad-turns: no user or assistant turn")
    for k, (role, _) in enumerate(body):
        want = "user" if k % 2 == 0 else "assistant"
        if role != want:
            raise Rejected(f"bad-turns: turn {k + 1} is {role}, expected {want} (user and assistant alternate)")
    if body[-1][0] != "assistant":
        raise Rejected("bad-turns: the last turn is not the assistant's")
    return turns


def _image_refs(row: dict) -> list:
    for k in IMAGE_KEYS:
        v = row.get(k)
        if v is None:
            continue
        if isinstance(v, (str, bytes, dict)):
            return [v]
        if isinstance(v, (list, tuple)):
            return list(v)
        raise Rejected(f"bad-image: column {k!r} holds a {type(v).__name__}")
    return []


def _parts(content, role: str) -> list[dict]:
    """Chat parts of one turn: text, and {"type": "image", "ref": ...} placeholders (ref None: next listed image)."""
    if content is None:
        content = ""
    if isinstance(content, str):
        out: list[dict] = []
        pieces = content.split(IMAGE_TOKEN)
        for k, piece in enumerate(pieces):
            if k:
                out.append({"type": "image", "ref": None})
            if piece:
                out.append({"type": "text", "text": piece})
        return out
    if isinstance(content, list):
        out = []
        for p in content:
            if isinstance(p, str):
                out.extend(_parts(p, role))
            elif isinstance(p, dict) and (p.get("type") == "image" or "image" in p or "image_url" in p):
                ref = p.get("image", p.get("image_url"))
                if isinstance(ref, dict) and "url" in ref:
                    ref = ref["url"]
                out.append({"type": "image", "ref": ref})
            elif isinstance(p, dict) and p.get("type", "text") == "text":
                out.extend(_parts(p.get("text", ""), role))
            else:
                raise Rejected(f"bad-content: unsupported part {str(p)[:60]!r}")
        return out
    raise Rejected(f"bad-content: {role} content is a {type(content).__name__}")


def _image_bytes(ref, base: Path, image_root: Path | None) -> bytes:
    if isinstance(ref, dict):
        if ref.get("bytes"):
            return bytes(ref["bytes"])
        ref = ref.get("path")
    if isinstance(ref, (bytes, bytearray)):
        return bytes(ref)
    if not isinstance(ref, str) or not ref:
        raise Rejected(f"bad-image: no bytes or path in {str(ref)[:60]!r}")
    if ref.startswith("data:"):
        try:
            return base64.b64decode(ref.split(",", 1)[1], validate=True)
        except (IndexError, binascii.Error) as e:
            raise Rejected(f"bad-image: data URI ({e})") from None
    if "://" in ref:
        raise Rejected(f"remote-image: {ref[:80]} (nothing is downloaded; fetch images and give local paths)")
    root = os.path.abspath(image_root or base)
    p = Path(os.path.normpath(os.path.join(root, ref)))  # an absolute ref replaces root; `..` resolved
    if os.path.commonpath([root, str(p)]) != root:
        raise Rejected(f"image-outside-root: {ref[:120]} is outside the image root {root} (set --image-root to "
                       "the folder that holds the images)")
    try:
        return p.read_bytes()
    except OSError as e:
        raise Rejected(f"missing-image: {p} ({e.strerror or e})") from None


@dataclass
class _Image:
    data: bytes
    width: int
    height: int
    resized: bool


def prepare_image(data: bytes, counter, max_pixels: int, quality: int = 95) -> _Image:
    """JPEG bytes for a shard: resized to the counter's grid when the bound shrinks it (the grid of the stored
    size is then the same grid), else the original (JPEG kept byte for byte, other formats re-encoded)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            fmt = im.format
            try:
                g = counter.image_grid(w, h, max_pixels)
            except ValueError as e:
                raise Rejected(f"bad-image: {e}") from None
            shrink = w * h > max_pixels  # the bound shrinks it (not just the rounding to the patch grid)
            if fmt == "JPEG" and not shrink:
                im.draft("RGB", (max(1, w // 8), max(1, h // 8)))  # kept as is: a fast full pass checks the stream
            im.load()
            if shrink:
                small = im.convert("RGB").resize((g.width, g.height), Image.Resampling.BICUBIC)
                if counter.image_grid(g.width, g.height, max_pixels).thw == g.thw:
                    buf = io.BytesIO()
                    small.save(buf, format="JPEG", quality=quality)
                    return _Image(buf.getvalue(), g.width, g.height, True)
            if fmt == "JPEG":
                return _Image(data, w, h, False)
            buf = io.BytesIO()
            im.convert("RGB").save(buf, format="JPEG", quality=quality)
            return _Image(buf.getvalue(), w, h, False)
    except Rejected:
        raise
    except Exception as e:  # noqa: BLE001 - any decoder failure is a bad image, recorded with its reason
        raise Rejected(f"bad-image: {type(e).__name__}: {e}") from None


def convert_row(row: dict, source: str, index: int, base: Path, counter, settings: ImportSettings,
                recipe_hash: str = "") -> tuple[dict, int]:
    """One input row -> a schema.SAMPLES row and the number of images resized; raises Rejected with the reason."""
    mp = int(settings.max_pixels or counter.max_pixels)
    for k in ("videos", "video", "audios", "audio"):
        if row.get(k):
            raise Rejected(f"unsupported-media: {k} (images only)")
    turns = _turns(row)
    refs = _image_refs(row)
    messages: list[dict] = []
    listed = 0
    inline: list = []
    for role, content in turns:
        parts = _parts(content, role)
        if role != "user" and any(p["type"] == "image" for p in parts):
            raise Rejected(f"bad-content: an image in a {role} turn")
        for p in parts:
            if p["type"] == "image":
                if p["ref"] is None:
                    if listed >= len(refs):
                        listed += 1
                        continue
                    inline.append(refs[listed])
                    listed += 1
                else:
                    inline.append(p["ref"])
        messages.append({"role": role, "content": parts})
    if listed != len(refs):
        raise Rejected(f"image-count: {listed} {IMAGE_TOKEN} placeholders for {len(refs)} images")
    root = Path(settings.image_root) if settings.image_root else None
    images = [prepare_image(_image_bytes(r, base, root), counter, mp, settings.jpeg_quality) for r in inline]
    k = 0
    for m in messages:
        for p in m["content"]:
            if p["type"] == "image":
                im = images[k]
                k += 1
                p.clear()
                p.update({"type": "image", "width": im.width, "height": im.height})
                if mp != counter.max_pixels:
                    p["max_pixels"] = mp
        m["content"] = [p for p in m["content"] if p["type"] == "image" or p["text"]] or [{"type": "text",
                                                                                          "text": ""}]
    answers = ["".join(p.get("text", "") for p in m["content"]) for m in messages if m["role"] == "assistant"]
    if not any(a.strip() for a in answers):
        raise Rejected("empty-answer: no assistant text to train on")
    c = counter.count_messages(messages, max_pixels=mp)
    if settings.max_length is not None and c.total > settings.max_length:
        raise Rejected(f"too-long: {c.total} tokens > max_length {settings.max_length}")
    mjson = json.dumps(messages, ensure_ascii=False)
    sid = hashlib.sha256(json.dumps([source, index, mjson]).encode()).hexdigest()[:24]
    rid = row.get("id", row.get("sample_id", ""))
    return {"sample_id": sid, "doc_id": "", "qa_id": "" if rid is None else str(rid), "task": settings.task,
            "pages": [], "messages": mjson, "images": [im.data for im in images],
            "image_sizes": [[im.width, im.height] for im in images], "max_pixels": mp, "target": answers[-1],
            "n_tokens": c.total, "n_image_tokens": c.image_tokens, "depth": None, "bucket": "short",
            "recipe_hash": recipe_hash}, sum(im.resized for im in images)


@dataclass(frozen=True)
class _Job:
    """One row's work, picklable for a process pool."""

    source: str
    index: int
    row: object
    base: str
    settings: ImportSettings
    digest: str


@functools.lru_cache(maxsize=4)
def _counter(model: str):
    return tokens.load(model)


def _process(job: _Job) -> tuple[dict | None, dict | None, int]:
    """(sample, None, images resized) or (None, rejected row, 0); any error in a row is that row's rejection."""
    try:
        if isinstance(job.row, Rejected):
            raise job.row
        sample, resized = convert_row(job.row, job.source, job.index, Path(job.base), _counter(job.settings.model),
                                      job.settings, job.digest)
        return sample, None, resized
    except Rejected as e:
        reason = str(e)
    except Exception as e:  # noqa: BLE001 - failure is data: one odd row never stops an import
        reason = f"error: {type(e).__name__}: {e}"
    return None, _rejected_row(job.source, job.index, job.row, reason), 0


def _rejected_row(source: str, index: int, row, reason: str) -> dict:
    rid = row.get("id", "") if isinstance(row, dict) else ""
    return {"source": _text(source), "row": index, "id": "" if rid is None else _text(rid), "reason": _text(reason)}


def _text(v) -> str:
    """`v` as a string Parquet can store: a lone surrogate (from a bad byte or escape) shown as its escape."""
    return str(v).encode("utf-8", "backslashreplace").decode("utf-8")


def _process_item(item: tuple) -> tuple:
    return _process(item[2])


def _in_order(jobs: Iterator[tuple], workers: int) -> Iterator[tuple]:
    """((input, row), result) in input order, converted here or on a process pool."""
    if workers <= 1:
        for _, key, job in jobs:
            yield key, _process(job)
        return
    from ..run import Failure, map_unordered

    pending: dict[int, tuple] = {}
    nxt = 0
    results = map_unordered(_process_item, jobs, executor="local", workers=workers)
    try:
        for (seq, key, job), res in results:
            if isinstance(res, Failure):
                res = (None, _rejected_row(job.source, job.index, job.row, f"worker-{res}"), 0)
            pending[seq] = (key, res)
            while nxt in pending:
                yield pending.pop(nxt)
                nxt += 1
    finally:
        if hasattr(results, "close"):
            results.close()


# -- output -----------------------------------------------------------------------------------------------------


def _write_parquet(path: Path, rows: list[dict], sch: pa.Schema) -> None:
    storage.write_parquet(pa.Table.from_pylist(rows, schema=sch), path, compression="zstd", row_group_size=64)


class _Parts:
    """Numbered parts of shards/ and rejected/, each followed by its completion record (rows done, totals)."""

    def __init__(self, out: Path):
        self.out = out
        for d in (*TABLES, PROGRESS):
            (out / d).mkdir(parents=True, exist_ok=True)
        records = []
        while (p := out / PROGRESS / f"part-{len(records):05d}.json").exists():
            records.append(json.loads(p.read_text()))
        n = len(records)
        for d in (*TABLES, PROGRESS):  # an uncommitted part (killed between renames) and temporary files go
            for f in (out / d).iterdir():
                stem = f.name.split(".")[0]
                if f.name.endswith(".tmp") or (stem.startswith("part-") and stem[5:].isdigit() and int(stem[5:]) >= n):
                    f.unlink()
        last = records[-1] if records else {}
        self.parts = n
        self.totals = {k: last.get(k, 0) for k in ("rows", "samples", "rejected", "tokens", "image_tokens",
                                                   "images", "resized_images")}
        self.finished = bool(last.get("finished"))
        self.position: tuple[int, int] = tuple(last.get("position", (0, 0)))  # (input, row) to go on from
        self.buf: dict[str, list[dict]] = {k: [] for k in TABLES}
        self.bytes = 0
        self.pending = Counter()

    def add(self, sample: dict | None, rejected: dict | None, resized: int = 0) -> None:
        self.pending["rows"] += 1
        if sample is not None:
            self.buf["shards"].append(sample)
            self.bytes += sum(len(b) for b in sample["images"])
            self.pending["samples"] += 1
            self.pending["tokens"] += sample["n_tokens"]
            self.pending["image_tokens"] += sample["n_image_tokens"]
            self.pending["images"] += len(sample["images"])
            self.pending["resized_images"] += resized
        if rejected is not None:
            self.buf["rejected"].append(rejected)
            self.pending["rejected"] += 1

    def full(self, shard_size: int) -> bool:
        return self.pending["rows"] >= shard_size or self.bytes >= MAX_PART_BYTES

    def commit(self, finished: bool = False) -> None:
        if not self.pending["rows"] and not finished:  # nothing new since the last record
            return
        n = self.parts
        for name, sch in TABLES.items():
            _write_parquet(self.out / name / f"part-{n:05d}.parquet", self.buf[name], sch)
        for k in self.totals:
            self.totals[k] += self.pending[k]
        storage.write_text(self.out / PROGRESS / f"part-{n:05d}.json",
                          json.dumps({"part": n, **self.totals, "position": list(self.position),
                                      "finished": finished}))
        self.parts, self.finished = n + 1, finished
        self.buf = {k: [] for k in TABLES}
        self.bytes = 0
        self.pending = Counter()


def _check_out(out: Path, digest: str) -> None:
    rec = out / PROGRESS / "import.json"
    if rec.exists():
        if json.loads(rec.read_text())["digest"] != digest:
            raise ValueError(f"{out} holds an import of other inputs or settings; use a new --out or delete it")
    elif out.exists() and any(not (p.is_dir() and p.name in (*TABLES, PROGRESS) and not any(p.iterdir()))
                              for p in out.iterdir() if not is_bookkeeping(p.name)):
        raise ValueError(f"{out} exists and is not an import folder; use a new --out")


def _bar(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("import-sft"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                    TextColumn("{task.description}"), TimeRemainingColumn(), disable=not enabled)


def _count_rows(src: InputSource) -> int | None:
    if src.kind == "parquet":
        return pq.ParquetFile(src.path).metadata.num_rows
    if src.kind == "jsonl":
        with src.path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    return None


def import_sft(inputs: list[str | Path], out: str | Path, settings: ImportSettings | None = None,
               progress: bool = True, workers: int = 1) -> ImportSummary:
    """Import (or resume importing) `inputs` into `out` (see the module docstring). `workers` > 1 converts rows in
    that many processes (`mmprolong.run`, local pool); rows are committed in input order either way, so the output
    is the same."""
    from ..run.outdir import claim

    with claim(out, "sft-import", "import-sft"):   # one writer; never into a folder of another kind
        return _import_sft(inputs, out, settings, progress, workers)


def _import_sft(inputs: list[str | Path], out: str | Path, settings: ImportSettings | None = None,
                progress: bool = True, workers: int = 1) -> ImportSummary:
    t0 = time.monotonic()
    settings = settings or ImportSettings()
    out = Path(out)
    sources = find_inputs(inputs)
    names = [str(s.path) for s in sources]
    counter = tokens.load(settings.model)
    digest = settings.digest(names + [json.dumps(counter.fingerprint(), sort_keys=True)])
    _check_out(out, digest)
    (out / PROGRESS).mkdir(parents=True, exist_ok=True)
    storage.write_text(out / PROGRESS / "import.json", json.dumps({"digest": digest, "inputs": names}))
    parts = _Parts(out)
    resumed = parts.parts > 0
    if not parts.finished:
        counts = [_count_rows(s) for s in sources]
        total = sum(counts) if all(c is not None for c in counts) else None
        start_src, start_row = parts.position

        def jobs() -> Iterator[tuple[int, tuple[int, int], _Job]]:
            seq = 0
            for si in range(start_src, len(sources)):
                src = sources[si]
                skip = start_row if si == start_src else 0
                for i, row in enumerate(src.rows(skip), start=skip):
                    yield seq, (si, i), _Job(str(src.path), i, row, str(src.base), settings, digest)
                    seq += 1

        with _bar(progress) as bar:
            task = bar.add_task(f"{parts.totals['samples']:,} samples", total=total, completed=parts.totals["rows"])
            for (si, i), (sample, rejected, resized) in _in_order(jobs(), workers):
                parts.add(sample, rejected, resized)
                parts.position = (si, i + 1)
                if parts.full(settings.shard_size):
                    parts.commit()
                bar.update(task, advance=1, description=f"{parts.totals['samples'] + parts.pending['samples']:,}"
                                                        " samples")
            parts.position = (len(sources), 0)
            parts.commit(finished=True)
    summary = _summarize(out, parts, resumed, time.monotonic() - t0)
    manifest = {"kind": "import-sft", "settings": asdict(settings), "settings_hash": digest, "inputs": names,
                "counter": counter.fingerprint(), "versions": _versions(), "summary": summary.to_json()}
    storage.write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    log.info("import-sft: %d rows -> %d samples (%d rejected), %d tokens", summary.rows, summary.samples,
             summary.rejected, summary.tokens)
    return summary


def _summarize(out: Path, parts: _Parts, resumed: bool, seconds: float) -> ImportSummary:
    reasons: Counter = Counter()
    for f in sorted((out / "rejected").glob("part-*.parquet")):
        for r in pq.read_table(f, columns=["reason"]).column("reason").to_pylist():
            reasons[r.split(":", 1)[0]] += 1
    t = parts.totals
    return ImportSummary(out=str(out), rows=t["rows"], samples=t["samples"], rejected=t["rejected"], tokens=t["tokens"],
                         image_tokens=t["image_tokens"], images=t["images"], resized_images=t["resized_images"],
                         rejected_by_reason=dict(sorted(reasons.items())), seconds=seconds, resumed=resumed)


def _versions() -> dict[str, str]:
    import platform

    import PIL

    return {"mmprolong": __version__, "python": platform.python_version(), "pyarrow": pa.__version__,
            "pillow": PIL.__version__}
