"""Export a training run's EMA generator as a shipped model folder (see export.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ganstream.engines.archs import build_generator
from ganstream.training.checkpoint import load_weights, read_state
from ganstream.training.config import TrainConfig
from ganstream.training.export import ExportResult, export_generator


def run_generator(run_dir: Path) -> tuple[TrainConfig, dict[str, Any], nn.Module, dict[str, Any], dict[str, Any]]:
    """A run's config, arch, EMA generator, card ``training`` record and last validation figures."""
    cfg = TrainConfig.load(run_dir)
    state = read_state(run_dir)
    arch: dict[str, Any] = state["arch"]
    model = build_generator(arch)
    model.load_state_dict(load_weights(run_dir, "generator_ema"))
    validation = state.get("validation", [])
    metrics = dict(validation[-1]) if validation else {}
    training = {
        "recipe": cfg.to_dict(),
        "steps": state["step"],
        "seconds": round(float(state["elapsed_s"]), 1),
        "machine": state.get("machine", ""),
        "precision": state.get("amp", ""),
        "world_size": state.get("world_size", 1),
        "data_manifest_sha256": state.get("data_manifest_sha256", ""),
        "command": " && ".join(state.get("commands", [state.get("command", "")])),
        "validation": "EMA generator; sr: x2 area-downscaled centre crops of the validation split "
        "(runs trained on H.264 input: also those crops through libx264 at CRF 30, psnr_y_h264); "
        "restore: the same crops with clipped Gaussian noise, sigma 15",
    }
    return cfg, arch, model, training, metrics


def export_run(run_dir: Path, name: str, out_root: Path, description: str = "", note: str = "") -> ExportResult:
    cfg, arch, model, training, metrics = run_generator(run_dir)
    if note:
        training["note"] = note
    if not description:
        what = f"x{cfg.scale} super-resolution" if cfg.task == "sr" else "denoise / deblock"
        description = f"{what}, {cfg.preset} preset, {cfg.stage} stage"
    return export_generator(
        model, arch, out_root, name, task=cfg.task, scale=cfg.scale, training=training, metrics=metrics,
        description=description,
    )  # fmt: skip
