"""The state of a recurrent video model (``vsr2x``, ``vrestore``) for one stream: numpy + OpenCV, no torch.

A recurrent model takes two inputs (see ``engines/archs/recurrent.py``): the current frame and
its own previous output, moved onto the current frame by classical optical flow and folded to
the frame's grid. `Recurrence` keeps that state for one stream and computes the second input:

1. DIS flow (``engines/flow.py``) from the current *input* frame back to the previous input frame
   (both degraded: the flow the network was trained with is computed the same way),
2. for SR, the flow resized to the output size and scaled by the factor,
3. the previous output warped along it (bilinear, edges replicated) and folded by
   space-to-depth into ``3 * scale**2`` channels on the input grid.

With no state (the first frame, after `reset`) the "previous output" is the frame itself,
bicubic-upscaled for SR: the network learned that this means "nothing known yet" and then
behaves as the single-frame model. Training (``ganstream.training.temporal``) runs this very
class between its steps, so the runtime feeds the network exactly what it was trained on.

With ``neighbours`` = k > 0 (``vrestore`` trained with ``--neighbours``) the state input also
carries the k previous *input* frames, warped onto the current frame along the same flow (the
older ones warped once per frame since): the raw neighbours of a causal window, whose noise is
independent of the current frame's, next to the model's own fed-back output. Without a state
they are the frame itself.

Resets are the caller's decision (scene cuts, reconnects, size changes, long gaps): the
stages in ``ganstream.stream.stages.enhance`` make them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.engines.errors import ModelCardError
from ganstream.engines.flow import Flow, FlowEstimator, FlowOptions, Warper, resize_flow

Image = npt.NDArray[np.uint8]
STATE_INPUT = "previous"


@dataclass(frozen=True)
class RecurrenceSpec:
    """What a card's ``recurrent`` field says: the state input's name and the flow to compute it with."""

    scale: int = 1
    state_input: str = STATE_INPUT
    flow: FlowOptions = field(default_factory=FlowOptions)
    neighbours: int = 0  # previous input frames carried beside the previous output
    # Bicubic instead of bilinear sampling of the previous output (and neighbours) along the flow:
    # a bilinear sample at a half-pixel offset is a [1/2, 1/2] blur, and the state is resampled
    # at every frame, so a bilinear state loses the detail it is there to carry (`aligned`).
    cubic_warp: bool = False

    @property
    def state_channels(self) -> int:
        """Channels of the state input: the folded previous output, then the warped neighbours."""
        return 3 * self.scale * self.scale + 3 * self.neighbours

    @classmethod
    def from_card(cls, card: Any) -> RecurrenceSpec | None:
        """The spec of a recurrent model's card, None for a single-frame model."""
        rec = getattr(card, "recurrent", None) or {}
        if not rec:
            return None
        flow = rec.get("flow", {})
        tuned = {k: int(flow[k]) for k in _TUNED_FLOW if flow.get(k) is not None}
        warp = rec.get("warp", "bilinear")
        if warp not in ("bilinear", "cubic"):
            raise ModelCardError(
                f"model card '{getattr(card, 'name', '?')}': recurrent.warp must be bilinear or cubic, got {warp!r}"
            )
        return cls(
            scale=int(card.scale),
            state_input=str(rec.get("state_input", STATE_INPUT)),
            flow=FlowOptions(
                preset=str(flow.get("preset", "ultrafast")), downscale=int(flow.get("downscale", 1)), **tuned
            ),
            neighbours=int(rec.get("neighbours", 0)),
            cubic_warp=warp == "cubic",
        )

    def to_card(self) -> dict[str, Any]:
        card: dict[str, Any] = {"state_input": self.state_input, "flow": asdict(self.flow), "fold": self.scale}
        if self.neighbours:
            card["neighbours"] = self.neighbours
        if self.cubic_warp:  # cards without it warp bilinearly, as every model before it
            card["warp"] = "cubic"
        return card


# FlowOptions fields beyond preset and downscale that a card may set (None: the preset's own)
_TUNED_FLOW = ("finest_scale", "refine_iters", "patch_stride", "descent_iters")
# The state aligned as finely as DIS's ultrafast preset goes: the flow to the working size's own
# pyramid level (the preset stops at a quarter of it) and bicubic warps. On the selection clips,
# the ground truth of the previous frame moved this way onto the current one (flow on the x2 area
# downscales, as vsr2x runs) matches it 1.2 to 4.8 dB better than with the preset's level and
# bilinear warps: the alignment the older recurrent models were trained with lost the detail a
# previous output could add (docs/temporal.md).
ALIGNED_FLOW = FlowOptions("ultrafast", 1, finest_scale=0)


def aligned(spec: RecurrenceSpec) -> RecurrenceSpec:
    """`spec` with its state aligned finely: `ALIGNED_FLOW` and bicubic warps."""
    return replace(spec, flow=ALIGNED_FLOW, cubic_warp=True)


def fold(image: Image, scale: int) -> Image:
    """Space-to-depth: (h*s, w*s, 3) -> (h, w, 3*s*s), channels ordered as torch's PixelUnshuffle."""
    if scale == 1:
        return image
    hs, ws, c = image.shape
    h, w = hs // scale, ws // scale
    blocks = image.reshape(h, scale, w, scale, c).transpose(0, 2, 4, 1, 3)
    return np.ascontiguousarray(blocks.reshape(h, w, c * scale * scale))


def initial_state(frame: Image, scale: int) -> Image:
    """The "nothing known yet" previous output: the frame itself, bicubic-upscaled for SR."""
    if scale == 1:
        return frame
    h, w = frame.shape[:2]
    return np.asarray(cv2.resize(frame, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)


def initial_previous(frame: Image, spec: RecurrenceSpec) -> Image:
    """The whole state input when nothing is known yet: the initial state folded, then the frame as
    each of its own neighbours."""
    folded = fold(initial_state(frame, spec.scale), spec.scale)
    if not spec.neighbours:
        return folded
    return np.ascontiguousarray(np.concatenate([folded] + [frame] * spec.neighbours, axis=2))


class Recurrence:
    """Per-stream state of a recurrent model: the previous input (grey) and the previous output."""

    def __init__(self, spec: RecurrenceSpec) -> None:
        self.spec = spec
        self._flow = FlowEstimator(spec.flow)
        self._warper = Warper(cubic=spec.cubic_warp)
        self._grey: Image | None = None
        self._output: Image | None = None
        self._inputs: Image | None = None  # the previous input frames (neighbours), on the previous grid
        self._pending_grey: Image | None = None
        self._pending_inputs: Image | None = None
        self.resets = 0  # how often the state was dropped (scene cuts, reconnects, ...), for reports
        self.steps = 0  # frames run with a real previous output

    @property
    def has_state(self) -> bool:
        return self._output is not None

    def reset(self) -> None:
        if self._output is not None:
            self.resets += 1
        self._grey = self._output = self._inputs = None

    def previous_for(self, frame: Image, flow: Flow | None = None) -> Image:
        """The state input for `frame`, uint8 (h, w, spec.state_channels); call `update` with the output next.

        `flow`: the flow from `frame` back to the previous frame, computed with this spec's flow
        options on the raw input (the temporal filter's, ``engines.temporal_blend``); None computes it.
        """
        s, k = self.spec.scale, self.spec.neighbours
        grey = self._flow.grey(frame)
        prev_grey, prev_out, prev_inputs = self._grey, self._output, self._inputs
        self._pending_grey = grey
        if prev_grey is None or prev_out is None or prev_grey.shape != grey.shape:
            self._pending_inputs = np.concatenate([frame] * k, axis=2) if k else None
            return initial_previous(frame, self.spec)
        if flow is None:
            flow = self._flow.calc(grey, prev_grey)  # current -> previous, at the working size
        self.steps += 1
        warped = fold(self._warper.warp(prev_out, resize_flow(flow, prev_out.shape[0], prev_out.shape[1])), s)
        if not k or prev_inputs is None:
            return warped
        h, w = frame.shape[:2]
        neighbours = np.asarray(self._warper.warp(prev_inputs, resize_flow(flow, h, w)), dtype=np.uint8)
        # the newest first: this frame, then the older ones, one frame further back each
        self._pending_inputs = np.concatenate((frame, neighbours[:, :, : 3 * (k - 1)]), axis=2)
        return np.ascontiguousarray(np.concatenate((warped, neighbours), axis=2))

    def update(self, output: Image) -> None:
        """Keep the model's output for `frame` (the one `previous_for` was last called with)."""
        self._grey, self._output, self._inputs = self._pending_grey, output, self._pending_inputs
