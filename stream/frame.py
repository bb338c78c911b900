"""The two value types every part of the runtime exchanges: `VideoSpec` and `Frame`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

# Pixels on the host: uint8, shape (height, width, 3), RGB. Device frames (CUDA buffers) are
# described by `DeviceFrame` in engines that support them; stages on the host see numpy only.
Pixels = npt.NDArray[np.uint8]

NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class VideoSpec:
    """Size, pixel format and frame rate of a video stream."""

    width: int
    height: int
    fps: Fraction = Fraction(30, 1)
    pixel_format: str = "RGB"

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"VideoSpec: width and height must be positive, got {self.width}x{self.height}")
        if self.fps < 0:
            raise ValueError(f"VideoSpec: fps must not be negative, got {self.fps}")

    @property
    def frame_duration_ns(self) -> int:
        """Duration of one frame in nanoseconds (0 for a variable/unknown rate)."""
        if self.fps == 0:
            return 0
        return int(NS_PER_SECOND / self.fps)

    def with_size(self, width: int, height: int) -> VideoSpec:
        return replace(self, width=width, height=height)

    def with_fps(self, fps: Fraction) -> VideoSpec:
        return replace(self, fps=fps)

    def __str__(self) -> str:
        return f"{self.width}x{self.height}@{float(self.fps):g}fps {self.pixel_format}"


@dataclass
class Frame:
    """One video frame in host memory, with its timing.

    `pts` and `duration` are in nanoseconds on the stream's running time; `seq` counts frames
    as they entered the runtime (it exposes drops); `source_id` names the stream it came from.
    """

    pixels: Pixels
    pts: int
    duration: int
    seq: int = 0
    source_id: str = "0"
    # Free-form per-frame facts stages may add (e.g. "interpolated": True, "t_enter": ns).
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def with_pixels(self, pixels: Pixels) -> Frame:
        """A copy of this frame's timing and metadata around new pixels."""
        return Frame(pixels, self.pts, self.duration, self.seq, self.source_id, dict(self.meta))
