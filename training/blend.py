"""Network interpolation: a model whose weights are a weighted mean of two generators of one architecture.

ESRGAN (Wang et al., 2018) blends a PSNR-oriented and a GAN generator this way to pick a point
between fidelity and detail without training again. Here it also picks the balance between clean
and H.264-compressed input from two fine-tunes of the same network: the mean of two such fine-tunes
scores better on both inputs than a straight line between them would (see docs/training.md).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganstream.engines.archs import build_generator
from ganstream.engines.card import ModelCard
from ganstream.training.checkpoint import load_model_folder
from ganstream.training.config import CONFIG_FILE
from ganstream.training.errors import CheckpointError, ConfigError
from ganstream.training.export import ExportResult, export_generator
from ganstream.training.export_run import run_generator


@dataclass
class Source:
    """One generator to blend: a training run (its EMA weights) or an exported model folder."""

    path: Path
    task: str
    scale: int
    arch: dict[str, Any]
    weights: dict[str, torch.Tensor]
    training: dict[str, Any]


def load_source(path: Path) -> Source:
    if (path / CONFIG_FILE).is_file():
        cfg, arch, model, training, _ = run_generator(path)
        weights = {k: v.detach() for k, v in model.state_dict().items()}
        return Source(path, cfg.task, cfg.scale, arch, weights, training)
    arch, weights = load_model_folder(path)
    card = ModelCard.load(path)
    if card.window != 1:
        raise ConfigError(f"{path}: only sr and restore models can be blended, not {card.task}")
    return Source(path, card.task, card.scale, arch, weights, dict(card.training))


def blend_weights(a: Source, b: Source, weight: float) -> dict[str, torch.Tensor]:
    """``(1 - weight) * a + weight * b``, tensor by tensor."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"blend weight must be within [0, 1], got {weight}")
    if a.arch != b.arch or a.weights.keys() != b.weights.keys():
        raise CheckpointError(f"cannot blend {a.path} ({a.arch}) with {b.path} ({b.arch}): different networks")
    return {k: torch.lerp(a.weights[k].float(), b.weights[k].float(), weight) for k in a.weights}


def blend_models(
    a_path: Path, b_path: Path, weight: float, name: str, out_root: Path, description: str = ""
) -> ExportResult:
    """Blend two generators and export the result as a model folder (ONNX + safetensors + card)."""
    a, b = load_source(a_path), load_source(b_path)
    model = build_generator(a.arch)
    model.load_state_dict(blend_weights(a, b, weight))
    training = {
        "command": shlex.join(["ganstream", *sys.argv[1:]]),
        "blend": {"a": str(a_path), "b": str(b_path), "weight_of_b": weight},
        "sources": {"a": a.training, "b": b.training},
    }
    if not description:
        what = f"x{a.scale} super-resolution" if a.task == "sr" else "denoise / deblock"
        description = f"{what}, blend of two fine-tunes ({1 - weight:g} / {weight:g})"
    return export_generator(
        model, a.arch, out_root, name, task=a.task, scale=a.scale, training=training, description=description
    )
