"""Verification on real manuals nobody on the project wrote: QA items from both generators, corrupted in the ways
that fooled the checks before, run through `synth.verify.verify` with the rule checks alone, the verifier model
alone and both (bench/results/verify.md).

Documents: the PDFs (20-200 pages) of Debian documentation packages, fetched by the script itself
(`apt-get download`, `dpkg -x` into --cache; reused when there) and ingested into a page store there.
Items: the offline rules generator, and the openai generator against tests/synth/page_teacher.py, a stand-in
teacher on a real HTTP server that reads the pages' text layers and words its own questions (table cells by row and
column, sentence facts, lists over two pages, difference / sum / ratio / max with a calculation naming each
operand's page, counts of table rows and of numbered figures). Clean items are the generated ones; corruptions are
made from the items the rule checks accept (one of each kind per item where the kind applies):

  same_page_other_value   another number printed on the evidence page (the nearest one to the answer first)
  other_page_answer       the answer to the same kind of question (same column / unit / template) on another page
  off_by_one              a number answer plus or minus one (a Float in its last printed digit)
  count_item_dropped      a count with one counted item dropped, the calc line and the answer adjusted
  count_extra_word        a count with one extra word of the page counted, the calc line and the answer adjusted
  page_moved              the right answer, the cited page moved to the next page, where the answer is also printed
  calc_removed_wrong      a reasoning item with its calc line removed and a wrong answer (what two other numbers of
                          its pages give, when they give something, else the answer plus 10%)
  no_text                 the evidence page's text gone (text_source: none), the item otherwise right
  neighbour_row           a table answer taken from the next row, same column
  heading_neighbour       "the section that begins on page N" answered with the next section's heading

The verifier is tests/synth/verifier_server.py's MistakenReader: it knows each question's right answer and makes
a real model's mistakes on page-reading requests (a misread digit, the neighbouring row's or page's value, a
refusal), so its own false rejections and misses show.

    python bench/verify.py [--cache /tmp/mmprolong-debian] [--segments 24]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))   # tests.synth.*

from device import cpu_name  # noqa: E402  bench/device.py
from mmprolong.corpus.ingest import IngestConfig, ingest  # noqa: E402
from mmprolong.corpus.store import Document, PageStore  # noqa: E402
from mmprolong.synth import choose_segment, make_generator, verify  # noqa: E402
from mmprolong.synth import anchor  # noqa: E402
from mmprolong.synth.calc import calc_line, parse_calc  # noqa: E402
from mmprolong.synth.config import GeneratorConfig, VerifyConfig  # noqa: E402
from mmprolong.synth.degenerate import shared_lines  # noqa: E402
from mmprolong.synth.rules import segment_facts  # noqa: E402
from mmprolong.synth.structure import begins_on  # noqa: E402
from mmprolong.synth.text import fmt_number, norm, numbers_in, parse_number  # noqa: E402
from mmprolong.synth.verifier import Verifier  # noqa: E402
from mmprolong.synth.verify import parse_list  # noqa: E402
from tests.synth.page_teacher import page_teacher  # noqa: E402
from tests.synth.teacher_server import TeacherServer  # noqa: E402
from tests.synth.verifier_server import MistakenReader  # noqa: E402

RESULTS = HERE / "results" / "verify.md"
PACKAGES = ["r-doc-pdf", "asymptote-doc", "gnuplot-doc", "freefem-doc", "octave-doc", "auto-multiple-choice-doc-pdf",
            "live-manual-pdf"]
MIN_PAGES, MAX_PAGES = 20, 200
TASKS = ("extract-single", "extract-multi", "reasoning")
KINDS = ("same_page_other_value", "other_page_answer", "off_by_one", "count_item_dropped", "count_extra_word",
         "page_moved", "calc_removed_wrong", "no_text", "neighbour_row", "heading_neighbour")
log = logging.getLogger("bench.verify")


# -- documents ----------------------------------------------------------------------------------------------------
def fetch_pdfs(cache: Path) -> list[Path]:
    """The packages' PDFs of 20-200 pages, one copy each (by bytes)."""
    import pypdfium2 as pdfium

    debs, tree = cache / "debs", cache / "tree"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        if not any(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=False, capture_output=True, timeout=600)
    for deb in sorted(debs.glob("*.deb")):
        mark = tree / (deb.name + ".done")
        if not mark.exists():
            subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True)
            mark.touch()
    out, seen = [], set()
    for p in sorted(tree.rglob("*.pdf")):
        if p.is_symlink():
            continue
        h = hashlib.sha256(p.read_bytes()).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        try:
            doc = pdfium.PdfDocument(str(p))
            n = len(doc)
            doc.close()
        except Exception:   # a broken PDF is the ingest's business, not this bench's
            continue
        if MIN_PAGES <= n <= MAX_PAGES:
            out.append(p)
    return out


def load_store(cache: Path, pdfs: list[Path]) -> list[Document]:
    store = cache / "store"
    if not (store / "docs").exists():
        ingest([str(p) for p in pdfs], store, IngestConfig(dpi=60, jpeg_quality=70, workers=2, progress=False))
    return list(PageStore(str(store)).iter_documents(with_images=True))


# -- items ----------------------------------------------------------------------------------------------------------
def generate(docs: list[Document], segments: int, teacher_url: str, cache: Path) -> list[tuple[str, object, Document]]:
    rules = make_generator(GeneratorConfig(kind="rules"))
    os.environ.setdefault("BENCH_TEACHER_KEY", "local")
    teacher = make_generator(GeneratorConfig(kind="openai", model="page-teacher", base_url=teacher_url,
                                             api_key_env="BENCH_TEACHER_KEY", send_text=True, concurrency=8,
                                             cache_dir=str(cache / "teacher-cache"), timeout_s=30, max_retries=1,
                                             image_max_pixels=3136 * 4))
    jobs = []
    for d in docs:
        rng = random.Random(d.doc_id)
        tried: set = set()
        for s in range(segments):
            seg = choose_segment(d, rng, 8, 15, avoid=tried)
            tried.add(seg)
            for t in TASKS:
                jobs.append((d, seg, t, rng.getrandbits(31)))
    items = []
    print(f"{len(jobs)} jobs", flush=True)
    for d, seg, t, seed in jobs:
        items += [("rules", q, d) for q in rules.generate(d, seg, t, random.Random(seed))]
    print(f"{len(items)} rules items", flush=True)
    by_id = {d.doc_id: d for d in docs}
    for res in teacher.generate_many([(d, seg, t, seed) for d, seg, t, seed in jobs]):
        for q in res.records:
            items.append(("teacher", q, by_id[q.doc_id]))
    teacher.close()
    return items


# -- corruptions ------------------------------------------------------------------------------------------------------
def _texts(doc: Document) -> dict[int, str]:
    return {int(p["page"]): p.get("text") or "" for p in doc.pages}


def _numeric(qa) -> bool:
    return qa.answer_format in ("Integer", "Float") and parse_number(qa.answer) is not None


def _fmt_like(v: float, like: str) -> str:
    if "." in like:
        return f"{v:.{len(like.split('.')[1])}f}"
    return fmt_number(v)


def corrupt(kind: str, qa, doc: Document, rng: random.Random):
    """(corrupted item, the document it is checked against), or None when the kind does not apply."""
    texts = _texts(doc)
    ev = sorted(qa.evidence_pages)
    q_nums = set(numbers_in(qa.question))
    if kind == "same_page_other_value":
        if qa.task == "reasoning" or not _numeric(qa) or len(ev) != 1:
            return None
        a = parse_number(qa.answer)
        occ = anchor.find(texts[ev[0]], qa.answer)
        near = []
        for o in occ:   # numbers of the answer's own unit first: the hardest case
            near += [parse_number(t) for t in o.unit.toks if parse_number(t) is not None]
        pool = [v for v in dict.fromkeys(near + numbers_in(texts[ev[0]])) if v != a and v not in q_nums
                and (v.is_integer() or qa.answer_format == "Float")]
        if not pool:
            return None
        v = pool[0] if near and pool[0] in near and rng.random() < 0.6 else rng.choice(pool)
        return replace(qa, answer=_fmt_like(v, qa.answer) if qa.answer_format == "Float" else fmt_number(v)), doc
    if kind == "other_page_answer":
        if qa.task == "reasoning" or len(ev) != 1 or qa.answer_format == "List":
            return None
        facts = segment_facts(doc, (0, doc.n_pages - 1))
        mine = [f for f in facts if f.page == ev[0] and norm(f.answer) == norm(qa.answer)]
        key = mine[0].key if mine else ""
        pool = [f for f in facts if f.page != ev[0] and norm(f.answer) != norm(qa.answer) and f.fmt == qa.answer_format
                and (not key or f.key == key) and parse_number(f.answer) not in q_nums]
        if not pool:
            return None
        return replace(qa, answer=rng.choice(pool).answer), doc
    if kind == "off_by_one":
        if not _numeric(qa) or qa.task == "reasoning" and parse_calc(qa.evidence) is None:
            return None
        a = qa.answer.strip()
        step = 10 ** -len(a.split(".")[1]) if "." in a else 1
        v = parse_number(a) + rng.choice([-1, 1]) * step
        return replace(qa, answer=_fmt_like(v, a) if "." in a else fmt_number(v)), doc
    if kind in ("count_item_dropped", "count_extra_word"):
        calc = parse_calc(qa.evidence)
        if qa.task != "reasoning" or calc is None or calc.op not in ("count", "count_named", "count_gt"):
            return None
        ops, pages = list(calc.operands), list(calc.pages or [None] * len(calc.operands))
        if kind == "count_item_dropped":
            idx = [i for i, (_, v) in enumerate(ops) if calc.op != "count_gt" or v > calc.param]
            if len(ops) < 3 or not idx:
                return None
            i = rng.choice(idx)
            del ops[i], pages[i]
        else:
            pg = pages[-1] if pages[-1] is not None else ev[-1] + 1
            words = [w for w in re.findall(r"[A-Z][a-z]{3,}", texts.get(pg - 1, ""))
                     if norm(w) not in {norm(x) for x, _ in ops}]
            if not words:
                return None
            w = rng.choice(words)
            big = (calc.param or 0) + 1 if calc.op == "count_gt" else (ops[-1][1] + 1 if calc.op == "count" else 1)
            ops.append((w, big))
            pages.append(pg)
        new = calc_line(calc.op, ops, calc.param, pages if any(p is not None for p in pages) else None)
        n = len(ops) if calc.op != "count_gt" else sum(v > calc.param for _, v in ops)
        ev_text = re.sub(r"calc:.*$", lambda _: new, qa.evidence, flags=re.S)
        return replace(qa, answer=str(n), evidence=ev_text), doc
    if kind == "page_moved":
        if qa.task == "reasoning" or len(ev) != 1 or qa.answer_format == "List":
            return None
        p = ev[0]
        m = re.search(rf"\bpage {p + 1}\b", qa.question)
        if not m or p + 1 >= doc.n_pages or not anchor.find(texts.get(p + 1, ""), qa.answer):
            return None
        q = qa.question[:m.start()] + f"page {p + 2}" + qa.question[m.end():]
        # the same question truly answered on the next page (the same fact printed there) is not a corruption
        if any(norm(f.answer) == norm(qa.answer) and norm(f.ask).rstrip("?") in norm(q)
               for f in segment_facts(doc, (p + 1, p + 1))) or anchor.cloze_fits(q, qa.answer, [texts[p + 1]]):
            return None
        seg = (qa.segment[0], max(qa.segment[1], p + 1))
        return replace(qa, question=q, evidence_pages=[p + 1], segment=seg), doc
    if kind == "calc_removed_wrong":
        calc = parse_calc(qa.evidence)
        if qa.task != "reasoning" or calc is None or not _numeric(qa):
            return None
        a = parse_number(qa.answer)
        nums = [v for v in dict.fromkeys(x for p in ev for x in numbers_in(texts.get(p, "")))
                if v not in {o[1] for o in calc.operands}][:30]
        wrong = None
        for i, x in enumerate(nums):   # what two other numbers of the pages give: the search the old check did
            for y in nums[i + 1:]:
                for c in (x - y, x + y, x / y if y else None):
                    if c is not None and abs(c - a) > max(1, abs(a) * 0.02) and (c.is_integer() or
                                                                              qa.answer_format == "Float"):
                        wrong = c
                        break
                if wrong is not None:
                    break
            if wrong is not None:
                break
        wrong = wrong if wrong is not None and rng.random() < 0.5 else a * 1.1 + 1
        ans = fmt_number(round(wrong, 2)) if qa.answer_format == "Float" else fmt_number(round(wrong))
        ev_text = re.sub(r"\s*calc:.*$", "", qa.evidence, flags=re.S)
        return replace(qa, answer=ans, evidence=ev_text), doc
    if kind == "no_text":
        if qa.task not in TASKS:
            return None
        p = rng.choice(ev)
        pages = [dict(x, text="", text_source="none") if int(x["page"]) == p else x for x in doc.pages]
        return qa, Document(doc.doc_id, doc.source, doc.n_pages, doc.title, doc.sections, pages)
    if kind == "neighbour_row":
        if qa.task == "reasoning" or "Table" not in qa.evidence_sources or not _numeric(qa) or len(ev) != 1:
            return None
        lines = texts[ev[0]].splitlines()
        for i, ln in enumerate(lines):
            toks = [parse_number(t) for t in ln.split()]
            if parse_number(qa.answer) in toks:
                col = toks.index(parse_number(qa.answer)) - len(toks)
                for j in (i + 1, i - 1):
                    if 0 <= j < len(lines):
                        other = [parse_number(t) for t in lines[j].split()]
                        if len(other) == len(toks) and other[col] is not None and other[col] != toks[col + len(toks)]:
                            return replace(qa, answer=fmt_number(other[col]) if qa.answer_format == "Integer"
                                           else lines[j].split()[col]), doc
        return None
    if kind == "heading_neighbour":
        items = parse_list(qa.answer) if qa.answer_format == "List" else [qa.answer]
        heads = begins_on(qa.question, doc)
        if qa.task == "reasoning" or heads is None or not items:
            return None
        secs = sorted(doc.sections, key=lambda s: int(s["first_page"]))
        i = next((k for k, s in enumerate(secs) if norm(str(s.get("heading") or "")) in heads), None)
        if i is None or i + 1 >= len(secs):
            return None
        other = str(secs[i + 1].get("heading") or "")
        if not other or norm(other) in heads:
            return None
        if qa.answer_format == "List":
            items = [other if norm(x) in heads else x for x in items]
            return replace(qa, answer=json.dumps(items, ensure_ascii=False)), doc
        return replace(qa, answer=other), doc
    raise ValueError(kind)


def _neighbour(qa, doc: Document) -> str | None:
    """What a reader who slips a row or a page would answer: another number near the answer's."""
    if not _numeric(qa) or not qa.evidence_pages:
        return None
    t = _texts(doc).get(sorted(qa.evidence_pages)[0], "")
    a = parse_number(qa.answer)
    for o in anchor.find(t, qa.answer):
        for tok in o.unit.toks:
            v = parse_number(tok)
            if v is not None and v != a:
                return fmt_number(v)
    others = [v for v in numbers_in(t) if v != a]   # else the next number printed on the page
    return fmt_number(others[0]) if others else None


# -- the run ------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=os.environ.get("MMPROLONG_DEBIAN_CACHE", "/tmp/mmprolong-debian"))
    ap.add_argument("--segments", type=int, default=24, help="segments per document (x3 tasks x 2 generators)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache = Path(args.cache)
    t0 = time.perf_counter()
    pdfs = fetch_pdfs(cache)
    docs = load_store(cache, pdfs)
    print(f"{len(docs)} documents", flush=True)
    t_ingest = time.perf_counter() - t0
    shared = shared_lines(docs)
    teacher = TeacherServer()
    teacher.default = ("fn", page_teacher)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        items = generate(docs, args.segments, teacher.base_url, Path(tmp))
    t_gen = time.perf_counter() - t1
    print(f"{len(items)} items in {t_gen:.0f} s", flush=True)
    teacher.close()

    reader = MistakenReader()
    for d in docs:
        reader.register(d)
    for _, qa, d in items:
        reader.teach(qa.question, qa.answer, _neighbour(qa, d))
    os.environ.setdefault("BENCH_VERIFIER_KEY", "local")
    ver = Verifier(VerifyConfig(kind="openai", model="mistaken-reader", base_url=reader.base_url,
                                api_key_env="BENCH_VERIFIER_KEY", concurrency=8, only_if_rules_pass=True))

    # clean items: every generated item; kept ones are corrupted
    t2 = time.perf_counter()
    clean = defaultdict(lambda: [0, 0, Counter()])        # generator -> [rejected, n, reasons]
    kept, clean_rejects = [], []
    for gen, qa, d in items:
        v = verify(qa, d, shared=shared)
        r = clean[gen]
        r[0] += not v.ok
        r[1] += 1
        r[2].update(v.checks_failed)
        if v.ok:
            kept.append((gen, qa, d))
        else:
            clean_rejects.append({"generator": gen, "doc": Path(d.source).name, "question": qa.question,
                                  "answer": qa.answer, "evidence_pages": qa.evidence_pages,
                                  "evidence": qa.evidence[-300:], "failed": v.checks_failed})
    t_rules_clean = time.perf_counter() - t2
    print(f"clean checked in {t_rules_clean:.0f} s", flush=True)
    cases = []
    for gen, qa, d in kept:
        rng = random.Random(qa.question + qa.doc_id)
        for kind in KINDS:
            c = corrupt(kind, qa, d, rng)
            if c is not None:
                cases.append((kind, gen, qa, *c))
    # per kind and generator: caught by rules / verifier / both, with the reasons
    res = defaultdict(lambda: {"n": 0, "rules": 0, "verifier": 0, "both": 0, "reasons": Counter()})
    t3 = time.perf_counter()
    misses: list[dict] = []
    for kind, gen, orig, bad, d in cases:
        r = res[(kind, gen)]
        rv = verify(bad, d, shared=shared)
        verdict = ver.check(bad, d)
        bv = verify(bad, d, verifier=ver, shared=shared)
        r["n"] += 1
        r["rules"] += not rv.ok
        r["verifier"] += not verdict.agrees or bool(verdict.failed)
        r["both"] += not bv.ok
        r["reasons"].update(rv.checks_failed)
        if rv.ok:
            misses.append({"kind": kind, "generator": gen, "doc": Path(d.source).name, "question": bad.question,
                           "answer": bad.answer, "right": orig.answer, "evidence_pages": bad.evidence_pages,
                           "evidence": bad.evidence[-300:], "passed": rv.checks_passed})
    t_cases = time.perf_counter() - t3
    print(f"{len(cases)} cases in {t_cases:.0f} s", flush=True)
    # clean items through the verifier: its own false rejections
    vclean = defaultdict(lambda: [0, 0, 0])   # generator -> [verifier alone rejects, both reject, n]
    for gen, qa, d in items:
        verdict = ver.check(qa, d)
        bv = verify(qa, d, verifier=ver, shared=shared)
        x = vclean[gen]
        x[0] += not verdict.agrees or bool(verdict.failed)
        x[1] += not bv.ok
        x[2] += 1
    ver.close()
    reader.close()
    (cache / "misses.json").write_text(json.dumps(misses, indent=1, ensure_ascii=False))
    (cache / "clean_rejects.json").write_text(json.dumps(clean_rejects, indent=1, ensure_ascii=False))

    def pct(a, n):
        return f"{a}/{n} ({100 * a / n:.1f}%)" if n else "-"

    n_pages = sum(d.n_pages for d in docs)
    lines = ["# Verification on real manuals (bench/verify.py)", "",
             f"Device: this project's shared CPU machine ({os.cpu_count()} cores, {cpu_name()}), loaded by other "
             "engineers' work at the time.",
             f"Documents: {len(docs)} PDFs of {MIN_PAGES}-{MAX_PAGES} pages ({n_pages:,} pages) from the Debian "
             f"packages {', '.join(PACKAGES)}, fetched with apt-get download and dpkg -x: "
             + ", ".join(sorted(Path(d.source).name for d in docs)) + ".",
             f"Items: {args.segments} segments (8-15 pages) per document x 3 tasks, from the rules generator and from "
             "the stand-in teacher (tests/synth/page_teacher.py, behind the real openai generator and HTTP); "
             f"{len(items)} generated, {len(kept)} accepted by the rule checks and corrupted. "
             f"Seconds: fetch+ingest {t_ingest:.0f}, generation {t_gen:.0f}, rule checks on the clean items "
             f"{t_rules_clean:.1f}, all settings on the {len(cases)} corrupted items {t_cases:.0f}.", "",
             "## Corrupted items caught", "",
             "Rules: `verify()` alone. Verifier: the model alone (MistakenReader: misreads 6% of page-reading "
             "requests, answers the neighbouring row or page 4%, refuses 4%). Both: `verify()` with the verifier "
             "(asked only when the rules pass; it can rescue `no_calculation` and `unchecked_by_rules`).", "",
             "| corruption | generator | items | rules alone | verifier alone | both | rules' reasons |",
             "|---|---|---:|---:|---:|---:|---|"]
    for kind in KINDS:
        for gen in ("rules", "teacher"):
            r = res.get((kind, gen))
            if not r:
                lines.append(f"| {kind} | {gen} | 0 | - | - | - | kind does not arise from these items |")
                continue
            reasons = ", ".join(f"{k} {v}" for k, v in r["reasons"].most_common(4))
            lines.append(f"| {kind} | {gen} | {r['n']} | {pct(r['rules'], r['n'])} | {pct(r['verifier'], r['n'])} | "
                         f"{pct(r['both'], r['n'])} | {reasons} |")
    for kind in KINDS:
        n = sum(res[(kind, g)]["n"] for g in ("rules", "teacher") if (kind, g) in res)
        c = sum(res[(kind, g)]["rules"] for g in ("rules", "teacher") if (kind, g) in res)
        lines.append(f"| **{kind}** | both generators | {n} | **{pct(c, n)}** | | | |")
    lines += ["", "## Clean items rejected (false rejections)", "",
              "Every generated item, before corruption. A rejection here is either a false rejection or a generator "
              "item that is in fact wrong; the reasons say which checks fired.", "",
              "| generator | items | rules alone | verifier alone | both | rules' reasons |",
              "|---|---:|---:|---:|---:|---|"]
    for gen in ("rules", "teacher"):
        r, x = clean[gen], vclean[gen]
        reasons = ", ".join(f"{k} {v}" for k, v in r[2].most_common(6))
        lines.append(f"| {gen} | {r[1]} | {pct(r[0], r[1])} | {pct(x[0], x[2])} | {pct(x[1], x[2])} | {reasons} |")
    lines += ["", f"Verifier stand-in mistakes made: {dict(reader.errors)}.", ""]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
