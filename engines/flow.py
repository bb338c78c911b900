"""Classical optical flow and warping for frame interpolation (numpy + OpenCV, no torch).

The motion part of ganstream's CPU interpolator:

1. bidirectional dense flow between the two frames with OpenCV's DIS (Kroeger et al., 2016),
   on grey frames, optionally at a reduced resolution and scaled back up,
2. the flows from the in-between time t back to each frame, from the linear-motion
   approximation of Super SloMo (Jiang et al., 2018):
   F_t0 = -(1 - t) t F_01 + t^2 F_10 and F_t1 = (1 - t)^2 F_01 - t (1 - t) F_10,
3. backward warping of both frames along those flows (bilinear, edge replicated).

The flows from t are combined at DIS's working size and only then brought to the frame's size
(`IntermediateFlows`): the combination is linear, so this equals combining full-size flows, for
a quarter of the arithmetic and one upsampling per flow from t instead of one per DIS flow.

Flow convention: ``flow01[y, x] = (dx, dy)`` means frame0 at (x, y) shows what frame1 shows at
(x + dx, y + dy). Flows are float32 (H, W, 2) in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Flow = npt.NDArray[np.float32]
Image = npt.NDArray[np.uint8]

DIS_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class FlowOptions:
    """How the classical flow is computed. `downscale` 2 runs DIS at half size (4x fewer pixels)."""

    preset: str = "ultrafast"
    # Full size by default, chosen on the selection split (vtest, cup, carphone; leave-one-out,
    # luma PSNR): 36.13 dB against 35.97 at half size and minterpolate's 36.01, at 5.7x
    # minterpolate's speed. (Half size had won on the three clips used before the split existed;
    # it did not carry over to footage it was not chosen on.) `fast` gained 0.01 dB for 1.3x the
    # time, `medium` 0.18 dB for 4.5x: too slow for live interpolation on two cores. (`flow`
    # itself also lowers the finest scale: stream/stages/interp_synth.CLASSICAL_FLOW.)
    downscale: int = 1
    # DIS's finest pyramid level (0: the working size itself); None keeps the preset's (2 for
    # ultrafast and fast, 1 for medium).
    finest_scale: int | None = None
    # DIS's variational refinement iterations at each pyramid level; None keeps the preset's (0
    # for ultrafast, 5 for fast and medium). It smooths the patch flow along image edges, the
    # part of DIS that costs most.
    refine_iters: int | None = None
    # DIS's patch stride (px between patch centres) and gradient descent iterations per patch;
    # None keeps the preset's (ultrafast: 4 and 12). Fewer patches and iterations pay for the
    # refinement's time.
    patch_stride: int | None = None
    descent_iters: int | None = None

    def __post_init__(self) -> None:
        if self.preset not in DIS_PRESETS:
            raise ValueError(f"FlowOptions: preset must be one of {', '.join(DIS_PRESETS)}, got {self.preset!r}")
        if self.downscale not in (1, 2, 4):
            raise ValueError(f"FlowOptions: downscale must be 1, 2 or 4, got {self.downscale}")
        if self.finest_scale is not None and not 0 <= self.finest_scale <= 4:
            raise ValueError(f"FlowOptions: finest_scale must be 0..4 or None, got {self.finest_scale}")
        if self.refine_iters is not None and not 0 <= self.refine_iters <= 20:
            raise ValueError(f"FlowOptions: refine_iters must be 0..20 or None, got {self.refine_iters}")
        if self.patch_stride is not None and not 1 <= self.patch_stride <= 8:
            raise ValueError(
                f"FlowOptions: patch_stride must be 1..8 (the patch is 8 px) or None, got {self.patch_stride}"
            )
        if self.descent_iters is not None and not 1 <= self.descent_iters <= 100:
            raise ValueError(f"FlowOptions: descent_iters must be 1..100 or None, got {self.descent_iters}")


class FlowEstimator:
    """Bidirectional DIS flow between two RGB frames."""

    def __init__(self, options: FlowOptions | None = None) -> None:
        self.options = options or FlowOptions()
        self._dis = self._create()
        # OpenCV's DIS rewrites its own finest scale and patch size when an image is too small
        # for them, and keeps them for every later call: one small frame would change the flow
        # of all larger ones after it (another camera, the next clip). They are set again on
        # every call, so a flow depends on its two frames only.
        self._levels = (self._dis.getFinestScale(), self._dis.getPatchSize(), self._dis.getPatchStride())

    def _create(self) -> Any:
        dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.options.preset])  # type: ignore[attr-defined]
        if self.options.finest_scale is not None:
            dis.setFinestScale(self.options.finest_scale)
        if self.options.refine_iters is not None:
            dis.setVariationalRefinementIterations(self.options.refine_iters)
        if self.options.patch_stride is not None:
            dis.setPatchStride(self.options.patch_stride)
        if self.options.descent_iters is not None:
            dis.setGradientDescentIterations(self.options.descent_iters)
        return dis

    def grey(self, frame: Image) -> Image:
        g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        d = self.options.downscale
        if d > 1:
            g = cv2.resize(g, (g.shape[1] // d, g.shape[0] // d), interpolation=cv2.INTER_AREA)
        return np.asarray(g, dtype=np.uint8)

    def calc(self, grey0: Image, grey1: Image) -> Flow:
        """DIS flow from `grey0` to `grey1` (both from `grey`), at the working size, in working pixels."""
        finest, patch, stride = self._levels
        self._dis.setFinestScale(finest)
        self._dis.setPatchSize(patch)
        self._dis.setPatchStride(stride)
        return np.asarray(self._dis.calc(grey0, grey1, None), dtype=np.float32)

    def working(self, frame0: Image, frame1: Image) -> IntermediateFlows:
        """Both DIS flows at the working size, ready to give the flows from any t."""
        h, w = frame0.shape[:2]
        return self.working_from_grey(self.grey(frame0), self.grey(frame1), h, w)

    def working_from_grey(self, grey0: Image, grey1: Image, height: int, width: int) -> IntermediateFlows:
        """`working` for frames of (height, width) already made grey by `grey`."""
        return IntermediateFlows(self.calc(grey0, grey1), self.calc(grey1, grey0), height, width)

    def bidirectional(self, frame0: Image, frame1: Image) -> tuple[Flow, Flow]:
        """(flow01, flow10) at the frames' full size."""
        pair = self.working(frame0, frame1)
        return pair.full_size(pair.flow01), pair.full_size(pair.flow10)


class IntermediateFlows:
    """The two DIS flows at their working size and the frame size they stand for."""

    def __init__(self, flow01: Flow, flow10: Flow, height: int, width: int) -> None:
        self.flow01, self.flow10 = flow01, flow10
        self.height, self.width = height, width

    def full_size(self, flow: Flow) -> Flow:
        """A working-size flow (in working pixels) at the frame's size, in frame pixels."""
        return resize_flow(flow, self.height, self.width)

    def at(self, t: float) -> tuple[Flow, Flow]:
        """(F_t0, F_t1) at the frame's size (see `intermediate_flows`)."""
        h, w = self.flow01.shape[:2]
        scale = self.width / w
        if scale == self.height / h:  # the usual case: the pixel scale goes into the mix for free
            ft0 = cv2.addWeighted(self.flow01, -(1.0 - t) * t * scale, self.flow10, t * t * scale, 0.0)
            ft1 = cv2.addWeighted(self.flow01, (1.0 - t) ** 2 * scale, self.flow10, -t * (1.0 - t) * scale, 0.0)
            size = (self.width, self.height)
            return (
                np.asarray(cv2.resize(ft0, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32),
                np.asarray(cv2.resize(ft1, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32),
            )
        ft0, ft1 = intermediate_flows(self.flow01, self.flow10, t)
        return self.full_size(ft0), self.full_size(ft1)


def resize_flow(flow: Flow, height: int, width: int) -> Flow:
    """`flow` resized to (height, width), its vectors scaled with it (bilinear)."""
    if flow.shape[0] == height and flow.shape[1] == width:
        return np.ascontiguousarray(flow, dtype=np.float32)
    up = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    sy, sx = height / flow.shape[0], width / flow.shape[1]
    # cv2.multiply scales each channel by its own factor in one pass.
    return np.asarray(cv2.multiply(up, (sx, sy, 0.0, 0.0)), dtype=np.float32)  # type: ignore[call-overload]


def intermediate_flows(flow01: Flow, flow10: Flow, t: float) -> tuple[Flow, Flow]:
    """(F_t0, F_t1): where each pixel of the frame at time t comes from in frame0 and frame1."""
    # cv2.addWeighted: one multi-threaded pass per flow instead of four numpy temporaries.
    ft0 = cv2.addWeighted(flow01, -(1.0 - t) * t, flow10, t * t, 0.0)
    ft1 = cv2.addWeighted(flow01, (1.0 - t) * (1.0 - t), flow10, -t * (1.0 - t), 0.0)
    return np.asarray(ft0, dtype=np.float32), np.asarray(ft1, dtype=np.float32)


class Warper:
    """Backward warping with a cached pixel grid (one per frame size)."""

    def __init__(self, fixed_point: bool = False, cubic: bool = False) -> None:
        # Fixed-point maps (OpenCV's 1/32 px interpolation table): remaps ~40 % faster with the
        # same PSNR on the validation clips; off by default, since the interp network was trained
        # on float-map warps.
        # `cubic`: bicubic instead of bilinear sampling. Bilinear sampling at a half-pixel offset
        # is a [1/2, 1/2] blur; the in-between frame of `flow` is two such samples averaged, so
        # every moving pixel lost detail (docs/interpolation.md, *The classical path*, step 3).
        # About 3x the remap's time.
        self._grid: Flow | None = None
        self.fixed_point = fixed_point
        self.interpolation = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR

    def _base(self, height: int, width: int) -> Flow:
        if self._grid is None or self._grid.shape[:2] != (height, width):
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            self._grid = np.ascontiguousarray(np.dstack((xs, ys)))
        return self._grid

    def warp(self, image: npt.NDArray[Any], flow: Flow) -> npt.NDArray[Any]:
        """image sampled at (x + flow_x, y + flow_y), bilinear (or bicubic, saturated to the
        dtype's range), edges replicated; keeps its dtype."""
        return self.warp_all((image,), flow)[0]

    def warp_all(self, images: Sequence[npt.NDArray[Any]], flow: Flow) -> list[npt.NDArray[Any]]:
        """`warp` of several images by one flow: the sampling map is made once."""
        where = np.asarray(cv2.add(self._base(flow.shape[0], flow.shape[1]), flow), dtype=np.float32)  # (H, W, 2)
        return [self._sample(image, where) for image in images]

    def _sample(self, image: npt.NDArray[Any], where: Flow) -> npt.NDArray[Any]:
        if image.ndim == 3 and image.shape[2] > 4 and self.interpolation != cv2.INTER_LINEAR:
            # OpenCV's bicubic remap takes at most 4 channels (a recurrent state's stacked frames have more)
            chunks = (np.ascontiguousarray(image[..., c : c + 3]) for c in range(0, image.shape[2], 3))
            parts = [self._sample(chunk, where) for chunk in chunks]
            return np.concatenate([p.reshape(*p.shape[:2], -1) for p in parts], axis=2)
        if self.fixed_point and image.dtype == np.uint8:
            xy, frac = cv2.convertMaps(where, None, cv2.CV_16SC2)  # type: ignore[call-overload]
            out = cv2.remap(image, xy, frac, self.interpolation, borderMode=cv2.BORDER_REPLICATE)
        else:
            out = cv2.remap(image, where, None, self.interpolation, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]
        return np.asarray(out, dtype=image.dtype)


def average_warped(warped0: Image, warped1: Image, t: float) -> Image:
    """The flow-only estimate: the two warped frames mixed by temporal distance."""
    return np.asarray(cv2.addWeighted(warped0, 1.0 - t, warped1, t, 0.0), dtype=np.uint8)


@dataclass(frozen=True)
class Fallback:
    """Where the two warps disagree, mix in the plain cross-fade of the unwarped frames.

    Disagreement is the grey absolute difference of the warps, averaged over `window` px squares.
    The cross-fade's share is 0 up to `ignore_below` grey levels (noise: ~95 % of the pixels of
    the validation clips stay untouched, so the mix is computed on the rest only) and grows
    linearly to `share` at `full_at` levels. Where the flow is wrong (occlusions, motion DIS
    missed, a middle frame that is not at the middle of the motion) the warps disagree and
    neither is right; the cross-fade spreads the error instead of placing a sharp wrong copy (on
    the validation clips: +0.09 dB, most of it on the walking people of vtest.avi). `share` 0 is
    the plain average.
    """

    share: float = 0.3
    ignore_below: float = 4.0
    full_at: float = 40.0
    window: int = 7

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"Fallback: share must be within 0..1, got {self.share}")
        if not 0.0 <= self.ignore_below < self.full_at or self.window < 1:
            raise ValueError(
                f"Fallback: need 0 <= ignore_below < full_at and window >= 1, "
                f"got {self.ignore_below}, {self.full_at} and {self.window}"
            )

    def weights(self) -> npt.NDArray[np.uint8]:
        """The cross-fade's share in 1/256 for each grey level of disagreement (a cv2.LUT table)."""
        levels = np.arange(256, dtype=np.float32)
        ramp = np.clip((levels - self.ignore_below) / (self.full_at - self.ignore_below), 0.0, 1.0)
        return np.asarray(np.round(ramp * self.share * 256.0), dtype=np.uint8)


def fuse_warped(warped0: Image, warped1: Image, frame0: Image, frame1: Image, t: float, fallback: Fallback) -> Image:
    """`average_warped`, with the cross-fade of the unwarped frames mixed in where the warps disagree."""
    average = average_warped(warped0, warped1, t)
    if fallback.share <= 0.0:
        return average
    grey = cv2.cvtColor(cv2.absdiff(warped0, warped1), cv2.COLOR_RGB2GRAY)
    spread = cv2.blur(grey, (fallback.window, fallback.window))
    weight = cv2.LUT(spread, fallback.weights())
    points = cv2.findNonZero(weight)  # x, y of each pixel to mix; None where the warps agree everywhere
    if points is not None:
        xy = np.asarray(points).reshape(-1, 2).astype(np.intp)
        where = xy[:, 1] * weight.shape[1] + xy[:, 0]
        out = average.reshape(-1, 3)
        w = weight.ravel()[where].astype(np.float32)[:, None] * (1.0 / 256.0)
        crossfade = np.take(frame0.reshape(-1, 3), where, axis=0).astype(np.float32) * (1.0 - t)
        crossfade += np.take(frame1.reshape(-1, 3), where, axis=0).astype(np.float32) * t
        mean = np.take(out, where, axis=0).astype(np.float32)
        out[where] = np.clip(mean + w * (crossfade - mean) + 0.5, 0, 255).astype(np.uint8)
    return average
