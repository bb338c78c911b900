"""ffmpeg's ``minterpolate`` (motion-compensated interpolation, mi_mode=mci): the classical baseline.

The kept frames go to ffmpeg as raw RGB on stdin at half the rate; ffmpeg doubles the rate and
returns raw RGB on stdout. Output frame 2k is kept frame k, 2k + 1 is the one rebuilt between k
and k + 1. Its time per frame is measured net of the same pipe round trip through a ``null``
filter, so only the interpolation is counted.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ganstream.training.errors import ToolError

Image = npt.NDArray[np.uint8]


@dataclass
class FfmpegResult:
    frames: list[Image]
    seconds: float


def _ffmpeg(frames: list[Image], in_rate: float, vf: str) -> FfmpegResult:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise ToolError("ffmpeg is not installed (needed for the minterpolate baseline)")
    h, w = frames[0].shape[:2]
    cmd = [
        exe, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{in_rate:.6f}", "-i", "-",
        "-vf", vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    data = b"".join(np.ascontiguousarray(f).tobytes() for f in frames)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, input=data, capture_output=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ToolError(f"ffmpeg {vf.split('=')[0]} failed: {msg[-1] if msg else proc.returncode}")
    raw = np.frombuffer(proc.stdout, dtype=np.uint8)
    n = raw.size // (h * w * 3)
    out = [raw[i * h * w * 3 : (i + 1) * h * w * 3].reshape(h, w, 3) for i in range(n)]
    return FfmpegResult(out, seconds)


def minterpolate_double(kept: list[Image], fps: float, passes: int = 1) -> tuple[list[Image], float]:
    """The frames between consecutive `kept` frames (len(kept) - 1 of them) and seconds per frame
    (the best of `passes` runs, each net of its pipe round trip)."""
    half = fps / 2.0
    # The filter holds back the last pair at end of stream: two repeats of the last frame flush it.
    fed = [*kept, kept[-1], kept[-1]]
    runs = [
        (_ffmpeg(fed, half, f"minterpolate=fps={fps:.6f}:mi_mode=mci:scd=none"), _ffmpeg(fed, half, f"fps={fps:.6f}"))
        for _ in range(max(1, passes))
    ]
    mci, null = min(runs, key=lambda r: r[0].seconds - r[1].seconds)
    made = mci.frames[1 : 2 * len(kept) - 1 : 2]
    if len(made) != len(kept) - 1:
        raise ToolError(f"ffmpeg minterpolate returned {len(mci.frames)} frames for {len(kept)} kept ones")
    per_frame = max(0.0, mci.seconds - null.seconds) / max(1, len(mci.frames) // 2)
    return made, per_frame
