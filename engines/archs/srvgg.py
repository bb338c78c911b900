"""Compact VGG-style generators (the SRVGGNetCompact family of Real-ESRGAN, re-written).

A plain stack of 3x3 convolutions with PReLU, a final convolution to ``3 * scale**2`` channels
and a pixel shuffle, plus an interpolated skip of the input, so the body only learns the
residual. ``RestoreCompact`` is the scale-1 variant for denoising / deblocking: it works at half
resolution behind a pixel-unshuffle (as FFDNet does), a quarter of the cost of a full-resolution
body.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _body(in_ch: int, out_ch: int, num_feat: int, num_conv: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, num_feat, 3, padding=1), nn.PReLU(num_feat)]
    for _ in range(num_conv):
        layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
    last = nn.Conv2d(num_feat, out_ch, 3, padding=1)
    layers.append(last)
    seq = nn.Sequential(*layers)
    for m in seq.modules():
        if isinstance(m, nn.Conv2d):
            # Kaiming init for the PReLU stack; a small last layer so training starts near the skip.
            nn.init.kaiming_normal_(m.weight, a=0.25, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    with torch.no_grad():
        last.weight.mul_(0.1)
    return seq


class SRVGGCompact(nn.Module):
    """Super-resolution by `scale`: conv stack -> pixel shuffle, plus a bicubic skip.

    With `unshuffle` 2 the body works at half the input's resolution behind a pixel-unshuffle
    (as `RestoreCompact` does): twice the features for the same cost, and twice the reach in
    input pixels, which coded input needs (its errors span whole 8-px blocks). Input height
    and width must then be even (the engine pads odd sizes). With 4, a quarter: four times the
    features of the tiny body for the same arithmetic, sizes a multiple of 4.
    """

    def __init__(
        self, scale: int = 2, num_feat: int = 32, num_conv: int = 8, skip: str = "bicubic", unshuffle: int = 1
    ) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"SRVGGCompact: scale must be 2, 3 or 4, got {scale}")
        if unshuffle not in (1, 2, 4):
            raise ValueError(f"SRVGGCompact: unshuffle must be 1, 2 or 4, got {unshuffle}")
        self.scale = scale
        self.skip = skip
        self.body = _body(3 * unshuffle**2, 3 * (scale * unshuffle) ** 2, num_feat, num_conv)
        self.unshuffle = nn.PixelUnshuffle(unshuffle) if unshuffle > 1 else nn.Identity()
        self.shuffle = nn.PixelShuffle(scale * unshuffle)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.scale, mode=self.skip, align_corners=False)
        return base + self.shuffle(self.body(self.unshuffle(x - 0.5)))


class RestoreCompact(nn.Module):
    """Scale-1 restoration (denoise / deblock) at half resolution behind a pixel-unshuffle.

    Input height and width must be even (the engine pads odd sizes).
    """

    def __init__(self, num_feat: int = 48, num_conv: int = 8) -> None:
        super().__init__()
        self.body = _body(12, 12, num_feat, num_conv)
        self.unshuffle = nn.PixelUnshuffle(2)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shuffle(self.body(self.unshuffle(x - 0.5)))
