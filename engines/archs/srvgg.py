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

    With `grid` (8: the 8-px transform blocks of H.264, MPEG-2, JPEG), the first convolution's
    output gets a bias that depends on where each position lies in the coder's block grid, one
    per row phase plus one per column phase and feature (`GridBias`): decoded video steps at the
    grid lines from the frame's top-left corner, and a convolution cannot tell on its own which
    of its positions sit on one. The biases start at zero, so a model widened with them starts
    exactly where it was.
    """

    def __init__(
        self,
        scale: int = 2,
        num_feat: int = 32,
        num_conv: int = 8,
        skip: str = "bicubic",
        unshuffle: int = 1,
        grid: int = 0,
    ) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"SRVGGCompact: scale must be 2, 3 or 4, got {scale}")
        if unshuffle not in (1, 2, 4):
            raise ValueError(f"SRVGGCompact: unshuffle must be 1, 2 or 4, got {unshuffle}")
        if grid and (grid % unshuffle or grid // unshuffle < 2):
            raise ValueError(f"SRVGGCompact: grid must be 0 or a multiple of 2 x unshuffle ({unshuffle}), got {grid}")
        self.scale = scale
        self.skip = skip
        self.body = _body(3 * unshuffle**2, 3 * (scale * unshuffle) ** 2, num_feat, num_conv)
        self.unshuffle = nn.PixelUnshuffle(unshuffle) if unshuffle > 1 else nn.Identity()
        self.shuffle = nn.PixelShuffle(scale * unshuffle)
        # the body's positions per grid block along each axis
        self.grid_bias = GridBias(num_feat, grid // unshuffle) if grid else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.scale, mode=self.skip, align_corners=False)
        y = self.unshuffle(x - 0.5)
        if self.grid_bias is None:
            return base + self.shuffle(self.body(y))
        y = self.grid_bias(self.body[0](y))  # the first convolution, then the bias of each grid phase
        return base + self.shuffle(self.body[1:](y))


class GridBias(nn.Module):
    """Adds, per feature, a learned bias for the row's and the column's phase in a grid of
    `period` positions counted from the top-left corner (zero at the start)."""

    def __init__(self, num_feat: int, period: int) -> None:
        super().__init__()
        self.period = period
        self.rows = nn.Parameter(torch.zeros(num_feat, period))
        self.cols = nn.Parameter(torch.zeros(num_feat, period))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h, w = y.shape[-2], y.shape[-1]
        # one-hot phase matrices (period, h) and (period, w): a product, not a gather, so every
        # backend runs it as a small matrix multiplication
        phases = torch.arange(self.period, device=y.device)
        on_row = (torch.arange(h, device=y.device) % self.period == phases[:, None]).to(y.dtype)
        on_col = (torch.arange(w, device=y.device) % self.period == phases[:, None]).to(y.dtype)
        rows = (self.rows.to(y.dtype) @ on_row)[:, :, None]  # (F, h, 1)
        cols = (self.cols.to(y.dtype) @ on_col)[:, None, :]  # (F, 1, w)
        return y + rows + cols


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
