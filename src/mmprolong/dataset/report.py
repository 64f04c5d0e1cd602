"""The data report of a build: OUT/report/report.md with PNG plots beside it, from what is on disk.

It answers: are instance lengths spread as the recipe asked (per task, against the target), where does the evidence
sit in the instances, how many pages do instances hold, is the task mix right, why were candidates rejected, and how
much of the token budget was spent. Everything is read from OUT (shards/, rejected/, manifest.json), so the report of
a resumed build is the report of the whole build.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from .buckets import fmt_tokens, labels  # noqa: E402
from .parts import read_table  # noqa: E402

TASK_COLORS = {"extract-single": "#1f77b4", "extract-multi": "#2ca02c", "reasoning": "#d62728",
               "ocr-full": "#9467bd", "ocr-needle": "#8c564b"}


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _lengths_plot(rows: list[dict], manifest: dict, path: Path) -> str:
    edges = manifest["edges"]
    present = {r["bucket"] for r in rows}
    names = ([b for b in present if b.startswith("<")] + labels(edges) + [b for b in present if b.startswith(">")])
    tasks = sorted({r["task"] for r in rows}, key=lambda t: list(TASK_COLORS).index(t) if t in TASK_COLORS else 99)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    lo = min([edges[0]] + [r["n_tokens"] for r in rows])
    hi = max([edges[-1]] + [r["n_tokens"] for r in rows])
    bins = 40
    for t in tasks:
        a.hist([r["n_tokens"] for r in rows if r["task"] == t], bins=bins, range=(lo, hi), histtype="step",
               linewidth=2, label=t, color=TASK_COLORS.get(t))
    for e in edges:
        a.axvline(e, color="grey", linewidth=0.6, linestyle=":")
    a.set_xlabel("tokens per instance (exact)")
    a.set_ylabel("instances")
    a.set_title("Instance length per task")
    a.set_xticks(edges, [fmt_tokens(e) for e in edges])
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
    b.set_xticks(list(x), names, rotation=30 if len(names) > 5 else 0)
    b.set_ylabel("share of instances")
    b.set_title("Length buckets: achieved (bars) vs target (black)")
    b.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
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
    ax.set_xticks(list(x), names)
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


def write_report(out: str | Path) -> Path:
    """Write OUT/report/report.md and its PNGs; returns the report path."""
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    rep = out / "report"
    rep.mkdir(exist_ok=True)
    rows = read_table(out, "shards", ["task", "n_tokens", "n_image_tokens", "depth", "bucket", "pages"]).to_pylist()
    rejected = read_table(out, "rejected", ["task", "reason"]).to_pylist()
    s = manifest["summary"]
    n = len(rows) or 1
    achieved_tasks = {t: c / n for t, c in Counter(r["task"] for r in rows).items()}
    reasons = Counter(r["reason"].split(":", 1)[0] for r in rejected)
    figs = {
        "lengths": _lengths_plot(rows, manifest, rep / "lengths.png"),
        "depth": _hist_plot([r["depth"] for r in rows if r["depth"] is not None], rep / "depth.png",
                            "Evidence depth in the instance", "depth (0 = start, 1 = end)", 10, (0, 1)),
        "pages": _hist_plot([len(r["pages"]) for r in rows], rep / "pages.png", "Pages per instance", "pages",
                            bins=20),
        "tasks": _tasks_plot(achieved_tasks, manifest["task_shares"], rep / "tasks.png"),
        "rejections": _rejections_plot(reasons, rep / "rejections.png"),
    }
    total = s["tokens"]
    img = sum(r["n_image_tokens"] for r in rows)
    planned = {t: sum(b.values()) for t, b in manifest["targets"].items()}
    lines = [
        f"# Data report: {s['recipe']} (recipe hash {s['recipe_hash']})", "",
        f"- instances: **{s['samples']}** from {s['docs_done']} of {s['docs_planned']} planned documents; "
        f"QA kept {s['qa_kept']}, candidates rejected {s['rejected']}",
        f"- tokens: **{total:,}** of a {s['budget_tokens']:,} budget ({100 * total / s['budget_tokens']:.1f}%); "
        f"image tokens {100 * img / max(total, 1):.1f}% of all",
        f"- mean instance {total / n:,.0f} tokens, {sum(len(r['pages']) for r in rows) / n:.1f} pages", "",
        "## Task mix", "",
        _md_table(["task", "target share", "planned", "achieved", "achieved share"],
                  [[t, f"{manifest['task_shares'].get(t, 0):.2f}", planned.get(t, 0),
                    sum(1 for r in rows if r["task"] == t), f"{achieved_tasks.get(t, 0):.2f}"]
                   for t in sorted(set(planned) | set(achieved_tasks))]),
        "", f"![task mix]({figs['tasks']})", "",
        "## Lengths", "",
        _md_table(["bucket", "target share", "achieved", "achieved share"],
                  [[b, f"{manifest['target_shares'].get(b, 0):.2f}", c, f"{c / n:.2f}"]
                   for b, c in sorted(Counter(r["bucket"] for r in rows).items(),
                                      key=lambda kv: labels(manifest["edges"]).index(kv[0])
                                      if kv[0] in labels(manifest["edges"]) else -1)]
                  + [[b, f"{v:.2f}", 0, "0.00"] for b, v in manifest["target_shares"].items()
                     if b not in {r["bucket"] for r in rows}]),
        "", f"![lengths]({figs['lengths']})", "",
        "## Evidence depth and pages", "",
        f"![depth]({figs['depth']}) ![pages]({figs['pages']})", "",
        "## Rejections", "",
        _md_table(["reason", "candidates"], [[k, v] for k, v in reasons.most_common()]) if reasons else "none",
        "", f"![rejections]({figs['rejections']})", "",
        *verification_section(manifest, rejected),
        "## Documents left out by the plan", "",
        _md_table(["reason", "documents"], [[k, v] for k, v in manifest["skipped_docs"].items()])
        if manifest["skipped_docs"] else "none", "",
    ]
    path = rep / "report.md"
    path.write_text("\n".join(lines))
    return path


def verification_section(manifest: dict, rejected: list[dict]) -> list[str]:
    """Per-check rejections of verify (rule and model checks) and the verifier model's requests and tokens."""
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
    return ["## Verification", "", head, "",
            _md_table(["failed check", "kind", "candidates"], rows) if rows else "no candidate failed a check", ""]
