"""How much of an SR model's correction over bicubic to keep, measured on the stream itself.

An SR model's output is bicubic plus a learned residual. On content unlike its training data
(a smooth, clean close-up) that residual can be wrong, and the output falls below plain bicubic.
No ground truth exists in a live stream, but a frame is a ground truth for its own downscaled
copy: run the model on the frame shrunk by the model's scale and ask which strength ``alpha`` of
its residual best rebuilds the frame (least squares, ``alpha = <r, e> / <r, r>`` with ``r`` the
model's residual over bicubic and ``e`` the frame's). Content keeps its character across one
octave of scale (the self-similarity that zero-shot SR builds on), so the strength that was
right one scale down is close to the right one at full scale. The output is then
``alpha * model + (1 - alpha) * bicubic``, ``alpha`` in [0, 1]: the model's full output where it
helps, bicubic where it would hurt, and a mix between.

One estimate costs one model run at 1/scale^2 of the pixels; it runs on the first frame and
every ``every`` frames after. The sums behind ``alpha`` decay slowly, so it moves smoothly
(no visible jump) and a single flat or dark frame cannot swing it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Runner = Callable[[Image], Image]  # one (H, W, 3) uint8 frame -> (H*s, W*s, 3)

FULL_STRENGTH = 0.98  # above this the model's output is passed through untouched (no blend cost)


def bicubic(frame: Image, scale: int) -> Image:
    return np.asarray(
        cv2.resize(frame, (frame.shape[1] * scale, frame.shape[0] * scale), interpolation=cv2.INTER_CUBIC),
        dtype=np.uint8,
    )


def best_strength(model_out: Image, low_res: Image, truth: Image, scale: int) -> tuple[float, float]:
    """(<r, e>, <r, r>): the least-squares terms of the residual strength that rebuilds `truth`."""
    base = bicubic(low_res, scale).astype(np.float32)
    r = model_out.astype(np.float32) - base
    e = truth.astype(np.float32) - base
    return float(np.vdot(r, e)), float(np.vdot(r, r))


class ResidualGain:
    """The residual strength of one stream; `apply` blends each output frame with bicubic."""

    def __init__(self, run: Runner, scale: int, every: int = 50, decay: float = 0.7, min_side: int = 16) -> None:
        self.run = run
        self.scale = scale
        self.every = every
        self.decay = decay  # weight of the older estimates at each new one
        self.min_side = min_side
        self.alpha = 1.0
        self.estimates = 0
        self._re = 0.0
        self._rr = 0.0
        self._frames = 0

    def reset(self) -> None:
        """Forget the stream (a new source, a size change): the next frame is measured afresh."""
        self.alpha, self.estimates, self._re, self._rr, self._frames = 1.0, 0, 0.0, 0.0, 0

    def observe(self, frame: Image, out: Image | None = None) -> float:
        """Measure on `frame` (the model's low-resolution input) when one is due; the current alpha.

        `out` (the model's output on `frame`) is not needed: the measurement runs one scale down."""
        due = self._frames % self.every == 0
        self._frames += 1
        if due:
            self.estimate(frame)
        return self.alpha

    def estimate(self, frame: Image) -> float:
        s = self.scale
        h, w = frame.shape[0] // s, frame.shape[1] // s
        if min(h, w) < self.min_side:
            return self.alpha  # too small to shrink further: keep the model's output
        truth = np.ascontiguousarray(frame[: h * s, : w * s])
        small = np.asarray(cv2.resize(truth, (w, h), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        re, rr = best_strength(self.run(small), small, truth, s)
        self._re = self.decay * self._re + re
        self._rr = self.decay * self._rr + rr
        self.estimates += 1
        if self._rr > 0:
            self.alpha = float(np.clip(self._re / self._rr, 0.0, 1.0))
        return self.alpha

    def apply(self, frame: Image, model_out: Image) -> Image:
        """`model_out` with the current strength: alpha * model + (1 - alpha) * bicubic."""
        if self.alpha >= FULL_STRENGTH:
            return model_out
        base = bicubic(frame, self.scale)[: model_out.shape[0], : model_out.shape[1]]
        return np.asarray(cv2.addWeighted(model_out, self.alpha, base, 1.0 - self.alpha, 0.0), dtype=np.uint8)
