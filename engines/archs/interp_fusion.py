"""`FlowFusionNet`: the learned half of the CPU interpolator (model ``interp``).

Motion comes from outside: the classical bidirectional DIS flow (``ganstream.engines.flow``) is
an input. Inside the graph the flows are turned into the flows from time t (Super SloMo's
linear approximation), both frames are warped to t, and a small network looks at the warped
frames, the flows and how much the two warps disagree (where one of them is occluded or the
flow is wrong) to predict

- a fusion mask: how much of each warped frame to trust per pixel, and
- a residual: the detail the warps lost.

The mask's logit is offset by log((1 - t) / t), and the last layers start at zero, so an
untrained network returns exactly the classical average ``(1 - t) w0 + t w1``: it learns
fusion and detail on top of the flow, never the motion itself. The body runs at a quarter of
the resolution behind a pixel-unshuffle, so it costs a few hundred MFLOP at 360p.

Frames are float32 NCHW RGB in [0, 1], flows float32 N2HW in pixels, t float32 (N, 1).
Height and width must be multiples of 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE_OF = 4
FLOW_SCALE = 1.0 / 16.0  # flows enter the body in units of 16 px


class FlowFusionNet(nn.Module):
    """Fusion mask + residual from the warped frames and the flows from t."""

    def __init__(self, num_feat: int = 24, num_conv: int = 2, down: int = 4) -> None:
        super().__init__()
        self.down, self.num_feat, self.num_conv = down, num_feat, num_conv
        # A stride-`down` convolution with a `down` x `down` kernel sees every full-resolution
        # pixel once: a pixel-unshuffle plus a 1x1 convolution, without the transposes. One per
        # input, summed, instead of a full-resolution concatenation; the first layer can still
        # take the warps' difference (where they disagree: occlusions, wrong flow).
        self.enter0 = nn.Conv2d(3, num_feat, down, stride=down)
        self.enter1 = nn.Conv2d(3, num_feat, down, stride=down, bias=False)
        self.enter_flow0 = nn.Conv2d(2, num_feat, down, stride=down, bias=False)
        self.enter_flow1 = nn.Conv2d(2, num_feat, down, stride=down, bias=False)
        self.t_embed = nn.Parameter(torch.zeros(1, num_feat, 1, 1))
        layers: list[nn.Module] = [nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        self.body = nn.Sequential(*layers)
        # The mask is smooth: predicted at low resolution and upsampled bilinearly. The residual
        # is detail: down^2 values per low-resolution pixel, pixel-shuffled to full resolution.
        self.mask_head = nn.Conv2d(num_feat, 1, 3, padding=1)
        self.residual_head = nn.Conv2d(num_feat, 3 * down * down, 1)
        self.shuffle = nn.PixelShuffle(down)
        for head in (self.mask_head, self.residual_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)  # type: ignore[arg-type]

    def forward(
        self,
        warped0: torch.Tensor,
        warped1: torch.Tensor,
        t: torch.Tensor,
        flow_t0: torch.Tensor,
        flow_t1: torch.Tensor,
    ) -> torch.Tensor:
        t4 = t.view(-1, 1, 1, 1)
        feat = (
            self.enter0(warped0 - 0.5)
            + self.enter1(warped1 - 0.5)
            + self.enter_flow0(flow_t0 * FLOW_SCALE)
            + self.enter_flow1(flow_t1 * FLOW_SCALE)
            + (t4 - 0.5) * self.t_embed
        )
        feat = self.body(feat)
        prior = torch.log((1 - t4).clamp_min(1e-3) / t4.clamp_min(1e-3))
        logit = F.interpolate(self.mask_head(feat), scale_factor=float(self.down), mode="bilinear", align_corners=False)
        mask = torch.sigmoid(logit + prior)
        residual = self.shuffle(self.residual_head(feat))
        return (warped1 + mask * (warped0 - warped1) + residual).clamp(0, 1)


class InterpUint8NHWC(nn.Module):
    """The exported I/O: uint8 NHWC warped frames, float32 t (N, 1), NHWC flows from t (N, H, W, 2)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        warped0: torch.Tensor,
        warped1: torch.Tensor,
        t: torch.Tensor,
        flow_t0: torch.Tensor,
        flow_t1: torch.Tensor,
    ) -> torch.Tensor:
        def frame(x: torch.Tensor) -> torch.Tensor:
            return x.permute(0, 3, 1, 2).float() / 255.0

        y = self.model(frame(warped0), frame(warped1), t, flow_t0.permute(0, 3, 1, 2), flow_t1.permute(0, 3, 1, 2))
        return (y * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
