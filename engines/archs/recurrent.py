"""Recurrent video generators (models ``vsr2x`` and ``vrestore``): FRVSR's recurrence on our compact bodies.

Each frame is enhanced together with the previous *output*, warped to the current frame by the
runtime's classical flow (``ganstream.engines.recurrence``) and folded to the input's grid
(space-to-depth, ``scale**2 * 3`` channels). Where the scene is static or the flow is right,
the previous output carries everything earlier frames knew (noise averaged away, sub-pixel
detail gathered over time); where the flow is wrong or something appeared, the network sees
the warp disagree with the current frame and trusts the frame.

The bodies are the single-frame models' (``srvgg``: SRVGGCompact, ``restore``: RestoreCompact)
with extra input channels for the previous output. `from_single_frame` copies a shipped
single-frame model and zero-initialises the new channels, so training starts from exactly the
single-frame model and can only learn to use the recurrence on top of it.

With ``neighbours`` = k the state also carries the k previous input frames, warped to this one
(``ganstream.engines.recurrence``): their channels follow the folded output's, and
`with_neighbours` widens a trained model with them at zero, so it starts as that model.

Modules take float32 NCHW RGB in [0, 1]: the frame (N, 3, h, w) and the state, the folded previous
output then the neighbours (N, 3 * scale**2 + 3 * k, h, w); they return (N, 3, h * scale, w * scale).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganstream.engines.archs.srvgg import RestoreCompact, SRVGGCompact, _body
from ganstream.engines.recurrence import RecurrenceSpec

MAX_NEIGHBOURS = 4


class RecurrentCompact(nn.Module):
    """Frame + folded previous output (+ warped neighbours) -> enhanced frame; scale 1 (restore) or 2-4 (SR)."""

    def __init__(self, scale: int = 2, num_feat: int = 32, num_conv: int = 8, neighbours: int = 0) -> None:
        super().__init__()
        if scale not in (1, 2, 3, 4):
            raise ValueError(f"RecurrentCompact: scale must be 1, 2, 3 or 4, got {scale}")
        if not 0 <= neighbours <= MAX_NEIGHBOURS:
            raise ValueError(f"RecurrentCompact: neighbours must be 0 to {MAX_NEIGHBOURS}, got {neighbours}")
        self.scale, self.num_feat, self.num_conv, self.neighbours = scale, num_feat, num_conv, neighbours
        self.state_channels = RecurrenceSpec(scale=scale, neighbours=neighbours).state_channels
        if scale == 1:
            # restore: all at half resolution behind a pixel-unshuffle, as RestoreCompact
            self.unshuffle = nn.PixelUnshuffle(2)
            self.body = _body(12 + 4 * self.state_channels, 12, num_feat, num_conv)
            self.shuffle = nn.PixelShuffle(2)
        else:
            self.body = _body(3 + self.state_channels, 3 * scale * scale, num_feat, num_conv)
            self.shuffle = nn.PixelShuffle(scale)
        first = self.body[0]
        assert isinstance(first, nn.Conv2d)
        with torch.no_grad():  # the previous output starts unused: training decides how much to take
            first.weight[:, self.frame_channels :].zero_()

    @property
    def frame_channels(self) -> int:
        """Input channels of the first convolution that see the frame (the rest see the state)."""
        return 12 if self.scale == 1 else 3

    def forward(self, x: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            feat = torch.cat((self.unshuffle(x - 0.5), self.unshuffle(previous - 0.5)), dim=1)
            return x + self.shuffle(self.body(feat))
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + self.shuffle(self.body(torch.cat((x - 0.5, previous - 0.5), dim=1)))


def _widened(
    model: RecurrentCompact, first_weight: torch.Tensor, body_state: dict[str, torch.Tensor]
) -> RecurrentCompact:
    """`model` with `body_state` loaded and `first_weight` in the first input channels of its first
    convolution; the channels beyond it stay zero."""
    conv = model.body[0]
    assert isinstance(conv, nn.Conv2d)
    new_first = torch.zeros_like(conv.weight)
    new_first[:, : first_weight.shape[1]] = first_weight
    model.body.load_state_dict({**body_state, "0.weight": new_first})
    return model


def with_neighbours(model: RecurrentCompact, neighbours: int) -> RecurrentCompact:
    """`model` taking `neighbours` previous input frames as well, unused until trained."""
    if neighbours < model.neighbours:
        raise ValueError(f"with_neighbours: the model already takes {model.neighbours} neighbours, not {neighbours}")
    if neighbours == model.neighbours:
        return model
    wide = RecurrentCompact(model.scale, model.num_feat, model.num_conv, neighbours)
    state = model.body.state_dict()
    return _widened(wide, state["0.weight"], state)


def from_single_frame(single: nn.Module, neighbours: int = 0) -> RecurrentCompact:
    """A recurrent model equal to `single` (SRVGGCompact or RestoreCompact) until it is trained."""
    if isinstance(single, SRVGGCompact):
        scale, body = single.scale, single.body
        if single.skip != "bicubic":
            raise ValueError(f"from_single_frame: SR skip must be bicubic, got {single.skip!r}")
        if not isinstance(single.unshuffle, nn.Identity):  # the recurrent body works at the input's resolution
            raise ValueError(
                "from_single_frame: an SR body behind a pixel-unshuffle (the wide preset) has no recurrent form"
            )
    elif isinstance(single, RestoreCompact):
        scale, body = 1, single.body
    else:
        raise ValueError(f"from_single_frame: expected SRVGGCompact or RestoreCompact, got {type(single).__name__}")
    convs = [m for m in body.modules() if isinstance(m, nn.Conv2d)]
    num_feat, num_conv = convs[0].out_channels, len(convs) - 2
    model = RecurrentCompact(scale=scale, num_feat=num_feat, num_conv=num_conv, neighbours=neighbours)
    state = body.state_dict()
    return _widened(model, state["0.weight"], state)


class RecurrentUint8NHWC(nn.Module):
    """The exported I/O: ``input`` uint8 (N, h, w, 3), ``previous`` uint8 (N, h, w, state_channels)."""

    def __init__(self, model: RecurrentCompact) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        def nchw(t: torch.Tensor) -> torch.Tensor:
            return t.permute(0, 3, 1, 2).float() / 255.0

        y = self.model(nchw(x), nchw(previous))
        return (y * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
