"""Domain rules of frame interpolation, as small named functions the stage composes.

- scene cut: never interpolate across one; show the nearer source frame instead,
- static frames: nothing moved, so copy instead of running the model,
- timestep choice: which output times fall between two source frames and their t in (0, 1),
  from the frames' own timestamps (variable frame rate and dropped frames included),
- padding to a multiple of what a network needs (and cropping back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from ganstream.stream.frame import NS_PER_SECOND, Pixels

# Frames are compared on a small grey thumbnail: the tests stay cheap at any resolution.
THUMB_SIZE = (64, 36)
HIST_BINS = 32

# A cut when the grey thumbnails differ by more than SCENE_CUT_THRESHOLD levels on average, or by
# more than SCENE_CUT_MIN_DIFF levels while their histograms differ by more than
# SCENE_CUT_HIST (half the L1 distance of the normalised histograms: the share of pixels whose
# brightness class changed). Measured on the test clips: motion, even the jumpy hand-held
# stretch of bikes.mp4 (frames 72-76), stays under 21 levels; every shot change of bikes.mp4 and
# Megamind.avi is above 34 levels; a cut between similar-looking shots still moves the histogram.
SCENE_CUT_THRESHOLD = 28.0
SCENE_CUT_MIN_DIFF = 12.0
SCENE_CUT_HIST = 0.3
# Static: the mean absolute difference of the thumbnails is below this many grey levels (a
# sensor's noise floor on a still scene), so interpolating would only reproduce the frame.
STATIC_THRESHOLD = 0.5
# A gap larger than this many nominal output steps is a discontinuity (a stalled camera, a
# seek), not motion: nothing is made up to fill it.
MAX_GAP_SOURCE_INTERVALS = 4


def thumbnail(pixels: Pixels) -> np.ndarray:
    """A small grey float32 copy of an RGB frame, the input of the cheap tests below."""
    small = cv2.resize(pixels, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)


def histogram_distance(thumb0: np.ndarray, thumb1: np.ndarray) -> float:
    """Half the L1 distance of the normalised grey histograms: 0 (same) .. 1 (disjoint)."""
    h0, _ = np.histogram(thumb0, bins=HIST_BINS, range=(0, 256))
    h1, _ = np.histogram(thumb1, bins=HIST_BINS, range=(0, 256))
    return float(np.abs(h0 - h1).sum()) / (2.0 * thumb0.size)


def mean_abs_diff(thumb0: np.ndarray, thumb1: np.ndarray) -> float:
    return float(np.mean(np.abs(thumb0 - thumb1)))


def is_scene_cut(thumb0: np.ndarray, thumb1: np.ndarray, threshold: float = SCENE_CUT_THRESHOLD) -> bool:
    """True when the two frames come from different shots (see SCENE_CUT_THRESHOLD)."""
    diff = mean_abs_diff(thumb0, thumb1)
    if diff > threshold:
        return True
    return diff > SCENE_CUT_MIN_DIFF and histogram_distance(thumb0, thumb1) > SCENE_CUT_HIST


def is_static(thumb0: np.ndarray, thumb1: np.ndarray, threshold: float = STATIC_THRESHOLD) -> bool:
    """True when nothing visible changed between the two frames."""
    return mean_abs_diff(thumb0, thumb1) < threshold


def nearest_frame_choice(ts: list[float]) -> list[int]:
    """Across a cut: 0 (show frame0) for t < 0.5, else 1 (show frame1), so the cut keeps its time."""
    return [0 if t < 0.5 else 1 for t in ts]


@dataclass(frozen=True)
class OutputTime:
    """One output frame between two source frames: its pts (ns), duration (ns) and timestep t."""

    pts: int
    duration: int
    t: float


def factor_times(pts0: int, pts1: int, factor: int, source_interval_ns: int) -> list[OutputTime]:
    """In-between times for an integer factor: the output steps between two source frames.

    With a known source rate the gap is measured in nominal output steps (interval / factor), so a
    dropped input frame (a gap of two intervals) gets 2 * factor - 1 in-between frames on the same
    time grid, and small timestamp jitter is absorbed by the rounding. With a variable rate
    (`source_interval_ns` 0) each gap is split into `factor` equal steps.
    """
    gap = pts1 - pts0
    if gap <= 0:
        return []
    if source_interval_ns > 0:
        if gap > MAX_GAP_SOURCE_INTERVALS * source_interval_ns:
            return []
        steps = max(1, round(gap * factor / source_interval_ns))
    else:
        steps = factor
    return [
        OutputTime(pts0 + round(gap * k / steps), round(gap * (k + 1) / steps) - round(gap * k / steps), k / steps)
        for k in range(1, steps)
    ]


class RateGrid:
    """The output clock for a target frame rate, anchored at the first source frame.

    Kept in exact fractions of a nanosecond, so 25 -> 60 fps or 30000/1001 never drifts.
    """

    def __init__(self, target_fps: Fraction, origin_ns: int) -> None:
        if target_fps <= 0:
            raise ValueError(f"RateGrid: target fps must be positive, got {target_fps}")
        self.step = Fraction(NS_PER_SECOND) / Fraction(target_fps)
        self.origin = origin_ns
        # Within this distance a grid point "is" a source frame's time: the source frame goes out
        # unchanged instead of an interpolation at t ~ 0.
        self.snap = self.step / 100

    def time(self, k: int) -> int:
        return self.origin + round(k * self.step)

    def index_after(self, pts_ns: int) -> int:
        """The first grid index whose time is later than `pts_ns` by more than the snap distance."""
        k = max(0, math.floor((pts_ns - self.origin) / self.step))
        while self.time(k) <= pts_ns + self.snap:
            k += 1
        return k

    def duration(self, k: int) -> int:
        return self.time(k + 1) - self.time(k)


def grid_times(grid: RateGrid, pts0: int, pts1: int) -> tuple[list[OutputTime], int | None]:
    """Output grid points strictly between two source frames, and the one that is `pts1` itself.

    Returns (in-between times with their t, the grid index that coincides with pts1 or None).
    """
    gap = pts1 - pts0
    if gap <= 0:
        return [], None
    times: list[OutputTime] = []
    k = grid.index_after(pts0)
    while grid.time(k) < pts1 - grid.snap:
        g = grid.time(k)
        times.append(OutputTime(g, grid.duration(k), (g - pts0) / gap))
        k += 1
    return times, (k if abs(grid.time(k) - pts1) <= grid.snap else None)


def pad_to_multiple(pixels: np.ndarray, multiple: int) -> np.ndarray:
    """Pad an (H, W, C) array at the bottom/right by edge replication to a multiple of `multiple`."""
    if multiple <= 1:
        return pixels
    h, w = pixels.shape[:2]
    ph, pw = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    if (ph, pw) == (h, w):
        return pixels
    pad = ((0, ph - h), (0, pw - w)) + ((0, 0),) * (pixels.ndim - 2)
    return np.pad(pixels, pad, mode="edge")


def crop_to(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Undo `pad_to_multiple`."""
    if pixels.shape[0] == height and pixels.shape[1] == width:
        return pixels
    return np.ascontiguousarray(pixels[:height, :width])
