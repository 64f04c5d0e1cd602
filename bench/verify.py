"""Verification catch rates: corrupted QA items run through `synth.verify.verify`, rule checks alone and with the
verifier model on, and the false-rejection rate on the uncorrupted items.

The verifier is tests/synth/verifier_server.py: a real HTTP server on 127.0.0.1 behind the real client path
(OpenAI client, cache, concurrency limit), standing in for a VLM that reads the page images it is sent and answers
from their text (and, asked closed-book, from "world knowledge": capital cities). It reads perfectly, so these
numbers measure the pipeline (which pages are sent, how answers are scored, which reason rejects), not the reading
accuracy of a real model: a real verifier's own mistakes add false rejections and misses on top.

Corruptions: wrong value from the same page (the workers count printed beside the tonnes), wrong
evidence page (question and evidence moved to another page), reasoning item with no calculation (no calc line, no
quoted operands, the sum given for a change), a question answerable from world knowledge (a capital city named on
the page). Control: a reasoning item with no calculation but the right answer (kept only when the verifier agrees).
A last setting uses a weak stand-in that answers "Not answerable" to 10% of page-reading requests, to show what a
verifier's own misreadings cost: about that share of false rejections on clean items.

    python bench/verify.py [--docs 120]          writes bench/results/verify.md
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))   # tests.synth.verifier_server

from device import cpu_name  # noqa: E402  bench/device.py
from mmprolong.synth import verify  # noqa: E402
from mmprolong.synth.config import VerifyConfig  # noqa: E402
from mmprolong.synth.verifier import Verifier  # noqa: E402
from tests.synth.verifier_server import CORRUPTIONS, VerifierServer, corrupt, make_corpus  # noqa: E402

RESULTS = HERE / "results" / "verify.md"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=120)
    args = ap.parse_args()
    corpus = make_corpus(args.docs, seed=7)
    server, weak = VerifierServer(), VerifierServer(misread=0.1)
    for doc, _, _ in corpus:
        server.register(doc)
        weak.register(doc)
    os.environ.setdefault("BENCH_VERIFIER_KEY", "local")
    settings = {
        "rules only": None,
        "rules + verifier": VerifyConfig(kind="openai", model="reader", base_url=server.base_url,
                                         api_key_env="BENCH_VERIFIER_KEY", concurrency=8),
        "verifier on every item": VerifyConfig(kind="openai", model="reader", base_url=server.base_url,
                                               api_key_env="BENCH_VERIFIER_KEY", only_if_rules_pass=False),
        "rules + weak verifier (misreads 10%)": VerifyConfig(kind="openai", model="weak-reader", base_url=weak.base_url,
                                                             api_key_env="BENCH_VERIFIER_KEY", concurrency=8),
    }
    kinds = ["clean extract-single", "clean reasoning", *CORRUPTIONS, "no calculation, right answer"]
    table: dict[str, dict[str, tuple[int, int, Counter]]] = {}
    usage: dict[str, Counter] = {}
    secs: dict[str, float] = {}
    for name, cfg in settings.items():
        ver = Verifier(cfg) if cfg is not None else None
        use = Counter()
        t = time.perf_counter()
        res = {k: [0, 0, Counter()] for k in kinds}
        for doc, facts, items in corpus:
            rng = random.Random(doc.doc_id)
            cases = {"clean extract-single": items["single"], "clean reasoning": items["reasoning"],
                     **{k: corrupt(k, items, facts, rng) for k in CORRUPTIONS},
                     "no calculation, right answer": replace(items["reasoning"],
                                                             evidence="The two pages give the plant's output.")}
            for k, qa in cases.items():
                v = verify(qa, doc, verifier=ver, usage=use)
                res[k][0] += not v.ok
                res[k][1] += 1
                res[k][2].update(v.checks_failed)
        secs[name] = time.perf_counter() - t
        usage[name] = use
        table[name] = {k: tuple(v) for k, v in res.items()}
        if ver is not None:
            ver.close()
        print(name, {k: f"{r[0]}/{r[1]}" for k, r in table[name].items()}, flush=True)
    server.close()
    weak.close()

    def cell(r) -> str:
        return f"{r[0]}/{r[1]} ({100 * r[0] / r[1]:.1f}%)"

    lines = ["# Verification catch rates (bench/verify.py)", "",
             f"Device: this project's shared CPU machine ({os.cpu_count()} cores, {cpu_name()}).",
             f"{args.docs} generated documents (10 pages: a title, 8 plant-year pages, a capital-city page), one item "
             "per kind per document. Verifier: the local stand-in reader (see the script's docstring): it reads "
             "perfectly, so this measures the verification pipeline, not a real model's accuracy.", "",
             "Rejected items (a corrupted item rejected is caught; a clean item rejected is a false rejection):", "",
             "| item kind | " + " | ".join(settings) + " |", "|---|" + "---:|" * len(settings)]
    for k in kinds:
        lines.append(f"| {k} | " + " | ".join(cell(table[n][k]) for n in settings) + " |")
    for n in ("rules + verifier", "verifier on every item"):
        lines += ["", f"Reasons ({n}):", "", "| item kind | failed checks |", "|---|---|"]
        for k in kinds:
            reasons = table[n][k][2]
            lines.append(f"| {k} | " + (", ".join(f"{r} {c}" for r, c in reasons.most_common()) or "none") + " |")
    lines += ["", "| setting | verifier requests | prompt tokens | completion tokens | seconds |",
              "|---|---:|---:|---:|---:|"]
    for n in settings:
        u = usage[n]
        lines.append(f"| {n} | {u['requests']} | {u['prompt_tokens']} | {u['completion_tokens']} | {secs[n]:.1f} |")
    lines += ["", "Target: >= 95% of each corruption caught with the verifier on. The control row is not a "
              "corruption: a reasoning item without a calculation is kept when the verifier agrees with its answer.",
              ""]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
