"""The moving average of a network's weights that `train sr` and `train recurrent` validate and keep."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """Move `average`'s parameters towards `model`'s after training step `step`.

    The decay warms up from 0.1 towards `decay` over the first steps, so the average follows the
    start of a run closely instead of holding on to the initial weights."""
    d = min(decay, (1 + step) / (10 + step))
    for a, p in zip(average.parameters(), model.parameters(), strict=True):
        a.lerp_(p.detach().float(), 1.0 - d)
