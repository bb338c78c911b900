"""Classical stages: the permanent baselines every benchmark compares against.

`ResampleStage` (bicubic / lanczos super-resolution) and `NlmeansStage` (OpenCV's non-local
means denoiser) need no model; `IdentityStage` passes frames through (bridge benchmarks).
"""

from __future__ import annotations

import cv2
import numpy as np

from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, VideoSpec

RESAMPLE_METHODS: dict[str, int] = {
    "bicubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
    "bilinear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
}


class IdentityStage:
    """Passes frames through untouched."""

    def __init__(self, name: str = "identity") -> None:
        self.name = name
        self.label = "identity"

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        return [frame]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        pass


class ResampleStage:
    """Upscales each frame by an integer factor with a classical kernel."""

    def __init__(self, scale: int, method: str = "bicubic", name: str = "sr") -> None:
        if scale not in (2, 3, 4):
            raise StageError(f"sr scale must be 2, 3 or 4, got {scale}")
        if method not in RESAMPLE_METHODS:
            raise StageError(f"unknown resampler {method!r}; expected one of {', '.join(RESAMPLE_METHODS)}")
        self.scale = scale
        self.method = method
        self.name = name
        self.label = f"{method} x{scale}"
        self._size = (0, 0)

    def configure(self, spec: VideoSpec) -> VideoSpec:
        out = spec.with_size(spec.width * self.scale, spec.height * self.scale)
        self._size = (out.width, out.height)
        return out

    def process(self, frame: Frame) -> list[Frame]:
        out = cv2.resize(frame.pixels, self._size, interpolation=RESAMPLE_METHODS[self.method])
        return [frame.with_pixels(np.asarray(out, dtype=np.uint8))]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        pass


class NlmeansStage:
    """Denoises with OpenCV's fast non-local means (slow: the quality baseline for `restore`)."""

    def __init__(self, strength: float = 7.0, name: str = "restore") -> None:
        if not 0 < strength <= 50:
            raise StageError(f"nlmeans strength must be in (0, 50], got {strength}")
        self.strength = strength
        self.name = name
        self.label = f"nlmeans h={strength:g}"

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        h = self.strength
        out = cv2.fastNlMeansDenoisingColored(frame.pixels, None, h, h, 3, 9)
        return [frame.with_pixels(np.asarray(out, dtype=np.uint8))]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        pass
