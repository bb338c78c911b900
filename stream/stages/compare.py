"""Before/after pictures: the source, scaled to the output size, beside or split with the output.

`compare_stages(stages, mode)` puts `HoldSourceStage` before the chain (it keeps the last few
source frames) and `CompareStage` after it (it pairs each output frame with the source frame of
the same or the closest earlier timestamp, so interpolated frames pair with the frame before
them). ``side`` writes source | output, twice as wide; ``split`` writes the source's left half and
the output's right half, with a thin line between. Any sink can take the result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import cv2
import numpy as np

from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, Pixels, VideoSpec
from ganstream.stream.stages.base import Stage

MODES = ("side", "split")
HELD = 8  # source frames kept for pairing; interpolation holds back one or two


class HoldSourceStage:
    """Passes frames through, keeping the last few for `CompareStage`."""

    def __init__(self) -> None:
        self.name = "compare-source"
        self.label = "keeps source frames"
        self.held: deque[Frame] = deque(maxlen=HELD)

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        self.held.append(frame)
        return [frame]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        self.held.clear()

    def match(self, pts: int) -> Frame | None:
        """The held source frame with the greatest pts <= `pts` (else the oldest held)."""
        held = list(self.held)
        before = [f for f in held if f.pts <= pts]
        if before:
            return before[-1]
        return held[0] if held else None


class CompareStage:
    """Output frames combined with their source frames (see the module's doc)."""

    def __init__(self, hold: HoldSourceStage, mode: str) -> None:
        if mode not in MODES:
            raise StageError(f"compare mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.name = "compare"
        self.label = f"before/after {mode}"
        self.mode = mode
        self.hold = hold

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec.with_size(spec.width * 2, spec.height) if self.mode == "side" else spec

    def process(self, frame: Frame) -> list[Frame]:
        src = self.hold.match(frame.pts)
        if src is None:
            raise StageError("compare: an output frame arrived before any source frame")
        return [frame.with_pixels(compose(src.pixels, frame.pixels, self.mode))]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        pass


def compose(source: Pixels, output: Pixels, mode: str) -> Pixels:
    """`source` scaled (bicubic) to `output`'s size, then beside it or split with it."""
    h, w = output.shape[:2]
    if source.shape[:2] != (h, w):
        interp = cv2.INTER_AREA if source.shape[1] > w else cv2.INTER_CUBIC
        source = np.asarray(cv2.resize(source, (w, h), interpolation=interp), dtype=np.uint8)
    if mode == "side":
        return np.ascontiguousarray(np.hstack([source, output]))
    out = np.array(output, copy=True)
    half = w // 2
    out[:, :half] = source[:, :half]
    out[:, max(0, half - 1) : half + 1] = 255  # the seam, so a viewer sees where the split is
    return out


def compare_stages(stages: Sequence[Stage], mode: str) -> list[Stage]:
    """`stages` framed by the two compare stages."""
    hold = HoldSourceStage()
    return [hold, *stages, CompareStage(hold, mode)]
