"""The `Stage` protocol: pure frame logic, no GStreamer inside.

A stage is configured once per input format (and again when the input changes size or rate),
then fed frames in presentation order. It may return zero, one or several frames per input
(an interpolator returns the in-between frames plus the source frame), and returns whatever it
still holds on `flush()` at end of stream. Stages run in one worker thread: no locking needed.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ganstream.stream.frame import Frame, VideoSpec


@runtime_checkable
class Stage(Protocol):
    """One step of the processing chain (restore -> sr -> interpolate)."""

    name: str

    def configure(self, spec: VideoSpec) -> VideoSpec:
        """Prepare for input frames of `spec`; return the spec of the frames it will emit."""
        ...

    def process(self, frame: Frame) -> list[Frame]:
        """Consume one frame and return the frames ready to go downstream, in order."""
        ...

    def flush(self) -> list[Frame]:
        """End of stream: return frames still held back (e.g. the last interpolation window)."""
        ...

    def close(self) -> None:
        """Release engines and buffers."""
        ...
