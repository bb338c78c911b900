"""Real H.264 round trips through ffmpeg/libx264 (argument lists, never shell strings).

Frames go in as raw RGB, through libx264 with yuv420p chroma subsampling at a given CRF or
bitrate, and come back decoded: the same artefacts a camera's encoder leaves. Single-threaded
encoding keeps the result a pure function of the input and the settings.

The RGB <-> YUV conversions use swscale's accurate rounding: with its defaults a round trip
darkens every frame by 1.0-1.6 levels (green most) before any compression, and a network trained
on that learns to brighten everything, clean input included.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import numpy.typing as npt

from ganstream.training.errors import DataError, ToolError

Frames = npt.NDArray[np.uint8]  # (N, H, W, 3) RGB


# Unbiased RGB <-> YUV in ffmpeg's scaler (see the module docstring).
SWS_FLAGS = ["-sws_flags", "accurate_rnd+full_chroma_int+bitexact"]


# The H.264 input of `ganstream eval` and of the trainer's validation: "low bitrate", visible
# blocking, the rate the quality targets are set at.
EVAL_H264_CRF = 30.0


def crf_range_error(low: float, high: float) -> str | None:
    """Why [low, high] is not a libx264 CRF range (None when it is one)."""
    return None if 0.0 <= low <= high <= 51.0 else f"expected 0 <= low <= high <= 51, got {low:g}, {high:g}"


def even_area_downscale(hr: Frames, scale: int) -> Frames:
    """The top-left part of one (H, W, 3) frame whose downscale by `scale` has an even size (yuv420p)
    and is exact, area-downscaled: it pairs with hr[: h * scale, : w * scale] pixel for pixel."""
    import cv2

    h, w = hr.shape[0] // (2 * scale) * 2, hr.shape[1] // (2 * scale) * 2
    return np.asarray(cv2.resize(hr[: h * scale, : w * scale], (w, h), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise ToolError("ffmpeg is not installed (needed for the H.264 degradation and the classical baselines)")
    return exe


def h264_roundtrip(
    frames: Frames, crf: float | None = None, bitrate_kbps: int | None = None, preset: str = "veryfast"
) -> Frames:
    """Encode `frames` (one clip, N frames) with libx264 and decode them again."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"h264_roundtrip: expected uint8 frames (N, H, W, 3), got {frames.dtype} {frames.shape}")
    n, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise DataError(f"h264_roundtrip: frame size {w}x{h} must be even for yuv420p")
    rate = (
        ["-crf", f"{crf:.1f}"]
        if bitrate_kbps is None
        else ["-b:v", f"{bitrate_kbps}k", "-maxrate", f"{bitrate_kbps}k", "-bufsize", f"{2 * bitrate_kbps}k"]
    )
    enc = [
        _ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{w}x{h}", "-r", "25", "-i", "-", *SWS_FLAGS, "-c:v", "libx264", "-preset", preset, *rate,
        "-pix_fmt", "yuv420p", "-threads", "1", "-x264-params", "threads=1:lookahead-threads=1",
        "-f", "h264", "-",
    ]  # fmt: skip
    dec = [
        _ffmpeg(), "-hide_banner", "-loglevel", "error", "-threads", "1", "-f", "h264", "-i", "-",
        *SWS_FLAGS, "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    stream = _pipe(enc, np.ascontiguousarray(frames).tobytes())
    raw = _pipe(dec, stream)
    out = np.frombuffer(raw, dtype=np.uint8)
    if out.size != frames.size:
        raise ToolError(f"h264_roundtrip: ffmpeg returned {out.size} bytes for {n} frames of {w}x{h}")
    return out.reshape(frames.shape).copy()


def _pipe(cmd: list[str], data: bytes) -> bytes:
    proc = subprocess.run(cmd, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"ffmpeg failed ({proc.returncode}): {last}")
    return proc.stdout


def ffmpeg_filter(frames: Frames, vf: str) -> Frames:
    """Run frames (one clip) through an ffmpeg video filter such as hqdn3d or nlmeans."""
    n, h, w, _ = frames.shape
    cmd = [
        _ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    out = np.frombuffer(_pipe(cmd, np.ascontiguousarray(frames).tobytes()), dtype=np.uint8)
    if out.size != frames.size:
        raise ToolError(f"ffmpeg filter {vf!r} returned {out.size} bytes for {n} frames of {w}x{h}")
    return out.reshape(frames.shape).copy()
