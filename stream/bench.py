"""Benchmark of the Python bridge itself: frames/s of source -> identity stage -> sink against
the same GStreamer pipeline with no Python in the middle, measured in one run.

Both pipelines decode nothing and encode nothing: videotestsrc -> RGB conversion -> fakesink,
so the difference is what the appsink -> numpy -> stage -> appsrc round trip costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ganstream.stream.gst import modules
from ganstream.stream.pipeline import Pipeline, RunOptions
from ganstream.stream.stages import IdentityStage

SIZES: dict[str, tuple[int, int]] = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}
PATTERN = "ball"


@dataclass(frozen=True)
class BridgeResult:
    size: str
    frames: int
    baseline_fps: float
    bridge_fps: float

    @property
    def ratio(self) -> float:
        return self.bridge_fps / self.baseline_fps

    @property
    def overhead_pct(self) -> float:
        return 100.0 * (1.0 - self.ratio)


def _baseline_fps(width: int, height: int, frames: int) -> float:
    Gst = modules()[0]
    pipe = Gst.parse_launch(
        f"videotestsrc pattern={PATTERN} num-buffers={frames} ! "
        f"video/x-raw,width={width},height={height},framerate=30/1,pixel-aspect-ratio=1/1 ! "
        "queue ! videoconvert n-threads=0 ! video/x-raw,format=RGB ! fakesink sync=false"
    )
    t0 = time.perf_counter()
    pipe.set_state(Gst.State.PLAYING)
    msg = pipe.get_bus().timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    elapsed = time.perf_counter() - t0
    pipe.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError("baseline pipeline did not finish")
    return frames / elapsed


def _bridge_fps(width: int, height: int, frames: int) -> float:
    src = f"test:{PATTERN}?frames={frames}&width={width}&height={height}&fps=30"
    pipe = Pipeline(src, [IdentityStage()], "null", RunOptions(realtime=False))
    t0 = time.perf_counter()
    stats = pipe.run(timeout=600)
    elapsed = time.perf_counter() - t0
    if stats.frames_out != frames:
        raise RuntimeError(f"bridge pipeline delivered {stats.frames_out} of {frames} frames")
    return frames / elapsed


def bench_bridge(sizes: list[str], frames: int = 300, repeats: int = 3) -> list[BridgeResult]:
    """Alternate baseline and bridge runs `repeats` times per size and keep each one's best."""
    results = []
    for size in sizes:
        w, h = SIZES[size]
        n = max(30, frames * 640 * 360 // (w * h))
        _baseline_fps(w, h, 10)  # warm up plugins and caches
        base = max(_baseline_fps(w, h, n) for _ in range(repeats))
        bridge = max(_bridge_fps(w, h, n) for _ in range(repeats))
        results.append(BridgeResult(size, n, base, bridge))
    return results


def format_results(results: list[BridgeResult]) -> str:
    lines = [
        "| size | frames | GStreamer only (fps) | with Python bridge (fps) | ratio | bridge overhead |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.size} | {r.frames} | {r.baseline_fps:.0f} | {r.bridge_fps:.0f} "
            f"| {r.ratio:.2f} | {r.overhead_pct:.1f}% |"
        )
    return "\n".join(lines)
