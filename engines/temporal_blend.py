"""A motion-gated running average of a stream's frames along optical flow (numpy + OpenCV).

Noise is independent from frame to frame where the scene is not. Averaging consecutive frames,
each moved onto the current frame by optical flow, removes much of it: the recursive filter of a
camera's temporal noise reduction (3DNR). The restore stages run it on their *input*, before the
network, as a camera runs 3DNR before its spatial filter (``stream/stages/recurrent_state.py``,
`StreamBlend`): the network then sees a frame with less noise, and what it removes of the rest
is not averaged a second time. Where the warped average disagrees with the current frame (motion
the flow missed, something appearing, a change of light) the pixel starts afresh from the
current frame, so moving objects do not ghost.

Per pixel it keeps the average `acc` and how many frames it holds, `n` (capped at `cap`, so
the oldest frames fade out and the average follows slow changes). For each frame:

1. the flow from the current input frame back to the previous one (DIS, ``engines/flow.py``),
2. `acc` and `n` warped along it (sub-pixel flow taken as none, `static_px`),
3. `agree`, from 1 to 0: how far the warped average and the current frame differ (the absolute
   difference in grey levels, smoothed over a few pixels, mean over the channels), against the
   threshold: 1 up to `(1 - soft)` times it, 0 from `(1 + soft)` times it, linear between,
4. k = min(n_warped, cap) * agree; acc = (cur + k * acc_warped) / (1 + k); n = 1 + k.

`apply(frame, out)` averages `out` (the frame itself, or a model's output for it) along the
flow of `frame`. The threshold follows the noise of the stream's input (`per_sigma` times its
white-noise sigma, Immerkaer's estimator of ``engines.restore_strength``, read every `every`
frames; at most `threshold`): clean or compressed input (sigma under `MIN_SIGMA`: coding
artifacts repeat from frame to frame and do not average away) passes unchanged, without a flow
call, as do frames too small for DIS. It adds no latency (causal) and one DIS flow per frame.
The values were chosen on the selection split at noise sigma 15 (docs/temporal.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.engines.flow import Flow, FlowEstimator, FlowOptions, Warper, resize_flow
from ganstream.engines.restore_strength import noise_sigma

Image = npt.NDArray[np.uint8]

# Input noise sigma under which nothing is averaged (clean or compressed input: every train and
# selection clip reads 0 to 0.8, H.264 CRF 30 0 to 0.4): the flow and the warps are skipped.
MIN_SIGMA = 1.9
MIN_SIDE = 16  # DIS needs a frame at least this large


@dataclass(frozen=True)
class BlendOptions:
    """How far the average may disagree with the current output, and how many frames it holds."""

    threshold: float = 10.0  # at most this many grey levels, after smoothing over `smooth` pixels
    per_sigma: float = 5 / 15  # the threshold per level of the input's measured noise sigma
    cap: float = 3.0  # frames an average may hold (its share of the output: cap / (1 + cap))
    # The gate's ramp around the threshold, as a share of it (0: a hard gate). A pixel just over
    # the threshold still keeps some of its average, and one just under it does not keep all:
    # the disagreement of noise alone straddles the threshold, and a hard gate reset at random.
    soft: float = 0.5
    smooth: float = 1.5  # Gaussian sigma of the disagreement, pixels: noise alone must not reset it
    every: int = 25  # frames between two noise readings
    # Pixels whose flow is under `static_px` on both axes are taken as still and their flow set
    # to exactly 0. On noisy input DIS reports fractions of a pixel of motion where nothing
    # moves; warped along them, the average is resampled (blurred) at every frame and shifted
    # off the scene, and the gate has to reset it. A warp by 0 is exact. 0 turns this off.
    static_px: float = 1.0

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise ValueError(f"BlendOptions: threshold must be > 0, got {self.threshold}")
        if not self.cap >= 1:
            raise ValueError(f"BlendOptions: cap must be >= 1, got {self.cap}")
        if not self.smooth >= 0:
            raise ValueError(f"BlendOptions: smooth must be >= 0, got {self.smooth}")
        if not 0 <= self.soft < 1:
            raise ValueError(f"BlendOptions: soft must be in [0, 1), got {self.soft}")
        if not self.per_sigma > 0:
            raise ValueError(f"BlendOptions: per_sigma must be > 0, got {self.per_sigma}")
        if self.every < 1:
            raise ValueError(f"BlendOptions: every must be >= 1, got {self.every}")
        if not self.static_px >= 0:
            raise ValueError(f"BlendOptions: static_px must be >= 0, got {self.static_px}")


_CHANNEL_MEAN = np.full((1, 3), 1.0 / 3.0, np.float32)


def _agreement(disagreement: npt.NDArray[np.float32], threshold: float, soft: float) -> npt.NDArray[np.float32]:
    """1 where the disagreement is under (1 - soft) * threshold, 0 over (1 + soft) * threshold, linear between."""
    if soft <= 0:
        return (disagreement < threshold).astype(np.float32)
    ramp = (threshold * (1.0 + soft) - disagreement) / (2.0 * soft * threshold)
    return np.clip(ramp, 0.0, 1.0, out=ramp)


class TemporalBlend:
    """The running average of one stream's outputs; `reset` at a new stream, a cut or a gap."""

    def __init__(self, options: BlendOptions | None = None, flow: FlowOptions | None = None) -> None:
        self.options = options or BlendOptions()
        self._flow = FlowEstimator(flow or FlowOptions())
        self._warper = Warper()
        self._grey: Image | None = None  # the previous input frame, grey at the flow's working size
        self._acc: npt.NDArray[np.float32] | None = None
        self._count: npt.NDArray[np.float32] | None = None
        self.steps = 0  # frames blended with a previous average
        self.held = 0.0  # mean frames the last output's pixels averaged (1.0: none blended)
        self.sigma = 0.0  # the input's last measured noise sigma
        self._frames = 0  # frames since the stream (re)started
        # The flow of the last `apply` (current -> previous input, at the flow's working size, before
        # still pixels are set to 0); None when it computed none. A recurrent model's memory reuses it.
        self.last_flow: Flow | None = None

    @property
    def threshold(self) -> float:
        """The disagreement, in grey levels, under which the average is kept (from the input's noise)."""
        return min(self.options.threshold, self.options.per_sigma * self.sigma)

    @property
    def has_state(self) -> bool:
        return self._acc is not None

    def reset(self) -> None:
        self._grey = self._acc = self._count = None
        self._frames = 0

    def apply(self, frame: Image, out: Image, flow: Flow | None = None) -> Image:
        """The blended output for input `frame` whose model output is `out` (same size for restore).

        `flow`: the flow from `frame` back to the previous input frame, at any size (a recurrent
        model's, already computed); None computes it here.
        """
        if self._frames % self.options.every == 0:
            self.sigma = noise_sigma(frame)
        self._frames += 1
        self.last_flow = None
        grey = self._flow.grey(frame) if flow is None else None
        current = out.astype(np.float32)
        acc, count = self._acc, self._count
        small = min(current.shape[:2]) < MIN_SIDE
        if acc is None or count is None or acc.shape != current.shape or small or self.sigma < MIN_SIGMA:
            return self._start(grey, current, out)
        if flow is None:
            if grey is None or self._grey is None or self._grey.shape != grey.shape:
                return self._start(grey, current, out)
            flow = self._flow.calc(grey, self._grey)
        self.last_flow = flow
        h, w = current.shape[:2]
        o = self.options
        f = resize_flow(flow, h, w)
        if o.static_px > 0:
            # |fx| < static_px and |fy| < static_px (strictly), then the other pixels' flow kept
            # and the still ones' 0: OpenCV passes, a third of numpy's masked assignment. A new
            # array: `flow` may be the caller's.
            inner = float(np.nextafter(np.float32(o.static_px), np.float32(0)))
            moving = cv2.bitwise_not(cv2.inRange(f, (-inner, -inner), (inner, inner)))
            f = np.asarray(cv2.copyTo(f, moving, np.zeros_like(f)), dtype=np.float32)
        # One OpenCV pass per step (and numpy in place) rather than numpy expressions, each of
        # which makes a frame-sized temporary: the same values, about a fifth less time per frame.
        acc_w, count_w = self._warper.warp_all((acc, count), f)
        step = cv2.subtract(acc_w, current)
        diff = cv2.GaussianBlur(step, (0, 0), o.smooth) if o.smooth > 0 else step.copy()
        np.abs(diff, out=diff)
        # the mean over the channels as one 1x3 transform: numpy's mean over the last axis is slow
        agree = _agreement(np.asarray(cv2.transform(diff, _CHANNEL_MEAN), dtype=np.float32), self.threshold, o.soft)
        k = np.minimum(count_w, np.float32(o.cap), out=count_w)
        k *= agree
        # (cur + k * acc_w) / (1 + k), as cur + k / (1 + k) * (acc_w - cur): one 3-channel pass fewer
        count = k + np.float32(1.0)
        share = cv2.divide(k, count)
        new_acc = np.asarray(cv2.add(current, cv2.multiply(step, cv2.merge((share, share, share)))), dtype=np.float32)
        self._acc, self._count = new_acc, count
        self._grey = grey
        self.steps += 1
        self.held = float(cv2.mean(count)[0])
        rounded = new_acc + np.float32(0.5)
        np.clip(rounded, 0, 255, out=rounded)
        return rounded.astype(np.uint8)

    def _start(self, grey: Image | None, current: npt.NDArray[np.float32], out: Image) -> Image:
        self._grey, self._acc = grey, current
        self._count = np.ones(current.shape[:2], np.float32)
        self.held = 1.0
        return out
