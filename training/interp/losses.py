"""Losses of the synthesis network: Laplacian-pyramid L1 and an adversarial term on
(frame0, middle, frame1) stacks, so the discriminator judges a frame in its temporal context."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels, finest first, then the low-pass rest (2x2 means: cheap on a CPU)."""
    out: list[torch.Tensor] = []
    cur = x
    for _ in range(levels - 1):
        down = F.avg_pool2d(cur, 2)
        out.append(cur - F.interpolate(down, scale_factor=2.0, mode="nearest"))
        cur = down
    out.append(cur)
    return out


def laplacian_l1(pred: torch.Tensor, target: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """Sum over pyramid levels of the mean L1 difference (crop sides must divide by 2^(levels-1))."""
    loss = pred.new_zeros(())
    for a, b in zip(laplacian_pyramid(pred, levels), laplacian_pyramid(target, levels), strict=True):
        loss = loss + (a - b).abs().mean()
    return loss


class TripletDiscriminator(nn.Module):
    """PatchGAN-style critic on (frame0, middle, frame1) stacked on channels (9 inputs)."""

    def __init__(self, num_feat: int = 32) -> None:
        super().__init__()
        nf = num_feat
        layers: list[nn.Module] = []
        chans = [9, nf, nf * 2, nf * 2, nf * 4]
        for i in range(len(chans) - 1):
            layers += [
                nn.utils.parametrizations.spectral_norm(nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1)),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(chans[-1], 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, frame0: torch.Tensor, middle: torch.Tensor, frame1: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat((frame0, middle, frame1), dim=1) * 2 - 1)


def d_hinge_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def g_hinge_loss(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()
