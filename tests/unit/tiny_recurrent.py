"""Shared by the recurrent-model tests: a smooth scene that flow can follow, and a small exported
recurrent restore model whose state weights are in use."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ganstream.engines.archs.recurrent import from_single_frame
from ganstream.engines.archs.srvgg import RestoreCompact
from ganstream.engines.card import ModelCard
from ganstream.training.temporal.export import export_model


def smooth_scene(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth random scene (DIS flow can follow it), uint8 RGB."""
    small = np.random.default_rng(seed).integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)


def export_tiny_vrestore(models_dir: Path, name: str, neighbours: int = 0, seed: int = 0) -> Path:
    """A small recurrent restore model with non-zero state weights, exported like a shipped one."""
    torch.manual_seed(seed)
    model = from_single_frame(RestoreCompact(num_feat=8, num_conv=2), neighbours=neighbours)
    first = model.body[0]
    assert isinstance(first, nn.Conv2d)
    with torch.no_grad():
        first.weight[:, model.frame_channels :].normal_(0, 0.05)
    return export_model(model.eval(), models_dir, name, ModelCard(name="restore", task="restore")).folder
