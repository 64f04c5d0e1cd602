"""The data report of a build: OUT/report/report.md with PNG plots beside it, from what is on disk.

It answers the paper's questions next to the recipe's target and, for the paper's two length modes (pool-native,
long-biased), the paper's own figures (PAPER): pages per instance, n_tokens min / p10 / p50 / p90 / max, the share of
instances >= 100K tokens, image tokens per page, the task mix planned vs achieved, rejections per named check
("verify: <check>"), evidence depth against a uniform spread, length buckets finer than the plan's (report_edges),
the token budget spent and whether the pool ran out, and the page store the build read. Everything is read from OUT
(shards/, rejected/, manifest.json), so the report of a resumed build is the report of the whole build.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

import numpy as np  # noqa: E402

from .buckets import bucket_of, fmt_tokens, labels, report_edges  # noqa: E402
from .parts import read_table  # noqa: E402

LONG = 100_000   # "instances >= 100K tokens" (the paper's long-biased headline: 83.9%)
# The paper's dataset figures (docs/PAPER.md), per length mode; tokens with Qwen2.5-VL-7B's processor at 144 DPI.
PAPER = {
    "pool-native": {"instances": "177,774", "pages": "avg 38.4", "tokens": "avg 85.3K, range 32.8K-126.8K",
                    "long": "23.6%", "page_tokens": "about 2.2K",   # 23.6%: the paper's figure (not restated in
                    "tasks": {"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2}},   # docs/PAPER.md)
    "long-biased": {"instances": "179,130", "pages": "50-100 per document", "tokens": "avg 114.3K",
                    "long": "83.9%", "page_tokens": "about 2.2K",
                    "tasks": {"extract-single": 0.4, "extract-multi": 0.4, "reasoning": 0.2}},
}

TASK_COLORS = {"extract-single": "#1f77b4", "extract-multi": "#2ca02c", "reasoning": "#d62728",
               "ocr-full": "#9467bd", "ocr-needle": "#8c564b"}


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _lengths_plot(rows: list[dict], manifest: dict, path: Path) -> str:
    edges = manifest["edges"]
    fine = report_edges(int(manifest["recipe"].get("max_length") or edges[-1]))
    present = {r["bucket"] for r in rows}
    names = ([b for b in present if b.startswith("<")] + labels(edges) + [b for b in present if b.startswith(">")])
    tasks = sorted({r["task"] for r in rows}, key=lambda t: list(TASK_COLORS).index(t) if t in TASK_COLORS else 99)
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8))
    lo = min([fine[0]] + [r["n_tokens"] for r in rows])
    hi = max([fine[-1]] + [r["n_tokens"] for r in rows])
    bins = np.geomspace(max(lo, 1), hi, 41)     # log-spaced: every power of two gets the same width
    for t in tasks:
        a.hist([r["n_tokens"] for r in rows if r["task"] == t], bins=bins, histtype="step",
               linewidth=2, label=t, color=TASK_COLORS.get(t))
    for e in fine:
        a.axvline(e, color="grey", linewidth=0.6, linestyle=":")
    a.set_xscale("log", base=2)
    a.set_xlabel("tokens per instance (exact; log scale)")
    a.set_ylabel("instances")
    a.set_title("Instance length per task")
    ticks = [e for e in fine if e & (e - 1) == 0 or e == fine[-1]]   # powers of two (and the top): no crowding
    a.set_xticks(ticks, [fmt_tokens(e) for e in ticks], rotation=45, ha="right")
    a.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    a.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if tasks:
        a.legend(fontsize=8)
    n = len(rows) or 1
    x = range(len(names))
    bottom = [0.0] * len(names)
    for t in tasks:
        share = [sum(1 for r in rows if r["task"] == t and r["bucket"] == nm) / n for nm in names]
        b.bar(x, share, bottom=bottom, color=TASK_COLORS.get(t), label=f"achieved: {t}", width=0.6)
        bottom = [u + v for u, v in zip(bottom, share)]
    target = [manifest["target_shares"].get(nm, 0.0) for nm in names]
    b.scatter(x, target, marker="_", s=500, linewidths=3, color="black", label="target", zorder=3)
    b.set_xticks(list(x), names, rotation=45, ha="right")
    b.set_ylabel("share of instances")
    b.set_title("Length buckets: achieved (bars) vs target (black)")
    b.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _save(fig, path)


def _depth_plot(depths: list[float], path: Path) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.hist(depths, bins=10, range=(0, 1), color="#1f77b4", edgecolor="white", label="achieved")
    ax.axhline(len(depths) / 10, color="black", linestyle="--", linewidth=1.2, label="uniform")
    ax.set_title("Evidence depth in the instance")
    ax.set_xlabel("depth (0 = start, 1 = end)")
    ax.set_ylabel("instances")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    return _save(fig, path)


def _hist_plot(values: list[float], path: Path, title: str, xlabel: str, bins, rng=None) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(values, bins=bins, range=rng, color="#1f77b4", edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("instances")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    return _save(fig, path)


def _tasks_plot(achieved: dict[str, float], target: dict[str, float], path: Path) -> str:
    names = sorted(set(achieved) | set(target), key=lambda t: list(TASK_COLORS).index(t) if t in TASK_COLORS else 99)
    fig, ax = plt.subplots(figsize=(6, 4))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [target.get(t, 0) for t in names], width=0.4, color="#bbbbbb", label="target")
    ax.bar([i + 0.2 for i in x], [achieved.get(t, 0) for t in names], width=0.4,
           color=[TASK_COLORS.get(t, "#1f77b4") for t in names], label="achieved")
    ax.set_xticks(list(x), names, rotation=20, ha="right")
    ax.set_ylabel("share of instances")
    ax.set_title("Task mix")
    ax.legend()
    return _save(fig, path)


def _rejections_plot(reasons: Counter, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(7, 0.5 * max(3, len(reasons)) + 1))
    items = reasons.most_common()
    if not items:
        ax.text(0.5, 0.5, "no rejections", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="#d62728")
    ax.set_xlabel("candidates rejected")
    ax.set_title("Rejection reasons")
    return _save(fig, path)


def _md_table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def rejection_checks(reasons: list[str]) -> Counter:
    """Rejections per named check: "verify: a, b" counts once for "verify: a" and once for "verify: b"; any other
    reason by its name (the part before the colon)."""
    out: Counter = Counter()
    for r in reasons:
        name, _, rest = r.partition(":")
        if name == "verify" and rest.strip():
            out.update(f"verify: {c.strip()}" for c in rest.split(",") if c.strip())
        else:
            out[name] += 1
    return out


def depth_vs_uniform(depths: list[float]) -> dict:
    """Mean depth (uniform: 0.5) and the Kolmogorov-Smirnov distance to a uniform spread on [0, 1] (0 = uniform)."""
    if not depths:
        return {"n": 0, "mean": 0.0, "ks": 0.0}
    d = np.sort(np.asarray(depths, dtype=np.float64))
    n = len(d)
    ks = max(float(np.max(np.arange(1, n + 1) / n - d)), float(np.max(d - np.arange(n) / n)))
    return {"n": n, "mean": float(d.mean()), "ks": ks}


def _k(v: float) -> str:
    return f"{v / 1000:.1f}K"


def write_report(out: str | Path) -> Path | str:
    """Write OUT/report/report.md and its PNGs; returns the report path. OUT may be an fsspec URL: the report is
    then made in a local temporary folder and its files uploaded."""
    from .. import storage

    if storage.is_local(out):
        rep = storage.local_path(out) / "report"
        rep.mkdir(exist_ok=True)
        return _write_report(out, rep)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _write_report(out, Path(tmp))
        storage.makedirs(storage.join(out, "report"))
        for f in sorted(Path(tmp).iterdir()):
            storage.write_bytes(storage.join(out, "report", f.name), f.read_bytes())
    return storage.join(out, "report", "report.md")


def _write_report(out, rep: Path) -> Path:
    from .. import storage

    manifest = json.loads(storage.read_text(storage.join(out, "manifest.json")))
    rows = read_table(out, "shards", ["task", "n_tokens", "n_image_tokens", "depth", "bucket", "pages"]).to_pylist()
    rejected = read_table(out, "rejected", ["task", "reason"]).to_pylist()
    s = manifest["summary"]
    recipe = manifest["recipe"]
    lengths = recipe.get("lengths") or {}
    mode = lengths.get("mode", "")
    paper = PAPER.get(mode)
    n = len(rows) or 1
    achieved_tasks = {t: c / n for t, c in Counter(r["task"] for r in rows).items()}
    reasons = rejection_checks([r["reason"] for r in rejected])
    depths = [r["depth"] for r in rows if r["depth"] is not None]
    figs = {
        "lengths": _lengths_plot(rows, manifest, rep / "lengths.png"),
        "depth": _depth_plot(depths, rep / "depth.png"),
        "pages": _hist_plot([len(r["pages"]) for r in rows], rep / "pages.png", "Pages per instance", "pages",
                            bins=20),
        "tasks": _tasks_plot(achieved_tasks, manifest["task_shares"], rep / "tasks.png"),
        "rejections": _rejections_plot(reasons, rep / "rejections.png"),
    }
    total = s["tokens"]
    img = sum(r["n_image_tokens"] for r in rows)
    toks = [r["n_tokens"] for r in rows]
    pages = [len(r["pages"]) for r in rows]
    n_pages = sum(pages)
    planned = {t: sum(b.values()) for t, b in manifest["targets"].items()}
    n_planned = sum(planned.values()) or 1
    dep = depth_vs_uniform(depths)
    max_len = int(recipe.get("max_length") or manifest["edges"][-1])
    store = manifest.get("store") or {}
    page_target = (f"{lengths.get('min_pages')}-{lengths.get('max_pages')} pages per document"
                   if mode != "histogram" else "windows cut to the bucket")
    long_target = "" if mode != "histogram" else f"{sum(v for b, v in manifest['target_shares'].items() if _lo(b) >= LONG):.1%} (buckets from 100K)"
    col = [f"paper ({mode})"] if paper else []
    stats = [
        ["instances", f"{len(rows):,}", "", *([paper["instances"]] if paper else [])],
        ["pages per instance: mean / p50 / min-max",
         f"{n_pages / n:.1f} / {_pct(pages, 50):.0f} / {min(pages, default=0)}-{max(pages, default=0)}",
         page_target, *([paper["pages"]] if paper else [])],
        ["n_tokens: min / p10 / p50 / p90 / max",
         " / ".join(_k(v) for v in (min(toks, default=0), _pct(toks, 10), _pct(toks, 50), _pct(toks, 90),
                                    max(toks, default=0))), f"<= {max_len:,}",
         *([paper["tokens"]] if paper else [])],
        ["n_tokens: mean", _k(total / n), "", *([""] if paper else [])],
        [f"instances >= 100K tokens ({LONG:,})", f"{sum(t >= LONG for t in toks) / n:.1%}", long_target,
         *([paper["long"]] if paper else [])],
        ["image tokens per page", f"{img / max(n_pages, 1):,.0f}", "", *([paper["page_tokens"]] if paper else [])],
        ["image tokens, share of all tokens", f"{img / max(total, 1):.1%}", "", *([""] if paper else [])],
        ["evidence depth: mean / KS distance to uniform", f"{dep['mean']:.2f} / {dep['ks']:.2f}",
         "uniform: 0.50 / 0", *([""] if paper else [])],
    ]
    fine = report_edges(max_len)
    fine_counts = Counter(bucket_of(t, fine) for t in toks)
    fine_names = ([b for b in fine_counts if b.startswith("<")] + labels(fine)
                  + [b for b in fine_counts if b.startswith(">")])
    depth_bins = np.histogram(np.asarray(depths, dtype=np.float64), bins=10, range=(0, 1))[0] if depths else [0] * 10
    lines = [
        f"# Data report: {s['recipe']} (recipe hash {s['recipe_hash']})", "",
        f"- instances: **{s['samples']}** from {s['docs_done']} of {s['docs_planned']} planned documents; "
        f"QA kept {s['qa_kept']}, candidates rejected {s['rejected']}",
        f"- tokens: **{total:,}** of a {s['budget_tokens']:,} budget ({100 * total / s['budget_tokens']:.1f}%)"
        + ("; **the pool ran out**: every planned document was read before the budget was reached"
           if s.get("pool_exhausted") else ""),
        f"- image tokens {100 * img / max(total, 1):.1f}% of all; mean instance {total / n:,.0f} tokens, "
        f"{n_pages / n:.1f} pages",
        (f"- store: {store.get('path')} (manifest sha256 {store.get('manifest_sha256', '')[:16]}, "
         f"{store.get('documents', 0):,} documents)" if store else "- store: not recorded"), "",
        "## The paper's statistics", "",
        _md_table(["statistic", "achieved", "recipe target", *col], stats), "",
        "## Task mix", "",
        _md_table(["task", "recipe share", "planned", "planned share", "achieved", "achieved share",
                   "achieved - recipe (points)", *(["paper"] if paper else [])],
                  [[t, f"{manifest['task_shares'].get(t, 0):.2f}", planned.get(t, 0),
                    f"{planned.get(t, 0) / n_planned:.2f}", sum(1 for r in rows if r["task"] == t),
                    f"{achieved_tasks.get(t, 0):.3f}",
                    f"{100 * (achieved_tasks.get(t, 0) - manifest['task_shares'].get(t, 0)):+.1f}",
                    *([f"{paper['tasks'].get(t, 0):.2f}"] if paper else [])]
                   for t in sorted(set(planned) | set(achieved_tasks),
                                   key=lambda t: list(TASK_COLORS).index(t) if t in TASK_COLORS else 99)]),
        "", f"![task mix]({figs['tasks']})", "",
        "## Lengths", "",
        _md_table(["bucket", "target share", "achieved", "achieved share"],
                  [[b, f"{manifest['target_shares'].get(b, 0):.2f}", c, f"{c / n:.2f}"]
                   for b, c in sorted(Counter(r["bucket"] for r in rows).items(),
                                      key=lambda kv: labels(manifest["edges"]).index(kv[0])
                                      if kv[0] in labels(manifest["edges"]) else -1)]
                  + [[b, f"{v:.2f}", 0, "0.00"] for b, v in manifest["target_shares"].items()
                     if b not in {r["bucket"] for r in rows}]), "",
        "Finer buckets (achieved):", "",
        _md_table(["tokens", "instances", "share"],
                  [[b, fine_counts.get(b, 0), f"{fine_counts.get(b, 0) / n:.3f}"] for b in fine_names]),
        "", f"![lengths]({figs['lengths']})", "",
        "## Evidence depth and pages", "",
        f"Mean depth {dep['mean']:.2f} (uniform 0.50); Kolmogorov-Smirnov distance to uniform {dep['ks']:.2f} "
        f"over {dep['n']} instances with evidence.", "",
        _md_table(["depth"] + [f"{k / 10:.1f}-{(k + 1) / 10:.1f}" for k in range(10)],
                  [["share"] + [f"{c / max(dep['n'], 1):.2f}" for c in depth_bins],
                   ["uniform"] + ["0.10"] * 10]), "",
        f"![depth]({figs['depth']}) ![pages]({figs['pages']})", "",
        "## Rejections per named check", "",
        _md_table(["reason / check", "candidates"], [[k, v] for k, v in reasons.most_common()]) if reasons else "none",
        "", f"![rejections]({figs['rejections']})", "",
        *verification_section(manifest, rejected, read_table(out, "qa", ["task", "checks_passed"]).to_pylist()),
        "## Documents left out by the plan", "",
        *dedup_line(manifest.get("summary") or {}),
        _md_table(["reason", "documents"], [[k, v] for k, v in manifest["skipped_docs"].items()])
        if manifest["skipped_docs"] else "none", "",
        *_view_samples(out, rep, manifest),
    ]
    path = rep / "report.md"
    path.write_text("\n".join(lines))
    return path


def dedup_line(summary: dict) -> list[str]:
    """Whether the build deduplicated the store, and how many documents near-duplicates removed."""
    state = summary.get("dedup")
    if not state:
        return []
    if state == "off":
        return ["Near-duplicate detection was off (`--no-dedup`): pool near-duplicates were kept.", ""]
    how = "found by this build before planning" if state == "ran" else "as recorded for the store"
    return [f"Near-duplicates ({how}) removed {summary.get('near_duplicates_removed', 0):,} documents.", ""]


# a passed check that read the evidence pages' text (its ":ocr" form too): the item's evidence was checked by rules
EVIDENCE_CHECKS = ("answer_in_evidence", "answer_at_labels", "operands_at_labels", "operands_in_evidence",
                   "recounted_from_structure", "heading_matches_sections",
                   "ocr_target_matches")


def evidence_checked(passed: list[str]) -> bool:
    return any(c.split(":")[0] in EVIDENCE_CHECKS for c in passed or [])


def verification_section(manifest: dict, rejected: list[dict], qa: list[dict] | None = None) -> list[str]:
    """Per-check rejections of verify (rule and model checks), items the rules could not check (no trustworthy
    text on their evidence pages), the share of kept items whose evidence the rules checked, and the verifier
    model's requests and tokens."""
    from ..synth.verifier import MODEL_FAILURES

    checks = Counter(c.strip() for r in rejected if r["reason"].startswith("verify:")
                     for c in r["reason"].split(":", 1)[1].split(","))
    v = (manifest.get("recipe") or {}).get("verify") or {}
    use = manifest.get("verifier_usage") or {}
    if v.get("kind", "none") == "none":
        head = ("**Model verification was OFF** (recipe `verify.kind: none`): only the rule checks ran; answers were "
                "checked to occur on the evidence pages, not answered again by a model.")
    else:
        head = (f"Model verification ON: `{v.get('model')}`, checks {', '.join(v.get('checks', []))}; "
                f"{use.get('requests', 0):,} requests ({use.get('cache_hits', 0):,} cache hits, "
                f"{use.get('failed', 0):,} failed), {use.get('prompt_tokens', 0):,} prompt + "
                f"{use.get('completion_tokens', 0):,} completion tokens.")
    rows = [[k, "model" if k in MODEL_FAILURES else "rule", n] for k, n in checks.most_common()]
    out = ["## Verification", "", head, "",
           _md_table(["failed check", "kind", "candidates"], rows) if rows else "no candidate failed a check", ""]
    kept = [r for r in (qa or []) if r.get("task") in ("extract-single", "extract-multi", "reasoning")]
    by_verifier = sum("checked_by_verifier_only" in (r.get("checks_passed") or []) for r in kept)
    checked = sum(evidence_checked(r.get("checks_passed")) for r in kept)
    out += [f"Unchecked by rules (evidence pages without trustworthy text: empty, or OCR noise stored as "
            f"`text_source: none`): {checks.get('unchecked_by_rules', 0):,} candidates rejected, {by_verifier:,} kept "
            "because the verifier model agreed.",
            f"Kept QA items whose evidence the rule checks read: {checked:,} of {len(kept):,}"
            + (f" ({100 * checked / len(kept):.1f}%)." if kept else "."), ""]
    return out


def _lo(bucket: str) -> float:
    """Lower token bound of a bucket label ("96K-112K" -> 98304, "<1K" -> 0, ">128K" -> inf-ish)."""
    if bucket.startswith("<"):
        return 0
    part = bucket.lstrip(">").split("-")[0]
    mult = 1024 if part.endswith("K") else 1
    return float(part.rstrip("K")) * mult + (1 if bucket.startswith(">") else 0)


def _view_samples(out, rep: Path, manifest: dict) -> list[str]:
    """A few sample items with evidence-page thumbnails, and the `mmprolong view` line (view/samples.py)."""
    from ..view.samples import sample_section

    return sample_section(out, rep, manifest)
