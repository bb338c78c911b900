"""Soak benchmark: a live RTSP camera that keeps dropping off, ganstream reconnecting to it, and
the process's resident memory sampled over time. Flat memory is the pass mark.

    python -m ganstream.stream.bench_soak --seconds 600 --restart-every 30

The camera is an in-process GstRtspServer on 127.0.0.1; the output an H.264 .mkv (or null).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CAMERA = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate={fps}/1 ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def rss_mib() -> float:
    """Resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class SoakResult:
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (seconds, RSS MiB, frames in)
    reconnects: int = 0
    frames_out: int = 0
    warmup_s: float = 0.0

    @property
    def baseline_mib(self) -> float:
        after = [rss for t, rss, _ in self.samples if t >= self.warmup_s]
        return after[0] if after else self.samples[0][1]

    @property
    def growth_mib(self) -> float:
        """Largest RSS above the first sample after warm-up (allocators settle during warm-up)."""
        after = [rss for t, rss, _ in self.samples if t >= self.warmup_s]
        return max(after) - after[0] if after else 0.0


def soak(
    seconds: float,
    restart_every: float,
    sample_every: float = 1.0,
    warmup_s: float = 5.0,
    sink: str | None = None,
    size: tuple[int, int] = (160, 96),
    fps: int = 15,
    verbose: bool = False,
) -> SoakResult:
    import threading

    from ganstream.stream.pipeline import Pipeline, RunOptions
    from ganstream.stream.reconnect import ReconnectOptions
    from ganstream.stream.rtsp_server import RtspServer

    launch = CAMERA.format(w=size[0], h=size[1], fps=fps)
    port = 0

    def camera() -> RtspServer:
        nonlocal port
        server = RtspServer("127.0.0.1", port)
        port = server.start()
        server.mount("/cam", launch)
        return server

    server = camera()
    with tempfile.TemporaryDirectory(prefix="ganstream-soak-") as tmp:
        out = sink or str(Path(tmp) / "soak.mkv")
        reconnect = ReconnectOptions(initial_s=0.5, max_s=2.0, stall_timeout_s=3.0)
        pipe = Pipeline(f"rtsp://127.0.0.1:{port}/cam", [], out, RunOptions(reconnect=reconnect))
        runner = threading.Thread(target=pipe.run, daemon=True)
        runner.start()
        result = SoakResult(warmup_s=warmup_s)
        t0 = time.monotonic()
        next_restart = t0 + restart_every if restart_every > 0 else float("inf")
        try:
            while (now := time.monotonic()) - t0 < seconds:
                if now >= next_restart:
                    server.stop()
                    time.sleep(0.5)
                    server = camera()
                    next_restart = now + restart_every
                result.samples.append((now - t0, rss_mib(), pipe.stats.frames_in))
                if verbose:
                    t, rss, frames = result.samples[-1]
                    print(f"{t:7.1f} s  RSS {rss:7.1f} MiB  frames in {frames:6d}  reconnects {pipe.health.reconnects}")
                time.sleep(sample_every)
        finally:
            pipe.stop()
            runner.join(30)
            server.stop()
        result.reconnects = pipe.health.reconnects
        result.frames_out = pipe.stats.frames_out
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--restart-every", type=float, default=30.0, help="camera restart period (0: never)")
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=20.0)
    p.add_argument("--sink", help="output (default: a temporary .mkv)")
    args = p.parse_args()
    r = soak(args.seconds, args.restart_every, args.sample_every, args.warmup, args.sink, verbose=True)
    base = r.baseline_mib
    print(
        f"soak {args.seconds:.0f} s: {r.frames_out} frames out, {r.reconnects} reconnects; "
        f"RSS after warm-up {base:.1f} MiB, growth {r.growth_mib:.1f} MiB ({100 * r.growth_mib / base:.1f} %)"
    )


if __name__ == "__main__":
    main()
