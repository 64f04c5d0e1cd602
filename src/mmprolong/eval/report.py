"""`eval report`: markdown tables (dataset x length with n and failed requests per cell, per-length macro averages,
overall = mean of the 64K and 128K macro averages), paired differences between runs on the same instances with
bootstrap 95% intervals, PNG plots (score against length per dataset on a 0-100 axis, model against model, paired
differences on an axis symmetric around 0, needle length x depth heatmaps with n per cell and missing cells marked)
and all scored predictions as JSONL. Runs are rescored when their predictions changed since scoring; runs covering
different length sets are refused unless `force` (then flagged)."""

from __future__ import annotations

import json
from pathlib import Path

from .aggregate import aggregate
from .paired import paired_diff
from .runner import RUN
from .score import SCORES, ensure_scored, needle_grid


def fmt_len(n: int) -> str:
    n = int(n)
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)}M"
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def load_scored(run_dir: Path) -> list[dict]:
    """Scored rows of the run's CURRENT predictions (rescored when predictions.jsonl changed since scoring)."""
    return ensure_scored(run_dir)


def _run_name(run_dir: Path) -> str:
    p = run_dir / RUN
    return json.loads(p.read_text()).get("backend", run_dir.name) if p.exists() else run_dir.name


def _cell(agg: dict, ds: str, L: int) -> str:
    if L not in agg["by_dataset"][ds]:
        return "missing"
    e = agg["errors_by_dataset"][ds].get(L, 0)
    return f"{agg['by_dataset'][ds][L]:.2f} (n={agg['n'][ds][L]}, err={e})"


def _table(agg: dict) -> list[str]:
    lengths = sorted(agg["macro"])
    head = "| dataset | " + " | ".join(fmt_len(L) for L in lengths) + " |"
    lines = [head, "|---|" + "---:|" * len(lengths)]
    for ds in agg["by_dataset"]:
        lines.append(f"| {ds} | " + " | ".join(_cell(agg, ds, L) for L in lengths) + " |")
    lines.append("| **macro avg** | " + " | ".join(f"**{agg['macro'][L]:.2f}**" for L in lengths) + " |")
    lines.append("| errors (scored 0) | " + " | ".join(str(agg["errors"].get(L, 0)) for L in lengths) + " |")
    ov = ", ".join(fmt_len(L) for L in agg["overall_lengths"])
    if agg["overall"] is not None:
        lines.append(f"\nOverall (mean of the macro averages at {ov}): **{agg['overall']:.2f}**")
    else:
        lines.append(f"\nOverall (mean of the macro averages at {ov}): not computed, no results at "
                     f"{', '.join(fmt_len(L) for L in agg['missing_lengths'])}.")
    lines.append(f"\nRows: {agg['n_total']}; failed requests: {agg['errors_total']} (each scored 0, counted in n).")
    for L, dss in agg.get("datasets_missing", {}).items():
        lines.append(f"\nAt {fmt_len(L)} the macro average lacks {', '.join(dss)}.")
    return lines


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def score_ylim(values: list[float]) -> tuple[float, float]:
    """Scores are percentages: the axis is 0-100, whatever the values (never a +-0.04 axis around a flat line)."""
    return (0.0, 100.0)


def diff_ylim(lo: list[float], hi: list[float], floor: float = 5.0) -> tuple[float, float]:
    """A difference axis symmetric around 0, at least +-`floor` points, covering every interval."""
    m = max([abs(x) for x in lo + hi] + [floor])
    return (-1.1 * m, 1.1 * m)


def _plot_lengths(agg: dict, title: str, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for ds, cells in agg["by_dataset"].items():
        xs = sorted(cells)
        ax.plot(xs, [cells[x] for x in xs], marker="o", label=ds)
    xs = sorted(agg["macro"])
    ax.plot(xs, [agg["macro"][x] for x in xs], "k--", marker="s", label="macro avg")
    _length_axis(ax, xs)
    ax.set_ylim(*score_ylim(list(agg["macro"].values())))
    ax.set_ylabel("score (%)")
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
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    allx: set[int] = set()
    for name, agg in aggs.items():
        xs = sorted(agg["macro"])
        allx |= set(xs)
        ax.plot(xs, [agg["macro"][x] for x in xs], marker="o", label=name)
    _length_axis(ax, sorted(allx))
    ax.set_ylim(*score_ylim([]))
    ax.set_ylabel("macro average score (%)")
    ax.set_title("models compared")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_paired(res: dict, title: str, path: Path) -> None:
    plt = _plt()
    bl = res["by_length"]
    xs = sorted(bl)
    fig, ax = plt.subplots(figsize=(7, 4))
    d = [bl[x]["diff"] for x in xs]
    lo = [bl[x]["lo"] for x in xs]
    hi = [bl[x]["hi"] for x in xs]
    ax.errorbar(xs, d, yerr=[[a - b for a, b in zip(d, lo)], [b - a for a, b in zip(d, hi)]], fmt="o-", capsize=4)
    ax.axhline(0, color="k", lw=0.8)
    _length_axis(ax, xs)
    ax.set_ylim(*diff_ylim(lo, hi))
    ax.set_ylabel("difference (points), 95% CI")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_needles(grid: dict, title: str, path: Path) -> None:
    import numpy as np

    plt = _plt()
    keys = sorted(grid)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.4 * len(keys), 3.8), squeeze=False)
    im = None
    for ax, k in zip(axes[0], keys):
        lengths = sorted(grid[k])
        depths = sorted({d for L in lengths for d in grid[k][L]})
        m = np.full((len(depths), len(lengths)), np.nan)
        for j, L in enumerate(lengths):
            for i, d in enumerate(depths):
                if d in grid[k][L]:
                    m[i, j] = grid[k][L][d]["score"]
        im = ax.imshow(m, vmin=0, vmax=100, cmap="RdYlGn", aspect="auto")
        ax.set_xticks(range(len(lengths)), [fmt_len(L) for L in lengths])
        ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
        ax.set_xlabel("length")
        ax.set_ylabel("depth")
        ax.set_title(k, fontsize=9)
        for i, d in enumerate(depths):
            for j, L in enumerate(lengths):
                c = grid[k][L].get(d)
                if c is None:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", lw=0))
                    ax.text(j, i, "missing", ha="center", va="center", fontsize=6)
                else:
                    err = f"\n{c['errors']} err" if c["errors"] else ""
                    ax.text(j, i, f"{c['score']:.0f}\nn={c['n']}{err}", ha="center", va="center", fontsize=6)
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8)
    fig.suptitle(title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _needle_md(grid: dict, per_cell: int | None) -> list[str]:
    md = ["### Needles (score %, length x depth; each cell: score, n probes, failed requests)", ""]
    if per_cell:
        md += [f"Probes per cell in the set: {per_cell} (a cell's 95% interval is about "
               f"+-{98 / per_cell ** 0.5:.0f} points at a 50% score, +-{59 / per_cell ** 0.5:.0f} at 90%).", ""]
    for key, g in grid.items():
        ls = sorted(g)
        ds_ = sorted({d for L in ls for d in g[L]})
        md += [f"**{key}**", "", "| depth | " + " | ".join(fmt_len(L) for L in ls) + " |", "|---|" + "---:|" * len(ls)]
        for d in ds_:
            cells = []
            for L in ls:
                c = g[L].get(d)
                cells.append("missing" if c is None else
                             f"{c['score']:.0f} (n={c['n']}" + (f", err={c['errors']})" if c["errors"] else ")"))
            md.append(f"| {d:.0%} | " + " | ".join(cells) + " |")
        md.append("")
    return md


def _length_set(rows: list[dict]) -> list[int]:
    return sorted({int(r["target_length"]) for r in rows if r.get("kind", "doc") == "doc"})


def _needle_repeats(run_dir: Path) -> int | None:
    p = run_dir / RUN
    if not p.exists():
        return None
    cfg = (json.loads(p.read_text()).get("set_manifest") or {}).get("config") or {}
    return cfg.get("repeats")


def write_report(run_dirs: list[str | Path], out: str | Path, lengths: list[int] | None = None,
                 names: list[str] | None = None, force: bool = False) -> Path:
    """Write out/report.md, PNG plots and out/predictions.jsonl for one or more runs (rescored when their
    predictions changed). Runs covering different length sets are refused unless `force` (then flagged); with two
    or more runs every run is compared with the first on their common instances (paired bootstrap 95% CI)."""
    from ..run.outdir import claim
    from .runner import require_local

    require_local(out, "an eval report folder")
    for r in run_dirs:
        require_local(r)
    with claim(out, "eval-report", "eval report"):   # one writer; never into a folder of another kind
        return _write_report(run_dirs, out, lengths, names, force)


def _write_report(run_dirs: list[str | Path], out: str | Path, lengths: list[int] | None = None,
                  names: list[str] | None = None, force: bool = False) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [Path(r) for r in run_dirs]
    for r in runs:
        if not r.is_dir():
            raise FileNotFoundError(f"{r}: not a run folder")
    if names and len(names) != len(runs):
        raise ValueError(f"--names gives {len(names)} names for {len(runs)} runs")
    scored = [load_scored(r) for r in runs]
    labels = names or [_run_name(r) for r in runs]
    if len(set(labels)) < len(labels):
        labels = [f"{n} ({r.name})" for n, r in zip(labels, runs)]
    sets = {n: _length_set(rows) for n, rows in zip(labels, scored)}
    differ = len({tuple(v) for v in sets.values() if v}) > 1
    if differ and not force:
        raise ValueError("runs cover different lengths (" + "; ".join(
            f"{n}: {', '.join(fmt_len(L) for L in v)}" for n, v in sets.items())
            + "): their overall scores are not comparable; pass --force to report them anyway (flagged)")
    md = ["# Evaluation report", ""]
    if differ:
        md += ["**Warning: these runs cover different length sets (compared with --force):** " + "; ".join(
            f"{n}: {', '.join(fmt_len(L) for L in v)}" for n, v in sets.items()), ""]
    aggs: dict[str, dict] = {}
    all_rows = []
    for k, (r, name, rows) in enumerate(zip(runs, labels, scored)):
        all_rows += [{"run": name, **x} for x in rows]
        metric = rows[0].get("metric", "mmlongbench") if rows else "mmlongbench"
        sf = {}
        p = r / SCORES
        if p.exists():
            sf = json.loads(p.read_text()).get("scored_from") or {}
        md += [f"## {name}", "", f"Run folder: `{r}`; scorer: {metric}; predictions: {len(rows)} "
               f"(sha256 {sf.get('predictions_sha256', '?')[:12]}).", ""]
        docs = [x for x in rows if x.get("kind", "doc") == "doc"]
        if docs:
            agg = aggregate(docs, lengths)
            aggs[name] = agg
            png = f"score_vs_length_{k}.png"
            _plot_lengths(agg, name, out / png)
            md += ["### Long-document QA (score %, n instances, err failed requests scored 0)", ""] + _table(agg) + \
                  ["", f"![score vs length]({png})", ""]
        needles = [x for x in rows if x.get("kind") == "needle"]
        if needles:
            grid = needle_grid(needles)
            png = f"needles_{k}.png"
            _plot_needles(grid, name, out / png)
            md += _needle_md(grid, _needle_repeats(r)) + [f"![needles]({png})", ""]
    if len(aggs) > 1:
        ls = sorted({L for a in aggs.values() for L in a["macro"]})
        md += ["## Models compared (macro average)", "", "| model | " + " | ".join(fmt_len(L) for L in ls)
               + " | overall | errors |", "|---|" + "---:|" * (len(ls) + 2)]
        for name, a in aggs.items():
            ov = f"{a['overall']:.2f}" if a["overall"] is not None else "-"
            md.append(f"| {name} | " + " | ".join(f"{a['macro'][L]:.2f}" if L in a["macro"] else "missing"
                                                 for L in ls) + f" | {ov} | {a['errors_total']} |")
        _plot_models(aggs, out / "models.png")
        md += ["", "![models](models.png)", ""]
        base = labels[0]
        for k in range(1, len(runs)):
            res = paired_diff(scored[0], scored[k])
            if not res["by_length"]:
                md += [f"## {labels[k]} vs {base}: no common instances", ""]
                continue
            png = f"paired_{k}.png"
            _plot_paired(res, f"{labels[k]} - {base} (paired, 95% bootstrap CI)", out / png)
            md += [f"## {labels[k]} vs {base} (paired on the same instances)", "",
                   f"Difference {labels[k]} - {base} in points, 95% percentile bootstrap interval over instances "
                   f"({res['resamples']} resamples); instances in only one run left out: {res['only_a']} + "
                   f"{res['only_b']}.", "", "| dataset | length | n | " + f"{base} | {labels[k]} | diff | 95% CI |",
                   "|---|---|---:|---:|---:|---:|---|"]
            for (ds, L), c in res["cells"].items():
                md.append(f"| {ds} | {fmt_len(L)} | {c['n']} | {c['a']:.2f} | {c['b']:.2f} | {c['diff']:+.2f} | "
                          f"[{c['lo']:+.2f}, {c['hi']:+.2f}] |")
            for L, c in res["by_length"].items():
                md.append(f"| **macro** | {fmt_len(L)} | {c['n']} | {c['a']:.2f} | {c['b']:.2f} | "
                          f"**{c['diff']:+.2f}** | [{c['lo']:+.2f}, {c['hi']:+.2f}] |")
            md += ["", f"![paired]({png})", ""]
    md += ["Raw predictions with scores: `predictions.jsonl`.", ""]
    (out / "predictions.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in all_rows))
    (out / "report.md").write_text("\n".join(md))
    return out / "report.md"
