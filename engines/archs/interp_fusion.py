"""`FlowFusionNet`: the learned half of the CPU interpolator (model ``interp``).

Motion comes from outside: the classical bidirectional DIS flow (``ganstream.engines.flow``),
the flows from time t (Super SloMo's linear approximation) and both frames warped to t are
computed by the runtime (``cv2.remap`` is ~30x faster than an in-graph ``GridSample`` on a
CPU). A small network at a quarter of the resolution looks at the two frames, the two warps
and the flows from t, and predicts

- a **flow correction** for each warp (a few pixels at most), applied to the warped frame to
  first order: ``w(x + d) ~ w(x) + grad w(x) . d``, with central differences of the warp. No
  resampling in the graph, so it stays cheap, and the runtime warps stay the only warps;
- a **fusion** of three candidates per pixel (softmax weights): the two corrected warps and
  the plain cross-fade of the unwarped frames, which is the better guess where the flow is
  wrong (low contrast, small lights, occlusions);
- a **residual**: the detail the warps lost.

The weights' logits start at log((1 - t) / t) for the warps and a large negative value for
the cross-fade, and every head starts at zero, so an untrained network returns the classical
average ``(1 - t) w0 + t w1``: training can only add to the classical result.

With `fallback` (the parameters of ``ganstream.engines.flow.Fallback``), the network starts
from `flow`'s own result instead: the cross-fade is mixed into the fused frame where the two
warps disagree, by the same ramp as `flow`, computed in the graph, times a gate the network
learns (one at step 0). An untrained network then returns what ``--model flow`` returns (to the
rounding of the fallback's lookup table), and training starts from the better classical result.

Frames are float32 NCHW RGB in [0, 1], flows float32 N2HW in pixels, t float32 (N, 1).
Height and width must be multiples of `multiple` (4, times 2 per coarse level).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE_OF = 4
FLOW_SCALE = 1.0 / 16.0  # flows enter the body in units of 16 px
MAX_CORRECTION = 2.0  # px: beyond this a first-order correction is not a warp any more
BLEND_PRIOR = -10.0  # the cross-fade's starting logit: a weight under 1e-4 at step 0
LUMA = (0.299, 0.587, 0.114)  # OpenCV's RGB -> grey, as `flow`'s fallback measures disagreement
INPUTS = ("frame0", "frame1", "warped0", "warped1", "t", "flow_t0", "flow_t1")


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences along x and y, edges replicated (the warps' own edge rule)."""
    # (As per-channel 1x3 and 3x1 convolutions OpenVINO ran the rest of the graph in another
    # memory layout, and the graph took twice as long.)
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = 0.5 * (p[:, :, 1:-1, 2:] - p[:, :, 1:-1, :-2])
    gy = 0.5 * (p[:, :, 2:, 1:-1] - p[:, :, :-2, 1:-1])
    return gx, gy


def bilinear_phases(factor: int) -> torch.Tensor:
    """(factor^2, 1, 3, 3) kernels: output phase (py, px) of a bilinear upsampling by `factor`
    (align_corners False) from the 3x3 neighbourhood of each low-resolution pixel."""
    taps = torch.zeros(factor, 3)
    for p in range(factor):
        o = (p + 0.5) / factor - 0.5  # where the phase samples, in low-resolution pixels
        taps[p, 1] = 1.0 - abs(o)
        taps[p, 0 if o < 0 else 2] = abs(o)
    return (taps[:, None, :, None] * taps[None, :, None, :]).reshape(factor * factor, 1, 3, 3)


def _times(plane: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """A one-channel map times an image, the map expanded to the image's channels first.

    The same product as broadcasting; but onnxruntime lays the graph out channels-last, where a
    broadcast over the innermost axis ran about 10x slower than a plain product (4.4 against
    0.4 ms at 640x360, seven of them the graph's largest cost), and an explicit copy is cheap.
    """
    return plane.expand_as(image) * image


class FlowFusionNet(nn.Module):
    """Flow correction, three-way fusion and residual from the frames, the warps and the flows from t."""

    luma: torch.Tensor
    up_kernel: torch.Tensor

    def __init__(
        self,
        num_feat: int = 24,
        num_conv: int = 2,
        down: int = 4,
        coarse: int = 0,
        fallback: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.down, self.num_feat, self.num_conv, self.coarse = down, num_feat, num_conv, coarse
        # `flow`'s cross-fade fallback as the starting point (module docstring); None: the average
        self.fallback = dict(fallback) if fallback else None
        # frame sizes the graph takes: the body's grid, halved once per coarse level
        self.multiple = down * 2**coarse
        # A stride-`down` convolution with a `down` x `down` kernel sees every full-resolution
        # pixel once: a pixel-unshuffle plus a 1x1 convolution, without the transposes. One per
        # input, summed, instead of a full-resolution concatenation.
        self.enter_w0 = nn.Conv2d(3, num_feat, down, stride=down)
        self.enter_w1 = nn.Conv2d(3, num_feat, down, stride=down, bias=False)
        self.enter_f0 = nn.Conv2d(3, num_feat, down, stride=down, bias=False)
        self.enter_f1 = nn.Conv2d(3, num_feat, down, stride=down, bias=False)
        # |w0 - w1|: where the warps disagree (a linear layer cannot make an absolute value)
        self.enter_diff = nn.Conv2d(1, num_feat, down, stride=down, bias=False)
        self.enter_flow0 = nn.Conv2d(2, num_feat, down, stride=down, bias=False)
        self.enter_flow1 = nn.Conv2d(2, num_feat, down, stride=down, bias=False)
        self.t_embed = nn.Parameter(torch.zeros(1, num_feat, 1, 1))
        layers: list[nn.Module] = [nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        self.body = nn.Sequential(*layers)
        # Coarse levels (1/8, 1/16 ... of the frame) widen what a pixel's decision sees: an
        # occlusion or a wrong flow is judged by the motion around it, beyond the body's 3x3s.
        self.downs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(num_feat, num_feat, 3, stride=2, padding=1),
                nn.PReLU(num_feat),
                nn.Conv2d(num_feat, num_feat, 3, padding=1),
                nn.PReLU(num_feat),
            )
            for _ in range(coarse)
        )
        # Weights and flow corrections are smooth: predicted at low resolution and upsampled
        # bilinearly. The residual is detail: down^2 values per low-resolution pixel, shuffled.
        self.weight_head = nn.Conv2d(num_feat, 3, 3, padding=1)
        self.flow_head = nn.Conv2d(num_feat, 4, 3, padding=1)
        self.residual_head = nn.Conv2d(num_feat, 3 * down * down, 1)
        self.shuffle = nn.PixelShuffle(down)
        heads = [self.weight_head, self.flow_head, self.residual_head]
        if self.fallback is not None:
            # the fallback's share, scaled per pixel by 2 sigmoid(gate): 1 at step 0, 0 to 2 later
            self.gate_head = nn.Conv2d(num_feat, 1, 3, padding=1)
            heads.append(self.gate_head)
        for head in heads:
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)  # type: ignore[arg-type]
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("up_kernel", bilinear_phases(down), persistent=False)

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        """Bilinear upsampling by `down` (align_corners False), of a one-channel map."""
        # The same values as a fixed 3x3 convolution into down^2 phases and a pixel shuffle: in
        # OpenVINO an Interpolate of one full-size channel took ~3 ms at 640x360, the graph's
        # largest cost; this takes a fraction of it. (Edges replicated = the clamped sampling.)
        return F.pixel_shuffle(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.up_kernel), self.down)

    def forward(
        self,
        frame0: torch.Tensor,
        frame1: torch.Tensor,
        warped0: torch.Tensor,
        warped1: torch.Tensor,
        t: torch.Tensor,
        flow_t0: torch.Tensor,
        flow_t1: torch.Tensor,
    ) -> torch.Tensor:
        t4 = t.view(-1, 1, 1, 1)
        diff = (warped0 - warped1).abs().mean(dim=1, keepdim=True)
        feat = (
            self.enter_w0(warped0 - 0.5)
            + self.enter_w1(warped1 - 0.5)
            + self.enter_f0(frame0 - 0.5)
            + self.enter_f1(frame1 - 0.5)
            + self.enter_diff(diff)
            + self.enter_flow0(flow_t0 * FLOW_SCALE)
            + self.enter_flow1(flow_t1 * FLOW_SCALE)
            + (t4 - 0.5) * self.t_embed
        )
        feat = self.body(feat)
        pyramid = [feat]
        for down in self.downs:
            pyramid.append(down(pyramid[-1]))
        for level in range(len(pyramid) - 1, 0, -1):  # coarse to fine, each level added to the next finer
            pyramid[level - 1] = pyramid[level - 1] + F.interpolate(
                pyramid[level], scale_factor=2.0, mode="bilinear", align_corners=False
            )
        feat = pyramid[0]

        # Maps are split into planes on the low-resolution grid and each plane upsampled alone:
        # the same values (bilinear upsampling is per channel), without slicing full-size tensors
        # (OpenVINO's full-size channel split ran as a reference kernel, 7 ms at 640x360).
        d = MAX_CORRECTION * torch.tanh(self.flow_head(feat))
        gx0, gy0 = _gradients(warped0)
        gx1, gy1 = _gradients(warped1)
        w0 = warped0 + _times(self._up(d[:, 0:1]), gx0) + _times(self._up(d[:, 1:2]), gy0)
        w1 = warped1 + _times(self._up(d[:, 2:3]), gx1) + _times(self._up(d[:, 3:4]), gy1)

        prior0 = torch.log((1 - t4).clamp_min(1e-3))
        prior1 = torch.log(t4.clamp_min(1e-3))
        prior = torch.cat((prior0, prior1, torch.full_like(prior0, BLEND_PRIOR)), dim=1)
        # softmax on the low-resolution grid, then upsampled: bilinear weights of a convex
        # combination still sum to one, and a channel softmax at full size is the graph's
        # most expensive node on a CPU
        weights = torch.softmax(self.weight_head(feat) + prior, dim=1)
        blend = (1 - t4) * frame0 + t4 * frame1
        fused = (
            _times(self._up(weights[:, 0:1]), w0)
            + _times(self._up(weights[:, 1:2]), w1)
            + _times(self._up(weights[:, 2:3]), blend)
        )
        if self.fallback is not None:
            share = self._fallback_share(warped0, warped1) * self._up(2.0 * torch.sigmoid(self.gate_head(feat)))
            fused = fused + _times(share.clamp(0, 1), blend - fused)
        return (fused + self.shuffle(self.residual_head(feat))).clamp(0, 1)

    def _fallback_share(self, warped0: torch.Tensor, warped1: torch.Tensor) -> torch.Tensor:
        """`Fallback.weights` of the warps' disagreement: the cross-fade's share per pixel, (N, 1, H, W)."""
        assert self.fallback is not None
        fb = self.fallback
        grey = ((warped0 - warped1).abs() * self.luma).sum(dim=1, keepdim=True) * 255.0
        r = int(fb["window"]) // 2
        # cv2.blur's border is BORDER_REFLECT_101, torch's "reflect"
        spread = F.avg_pool2d(F.pad(grey, (r, r, r, r), mode="reflect"), 2 * r + 1, stride=1)
        ramp = (spread - fb["ignore_below"]) / (fb["full_at"] - fb["ignore_below"])
        return ramp.clamp(0, 1) * fb["share"]


class InterpUint8NHWC(nn.Module):
    """The exported I/O, in `INPUTS` order: uint8 NHWC frames and warps, float32 t (N, 1),
    NHWC flows from t (N, H, W, 2); uint8 NHWC out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        frame0: torch.Tensor,
        frame1: torch.Tensor,
        warped0: torch.Tensor,
        warped1: torch.Tensor,
        t: torch.Tensor,
        flow_t0: torch.Tensor,
        flow_t1: torch.Tensor,
    ) -> torch.Tensor:
        def image(x: torch.Tensor) -> torch.Tensor:
            return x.permute(0, 3, 1, 2).float() / 255.0

        y = self.model(
            image(frame0), image(frame1), image(warped0), image(warped1), t,
            flow_t0.permute(0, 3, 1, 2), flow_t1.permute(0, 3, 1, 2),
        )  # fmt: skip
        return (y * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
