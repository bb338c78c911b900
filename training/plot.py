"""A PNG of the training curves (losses, validation PSNR) from the run's metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path


def plot_run(run_dir: Path) -> Path | None:
    """Write ``run_dir/curves.png``; None when matplotlib is missing or nothing was logged yet."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    train: dict[str, list[tuple[int, float]]] = {}
    val: dict[str, list[tuple[int, float]]] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        target = val if rec.get("kind") == "val" else train
        for k, v in rec.items():
            if k not in ("kind", "step") and isinstance(v, (int, float)):
                target.setdefault(k, []).append((int(rec["step"]), float(v)))
    if not train and not val:
        return None
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, pts in sorted(train.items()):
        if k.startswith("loss"):
            ax0.plot(*zip(*pts, strict=True), label=k, linewidth=0.8)
    ax0.set_yscale("log")
    ax0.set_xlabel("step")
    ax0.set_title("training losses")
    if ax0.get_legend_handles_labels()[0]:
        ax0.legend(fontsize=7)
    for k, pts in sorted(val.items()):
        if k.startswith("psnr"):
            ax1.plot(*zip(*pts, strict=True), marker="o", label=k)
    ax1.set_xlabel("step")
    ax1.set_title("validation Y-PSNR (dB)")
    if ax1.get_legend_handles_labels()[0]:
        ax1.legend(fontsize=7)
    fig.tight_layout()
    out = run_dir / "curves.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
