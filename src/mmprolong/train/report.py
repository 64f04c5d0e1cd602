"""The run's report: loss / LR / throughput curves (and each data source's token share) as a PNG beside a markdown
summary with one row per logged step, tokens per source included."""

from __future__ import annotations

from pathlib import Path


def source_names(rows: list[dict]) -> list[str]:
    """The data sources logged (metrics rows' `source_tokens`), in first-seen order."""
    names: list[str] = []
    for r in rows:
        for n in r.get("source_tokens") or {}:
            if n not in names:
                names.append(n)
    return names


def source_shares(rows: list[dict]) -> dict[str, float]:
    """Each source's share of all logged tokens (realised mixture over the run)."""
    names = source_names(rows)
    tot = {n: sum((r.get("source_tokens") or {}).get(n, 0) for r in rows) for n in names}
    all_ = sum(tot.values())
    return {n: (t / all_ if all_ else 0.0) for n, t in tot.items()}


def write_report(out: Path, rows: list[dict], cfg) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    steps = [r["step"] for r in rows]
    names = source_names(rows)
    mixed = len(names) > 1
    fig, ax = plt.subplots(1, 4 if mixed else 3, figsize=(17 if mixed else 13, 3.5))
    ax[0].plot(steps, [r["loss"] for r in rows], marker=".")
    ax[0].set(title="loss (answer tokens)", xlabel="step")
    ax[1].plot(steps, [r["lr"] for r in rows], marker=".")
    ax[1].set(title="learning rate", xlabel="step")
    ax[2].plot(steps, [r["tokens_per_s_per_device"] for r in rows], marker=".")
    ax[2].set(title="tokens/s per device", xlabel="step")
    if mixed:
        for n in names:
            ax[3].plot(steps, [(r.get("source_tokens") or {}).get(n, 0) / max(1, r["tokens"]) for r in rows],
                       marker=".", label=n)
        ax[3].set(title="token share per source", xlabel="step", ylim=(0, 1))
        ax[3].legend()
    fig.tight_layout()
    fig.savefig(out / "train.png", dpi=110)
    plt.close(fig)
    md = out / "report.md"
    last = rows[-1] if rows else {}
    cols = names if mixed else []  # one source: its tokens are the tokens column
    src_head = "".join(f" tokens {n} |" for n in cols)
    lines = [f"# Training run: {out.name}", "",
             f"model: {cfg.model.path or cfg.model.preset}; max_length {cfg.data.max_length:,}; "
             f"rope_theta {cfg.model.rope_theta}; SP {cfg.parallel.sp}", ""]
    mix = cfg.data.mixture()
    if mixed or len(mix) > 1:
        real = source_shares(rows)
        lines += ["| source | weight | realised token share |", "|---|---|---|"]
        lines += [f"| {n} | {w:.1%} | {real.get(n, 0.0):.2%} |" for n, _, w in mix]
        lines.append("")
    lines += ["![curves](train.png)", "",
              "| step | loss | lr | tokens |" + src_head + " tokens/s/device | MFU | peak mem GiB |",
              "|---|---|---|---|" + "---|" * len(cols) + "---|---|---|"]
    for r in rows:
        mfu = "n/a" if r.get("mfu") is None else f"{r['mfu']:.1%}"
        src = "".join(f" {(r.get('source_tokens') or {}).get(n, 0):,} |" for n in cols)
        lines.append(f"| {r['step']} | {r['loss']:.4f} | {r['lr']:.2e} | {r.get('tokens', 0):,} |{src} "
                     f"{r['tokens_per_s_per_device']:.0f} | {mfu} | {r['peak_mem_gib']:.2f} |")
    if last:
        lines += ["", f"final loss {last['loss']:.4f} after {last['step']} steps"]
    md.write_text("\n".join(lines) + "\n")
    return md
