"""Agreement of `--scorer mmlongbench` with MMLongBench's own rule-based doc-QA scorer, run for comparison only.

The reference is NOT part of this repository: give the git directory of a checkout (or mirror) of
EdinburghNLP/MMLongBench; its `utils.py` is read from git at run time and only the scoring functions are executed
(`parse_output`, `eval_docqa_score` and the helpers they call; its torch / rouge imports are never run). Golds are
MMLongBench-Doc's data/samples.json read from a checkout of mayubo2333/MMLongBench-Doc, formats and Python-literal
lists converted as MMLongBench's own JSONL has them (Int -> Integer, Str -> String, lists as JSON).

Every gold gets the prediction variants of `variants()` (exact, verbose, hedged, wrong, declined, re-cased, list
re-orderings and partial lists, percentage conversions, ...). Agreement = same score (float64 equality) and the same
right/wrong verdict (score >= 0.5), per format.

`--write-fixture` also writes tests/eval/scorers/data/mmlongbench_battery.jsonl: hand-written real-style golds of
every format (not the dataset's) with their variants and the reference's scores, which the unit tests check.

Writes bench/results/eval_scorer.md.
Usage: python bench/eval_scorer.py --reference GITDIR --golds GITDIR [--write-fixture]
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "eval" / "scorers" / "data" / "mmlongbench_battery.jsonl"
REF_FUNCS = ("remove_articles", "white_space_fix", "remove_punc", "lower", "normalize_answer", "f1_score",
             "get_docqa_clean_string", "is_float_equal", "need_exact_match_check", "extract_number_list",
             "get_str_type", "eval_docqa_score", "parse_output")
FMT = {"Int": "Integer", "Str": "String", "Float": "Float", "List": "List", "None": "None"}

# Hand-written golds in the style of MMLongBench-Doc / LongDocURL / SlideVQA (for the committed fixture).
STYLE_GOLDS = [
    ("8", "Integer"), ("19", "Integer"), ("9259", "Integer"), ("0", "Integer"), ("2014", "Integer"),
    ("1,200", "Integer"), ("-3", "Integer"), ("12 million", "Integer"), ("$40", "Integer"), ("7 miles", "Integer"),
    ("18.29%", "Float"), ("21%", "Float"), ("17.5", "Float"), ("0.1", "Float"), ("3.14", "Float"),
    ("$1.25", "Float"), ("0.45", "Float"), ("1.5 million", "Float"), ("99.9%", "Float"), ("2.0", "Float"),
    ("Less well-off", "String"), ("Latinos interviewed by cellphone", "String"), ("Berlin", "String"),
    ("2015-2016", "String"), ("https://www.example.org/report", "String"), ("train.py", "String"),
    ("page 12", "String"), ("10:30 a.m.", "String"), ("2019-03-12", "String"), ("info@acme.com", "String"),
    ("The centres of Indian Space Programme", "String"), ("0-375 miles", "String"), ("12 34", "String"),
    ("Not answerable", "None"),
    ('["White", "10%"]', "List"), ('["Circle", "Rectangle"]', "List"), ('[1500, 8000]', "List"),
    ('["lower", "38"]', "List"), ('[16, 19, 25]', "List"), ('["The Economist", "TIME"]', "List"),
    ('["Google Play store", "1.3"]', "List"), ('["movement", "birth", "place of birth", "member"]', "List"),
    ('["https://a.org", "b.py"]', "List"), ('["0.5", "12%"]', "List"),
]


def git_show(gitdir: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", gitdir, "show", f"HEAD:{path}"], check=True, capture_output=True,
                          text=True).stdout


def load_reference(gitdir: str) -> dict:
    """The reference's scoring functions, executed from its source (nothing else of the file runs)."""
    src = ast.parse(git_show(gitdir, "utils.py"))
    keep = [n for n in src.body if isinstance(n, ast.FunctionDef) and n.name in REF_FUNCS]
    missing = set(REF_FUNCS) - {n.name for n in keep}
    if missing:
        raise SystemExit(f"reference utils.py lacks {sorted(missing)}")
    import json as _json, math, re, string  # noqa: E401  (the reference's own imports)
    from collections import Counter
    from math import isclose
    ns = {"re": re, "json": _json, "math": math, "string": string, "Counter": Counter, "isclose": isclose}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "<MMLongBench utils.py>", "exec"), ns)
    return ns


def ref_score(ref: dict, response: str, gold: str, fmt: str) -> float | str:
    parsed = ref["parse_output"](response, prefix="Answer:")
    if parsed is None:
        parsed = response
    try:
        return float(ref["eval_docqa_score"](gold, parsed, fmt))
    except Exception as e:  # noqa: BLE001 - the reference crashes on some golds; recorded as such
        return f"error: {type(e).__name__}"


def real_golds(gitdir: str) -> list[tuple[str, str]]:
    out = []
    for s in json.loads(git_show(gitdir, "data/samples.json")):
        fmt = FMT[s["answer_format"]]
        ans = s["answer"]
        if fmt == "List":
            ans = json.dumps(ast.literal_eval(ans), ensure_ascii=False)
        out.append((ans, fmt))
    return out


def _bump(g: str) -> str:
    import re
    m = re.search(r"\d+(\.\d+)?", g)
    if not m:
        return g + " x"
    v = m.group(0)
    new = str(int(v) + 1) if "." not in v else f"{float(v) * 1.5:.{len(v.split('.')[1])}f}"
    return g[:m.start()] + new + g[m.end():]


def variants(gold: str, fmt: str, other: str) -> list[str]:
    """Prediction variants of one gold (`other`: a different gold of the same format, for a wrong answer)."""
    v = [f"Answer: {gold}", gold, f"Based on page 3, the answer is {gold}.", f"Answer: {other}",
         "Answer: Not answerable", f"Answer: {gold} (the exact figure is not mentioned in the document)",
         f"Answer: {gold.upper()}", f"The analysis: the answer: is here.\nFinal Answer: {gold}",
         f"**Answer:** {gold}", f"answer: answer: {gold}"]
    if fmt in ("Integer", "Float"):
        v += [f"Answer: {_bump(gold)}", f"Answer: about {gold} or {_bump(gold)}"]
        if fmt == "Float":
            try:
                x = float(gold.strip().rstrip("%").replace(",", "").lstrip("$"))
                v += [f"Answer: {x / 100:.4f}", f"Answer: {x * 1.005:g}", f"Answer: {x:.1f}%"]
            except ValueError:
                pass
    if fmt == "List":
        items = json.loads(gold)
        items = items if isinstance(items, list) else [items]
        strs = [str(x) for x in items]
        v += [f"Answer: {', '.join(strs)}", f"Answer: {items!r}", f"Answer: {json.dumps(items[::-1])}",
              f"Answer: {strs[0] if strs else ''}", f"Answer: {' and '.join(strs)}",
              f"Answer: {json.dumps(items + ['extra'])}"]
    if fmt in ("String", "None"):
        v += [f"Answer: {gold.lower()}", f"Answer: It is {gold} according to the chart.",
              "Answer: The document does not say."]
    return v


def battery(golds: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    by_fmt = defaultdict(list)
    for g, f in golds:
        by_fmt[f].append(g)
    out = []
    for i, (g, f) in enumerate(golds):
        pool = by_fmt[f]
        other = pool[(pool.index(g) + 1) % len(pool)] if len(pool) > 1 else "something else"
        if other == g:
            other = "something else"
        out += [(p, g, f) for p in variants(g, f, other)]
    return out


def agreement(triples, ref) -> tuple[dict, list]:
    from mmprolong.eval.scorers.mmlongbench import score

    stats = defaultdict(lambda: {"n": 0, "same": 0, "verdict": 0, "ref_errors": 0, "both_refuse": 0})
    diffs = []
    for pred, gold, fmt in triples:
        s = stats[fmt]
        r = ref_score(ref, pred, gold, fmt)
        try:
            o = score(pred, gold, fmt)
        except ValueError:
            o = "error"
        if isinstance(r, str) or isinstance(o, str):
            s["ref_errors"] += isinstance(r, str)
            s["both_refuse"] += isinstance(r, str) and isinstance(o, str)
            if isinstance(r, str) != isinstance(o, str):
                diffs.append({"pred": pred, "gold": gold, "fmt": fmt, "ours": o, "reference": r})
            continue
        s["n"] += 1
        s["same"] += o == r
        s["verdict"] += (o >= 0.5) == (r >= 0.5)
        if o != r:
            diffs.append({"pred": pred, "gold": gold, "fmt": fmt, "ours": o, "reference": r})
    return dict(stats), diffs


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="git dir of EdinburghNLP/MMLongBench")
    ap.add_argument("--golds", required=True, help="git dir of mayubo2333/MMLongBench-Doc")
    ap.add_argument("--write-fixture", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results" / "eval_scorer.md"))
    a = ap.parse_args(argv)
    ref = load_reference(a.reference)
    golds = real_golds(a.golds)
    triples = battery(golds)
    stats, diffs = agreement(triples, ref)
    rev = subprocess.run(["git", "--git-dir", a.reference, "rev-parse", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    grev = subprocess.run(["git", "--git-dir", a.golds, "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    md = ["# Scorer agreement with MMLongBench's rule-based doc-QA scorer", "",
          f"{datetime.date.today()}; reference EdinburghNLP/MMLongBench@{rev[:12]} (`utils.eval_docqa_score`, "
          f"`parse_output`, executed from its source for this comparison only); golds "
          f"mayubo2333/MMLongBench-Doc@{grev[:12]} data/samples.json ({len(golds)} questions), "
          f"{len(triples)} (prediction, gold) pairs.", "",
          "| format | pairs scored | same score | same right/wrong | reference crashed (we refuse too) |",
          "|---|---:|---:|---:|---:|"]
    for f in ("Integer", "Float", "String", "List", "None"):
        s = stats.get(f, {"n": 0, "same": 0, "verdict": 0, "ref_errors": 0, "both_refuse": 0})
        n = max(s["n"], 1)
        md.append(f"| {f} | {s['n']} | {100 * s['same'] / n:.2f}% | {100 * s['verdict'] / n:.2f}% | "
                  f"{s['ref_errors']} ({s['both_refuse']}) |")
    md += ["", f"Pairs scored differently: {len(diffs)}."]
    from mmprolong.eval.scorers.mmlongbench import score
    strict = defaultdict(lambda: [0, 0])
    for pred, gold, fmt in triples:
        try:
            s0, s1 = score(pred, gold, fmt), score(pred, gold, fmt, strict=True)
        except ValueError:
            continue
        strict[fmt][0] += 1
        strict[fmt][1] += (s0 >= 0.5) != (s1 >= 0.5)
    md += ["", "`mmlongbench-strict` (last number only; case-insensitive exact forms) changes the right/wrong verdict "
           "on: " + ", ".join(f"{f} {100 * strict[f][1] / max(strict[f][0], 1):.1f}%"
                              for f in ("Integer", "Float", "String", "List", "None")) + " of the same pairs."]
    for d in diffs[:20]:
        md.append(f"- {d}")
    if a.write_fixture:
        fx = battery(STYLE_GOLDS)
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        rows = [{"pred": p, "gold": g, "answer_format": f, "reference": ref_score(ref, p, g, f)} for p, g, f in fx]
        FIXTURE.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        fs, fd = agreement(fx, ref)
        md += ["", f"Fixture: {len(rows)} pairs from {len(STYLE_GOLDS)} hand-written real-style golds written to "
               f"`{FIXTURE.relative_to(HERE.parent)}` (reference scores; {len(fd)} differ from ours)."]
    Path(a.out).write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    raise SystemExit(main(sys.argv[1:]))
