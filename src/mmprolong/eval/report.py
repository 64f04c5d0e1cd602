"""`eval report`: markdown tables (dataset x length, per-length macro averages, overall), PNG plots (score against
length per dataset, model against model, needle length x depth heatmaps) and all scored predictions as JSONL."""

from __future__ import annotations

import json
from pathlib import Path

from .aggregate import aggregate
from .runner import RUN
from .score import SCORED, needle_grid, score_run


def fmt_len(n: int) -> str:
    n = int(n)
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)}M"
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def load_scored(run_dir: Path) -> list[dict]:
    if not (run_dir / SCORED).exists():
        score_run(run_dir, progress=False)
    return [json.loads(ln) for ln in (run_dir / SCORED).read_text().splitlines() if ln.strip()]


def _run_name(run_dir: Path) -> str:
    p = run_dir / RUN
    return json.loads(p.read_text()).get("backend", run_dir.name) if p.exists() else run_dir.name


def _table(agg: dict) -> list[str]:
    lengths = sorted(agg["macro"])
    head = "| dataset | " + " | ".join(fmt_len(L) for L in lengths) + " |"
    lines = [head, "|---|" + "---:|" * len(lengths)]
    for ds, cells in agg["by_dataset"].items():
        vals = [f"{cells[L]:.2f} (n={agg['n'][ds][L]})" if L in cells else "-" for L in lengths]
        lines.append(f"| {ds} | " + " | ".join(vals) + " |")
    lines.append("| **macro avg** | " + " | ".join(f"**{agg['macro'][L]:.2f}**" for L in lengths) + " |")
    if agg["overall"] is not None:
        lines.append(f"\nOverall (mean of macro averages at {', '.join(fmt_len(L) for L in agg['overall_lengths'])}):"
                     f" **{agg['overall']:.2f}**")
    if agg["missing_lengths"]:
        lines.append(f"\nNo results at {', '.join(fmt_len(L) for L in agg['missing_lengths'])}.")
    if agg["errors"]:
        lines.append(f"\nBackend errors left out (resume the run to retry them): "
                     + ", ".join(f"{fmt_len(L)}: {n}" for L, n in sorted(agg["errors"].items())))
    return lines


def _plot_lengths(agg: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for ds, cells in agg["by_dataset"].items():
        xs = sorted(cells)
        ax.plot(xs, [cells[x] for x in xs], marker="o", label=ds)
    xs = sorted(agg["macro"])
    ax.plot(xs, [agg["macro"][x] for x in xs], "k--", marker="s", label="macro avg")
    _length_axis(ax, xs)
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _length_axis(ax, xs: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    ax.set_xticklabels([fmt_len(x) for x in xs])
    ax.minorticks_off()
    ax.set_xlabel("context length (tokens)")
    ax.grid(alpha=0.3)


def _plot_models(aggs: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    allx: set[int] = set()
    for name, agg in aggs.items():
        xs = sorted(agg["macro"])
        allx |= set(xs)
        ax.plot(xs, [agg["macro"][x] for x in xs], marker="o", label=name)
    _length_axis(ax, sorted(allx))
    ax.set_ylabel("macro average score")
    ax.set_title("models compared")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_needles(grid: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = sorted(grid)
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6), squeeze=False)
    for ax, k in zip(axes[0], keys):
        lengths = sorted(grid[k])
        depths = sorted({d for L in lengths for d in grid[k][L]})
        m = np.full((len(depths), len(lengths)), np.nan)
        for j, L in enumerate(lengths):
            for i, d in enumerate(depths):
                if d in grid[k][L]:
                    m[i, j] = grid[k][L][d]
        im = ax.imshow(m, vmin=0, vmax=100, cmap="RdYlGn", aspect="auto")
        ax.set_xticks(range(len(lengths)), [fmt_len(L) for L in lengths])
        ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
        ax.set_xlabel("length")
        ax.set_ylabel("depth")
        ax.set_title(k, fontsize=9)
        for i in range(len(depths)):
            for j in range(len(lengths)):
                if not np.isnan(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8)
    fig.suptitle(title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_report(run_dirs: list[str | Path], out: str | Path, lengths: list[int] | None = None,
                 names: list[str] | None = None) -> Path:
    """Write out/report.md, PNG plots and out/predictions.jsonl for one or more scored (or scorable) runs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [Path(r) for r in run_dirs]
    for r in runs:
        if not r.is_dir():
            raise FileNotFoundError(f"{r}: not a run folder")
    if names and len(names) != len(runs):
        raise ValueError(f"--names gives {len(names)} names for {len(runs)} runs")
    md = ["# Evaluation report", ""]
    aggs: dict[str, dict] = {}
    all_rows = []
    for k, r in enumerate(runs):
        name = names[k] if names else _run_name(r)
        rows = load_scored(r)
        all_rows += [{"run": name, **x} for x in rows]
        metric = rows[0].get("metric", "docqa") if rows else "docqa"
        md += [f"## {name}", "", f"Run folder: `{r}`; metric: {metric}; predictions: {len(rows)}.", ""]
        docs = [x for x in rows if x.get("kind", "doc") == "doc"]
        if docs:
            agg = aggregate(docs, lengths)
            aggs[name] = agg
            png = f"score_vs_length_{k}.png"
            _plot_lengths(agg, name, out / png)
            md += ["### Long-document QA (score, %)", ""] + _table(agg) + ["", f"![score vs length]({png})", ""]
        needles = [x for x in rows if x.get("kind") == "needle"]
        if needles:
            grid = needle_grid(needles)
            png = f"needles_{k}.png"
            _plot_needles(grid, name, out / png)
            md += ["### Needles (score %, length x depth)", ""]
            for key, g in grid.items():
                ls = sorted(g)
                ds_ = sorted({d for L in ls for d in g[L]})
                md += [f"**{key}**", "", "| depth | " + " | ".join(fmt_len(L) for L in ls) + " |",
                       "|---|" + "---:|" * len(ls)]
                md += [f"| {d:.0%} | " + " | ".join(f"{g[L][d]:.0f}" if d in g[L] else "-" for L in ls) + " |"
                       for d in ds_]
                md.append("")
            md += [f"![needles]({png})", ""]
    if len(aggs) > 1:
        ls = sorted({L for a in aggs.values() for L in a["macro"]})
        md += ["## Models compared (macro average)", "", "| model | " + " | ".join(fmt_len(L) for L in ls)
               + " | overall |", "|---|" + "---:|" * (len(ls) + 1)]
        for name, a in aggs.items():
            ov = f"{a['overall']:.2f}" if a["overall"] is not None else "-"
            md.append(f"| {name} | " + " | ".join(f"{a['macro'][L]:.2f}" if L in a["macro"] else "-" for L in ls)
                      + f" | {ov} |")
        _plot_models(aggs, out / "models.png")
        md += ["", "![models](models.png)", ""]
    md += ["Raw predictions with scores: `predictions.jsonl`.", ""]
    (out / "predictions.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in all_rows))
    (out / "report.md").write_text("\n".join(md))
    return out / "report.md"
