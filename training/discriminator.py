"""U-Net discriminator with spectral normalisation (as in Real-ESRGAN, re-written).

It judges every pixel, not the whole crop, so the generator gets a dense signal about where
texture looks fake. ``forward`` returns the per-pixel logits and the decoder's feature maps
(used by the feature-matching loss).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class UNetDiscriminatorSN(nn.Module):
    def __init__(self, in_ch: int = 3, num_feat: int = 32) -> None:
        super().__init__()
        nf = num_feat
        self.conv0 = nn.Conv2d(in_ch, nf, 3, padding=1)
        self.down1 = spectral_norm(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.down2 = spectral_norm(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.down3 = spectral_norm(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        self.up1 = spectral_norm(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.up2 = spectral_norm(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.up3 = spectral_norm(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        self.extra1 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.extra2 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.out = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        def act(t: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(t, 0.2)

        x0 = act(self.conv0(x - 0.5))
        x1 = act(self.down1(x0))
        x2 = act(self.down2(x1))
        x3 = act(self.down3(x2))
        u = F.interpolate(x3, size=x2.shape[-2:], mode="bilinear", align_corners=False)
        u1 = act(self.up1(u)) + x2
        u = F.interpolate(u1, size=x1.shape[-2:], mode="bilinear", align_corners=False)
        u2 = act(self.up2(u)) + x1
        u = F.interpolate(u2, size=x0.shape[-2:], mode="bilinear", align_corners=False)
        u3 = act(self.up3(u)) + x0
        e = act(self.extra2(act(self.extra1(u3))))
        return self.out(e), [x1, x2, x3, u1, u2, u3]
