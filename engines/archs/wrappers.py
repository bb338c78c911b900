"""The exported I/O convention: uint8 NHWC RGB in, uint8 NHWC RGB out, normalisation inside."""

from __future__ import annotations

import torch
from torch import nn


class Uint8NHWC(nn.Module):
    """Wraps a float NCHW [0, 1] model so it takes and returns uint8 NHWC frames."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x.permute(0, 3, 1, 2).float() / 255.0)
        return (y * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
