"""The run's report: loss / LR / throughput curves as a PNG beside a markdown summary."""

from __future__ import annotations

from pathlib import Path


def write_report(out: Path, rows: list[dict], cfg) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.5))
    ax[0].plot(steps, [r["loss"] for r in rows], marker=".")
    ax[0].set(title="loss (answer tokens)", xlabel="step")
    ax[1].plot(steps, [r["lr"] for r in rows], marker=".")
    ax[1].set(title="learning rate", xlabel="step")
    ax[2].plot(steps, [r["tokens_per_s_per_device"] for r in rows], marker=".")
    ax[2].set(title="tokens/s per device", xlabel="step")
    fig.tight_layout()
    fig.savefig(out / "train.png", dpi=110)
    plt.close(fig)
    md = out / "report.md"
    last = rows[-1] if rows else {}
    lines = [f"# Training run: {out.name}", "",
             f"model: {cfg.model.path or cfg.model.preset}; max_length {cfg.data.max_length:,}; "
             f"rope_theta {cfg.model.rope_theta}; SP {cfg.parallel.sp}", "",
             "![curves](train.png)", "",
             "| step | loss | lr | tokens/s/device | MFU | peak mem GiB |", "|---|---|---|---|---|---|"]
    for r in rows:
        mfu = "n/a" if r.get("mfu") is None else f"{r['mfu']:.1%}"
        lines.append(f"| {r['step']} | {r['loss']:.4f} | {r['lr']:.2e} | {r['tokens_per_s_per_device']:.0f} | "
                     f"{mfu} | {r['peak_mem_gib']:.2f} |")
    if last:
        lines += ["", f"final loss {last['loss']:.4f} after {last['step']} steps"]
    md.write_text("\n".join(lines) + "\n")
    return md
