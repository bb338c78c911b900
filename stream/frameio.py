"""Conversions between GStreamer buffers and numpy frames, honouring row stride."""

from __future__ import annotations

import atexit
from fractions import Fraction
from typing import Any

import numpy as np

from ganstream.stream.frame import Pixels, VideoSpec
from ganstream.stream.gst import modules


def spec_from_caps(caps: Any) -> tuple[VideoSpec, int]:
    """(VideoSpec, row stride in bytes) of raw RGB caps."""
    _, _, GstVideo, _ = modules()
    info = GstVideo.VideoInfo.new_from_caps(caps)
    if info is None:
        raise ValueError(f"spec_from_caps: not raw video caps: {caps.to_string()}")
    fps = Fraction(info.fps_n, info.fps_d) if info.fps_d else Fraction(0)
    fmt = info.finfo.name if info.finfo is not None else "RGB"
    return VideoSpec(info.width, info.height, fps, fmt), int(info.stride[0])


def caps_for(spec: VideoSpec) -> Any:
    """Raw RGB caps for `spec`."""
    Gst = modules()[0]
    fps = spec.fps if spec.fps > 0 else Fraction(0, 1)
    return Gst.Caps.from_string(
        f"video/x-raw,format=RGB,width={spec.width},height={spec.height},"
        f"framerate={fps.numerator}/{fps.denominator},pixel-aspect-ratio=1/1"
    )


def rgb_stride(width: int) -> int:
    """GStreamer's default row stride for packed RGB: rows padded to 4 bytes."""
    return (width * 3 + 3) & ~3


_exiting = False


def _mark_exiting() -> None:
    global _exiting
    _exiting = True


atexit.register(_mark_exiting)


class _MappedPixels:
    """Keeps a GStreamer buffer mapped while numpy arrays view its memory; unmaps when they die.

    numpy keeps this object as the array's base (``__array_interface__``), so the mapping lives
    exactly as long as any view of the pixels: no copy of the frame on the way in.
    """

    def __init__(self, buffer: Any, spec: VideoSpec, stride: int) -> None:
        Gst = modules()[0]
        ok, mapinfo = buffer.map(Gst.MapFlags.READ)
        if not ok:
            raise RuntimeError("pixels_from_buffer: cannot map buffer")
        self._buffer = buffer
        self._mapinfo = mapinfo
        address = np.frombuffer(mapinfo.data, dtype=np.uint8).ctypes.data
        self.__array_interface__ = {
            "version": 3,
            "shape": (spec.height, spec.width, 3),
            "typestr": "|u1",
            "data": (address, True),  # read-only: upstream buffers may be shared
            "strides": (stride, 3, 1),
        }

    def __del__(self) -> None:
        mapinfo, self._mapinfo = self._mapinfo, None
        # At interpreter exit GObject may already be finalised; the process frees the memory.
        if mapinfo is not None and not _exiting:
            self._buffer.unmap(mapinfo)


def pixels_from_buffer(buffer: Any, spec: VideoSpec, stride: int, copy: bool = False) -> Pixels:
    """The (H, W, 3) pixels of an RGB buffer: a read-only view of the mapped buffer (rows may be
    padded to `stride`), or with `copy` a contiguous writable copy."""
    if not copy:
        return np.asarray(_MappedPixels(buffer, spec, stride))
    Gst = modules()[0]
    ok, mapinfo = buffer.map(Gst.MapFlags.READ)
    if not ok:
        raise RuntimeError("pixels_from_buffer: cannot map buffer")
    try:
        flat = np.frombuffer(mapinfo.data, dtype=np.uint8, count=stride * spec.height)
        rows = flat.reshape(spec.height, stride)
        return rows[:, : spec.width * 3].reshape(spec.height, spec.width, 3).copy()
    finally:
        buffer.unmap(mapinfo)


def buffer_from_pixels(pixels: Pixels, pts: int, duration: int) -> Any:
    """A new buffer holding `pixels` with GStreamer's default RGB stride."""
    Gst = modules()[0]
    h, w = pixels.shape[:2]
    stride = rgb_stride(w)
    # Allocate GStreamer memory and copy once into it (cheaper than wrapping a bytes copy).
    buf = Gst.Buffer.new_allocate(None, stride * h, None)
    ok, mapinfo = buf.map(Gst.MapFlags.WRITE)
    if not ok:
        raise RuntimeError("buffer_from_pixels: cannot map a new buffer for writing")
    try:
        rows = np.frombuffer(mapinfo.data, dtype=np.uint8).reshape(h, stride)
        rows[:, : w * 3] = pixels.reshape(h, w * 3)
        if stride != w * 3:
            rows[:, w * 3 :] = 0
    finally:
        buf.unmap(mapinfo)
    buf.pts = pts
    buf.dts = Gst.CLOCK_TIME_NONE
    buf.duration = duration if duration > 0 else Gst.CLOCK_TIME_NONE
    return buf
