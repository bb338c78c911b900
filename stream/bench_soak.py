"""Soak benchmark: a live RTSP camera that keeps dropping off, ganstream reconnecting to it, and
the process's resident memory sampled over time. Flat memory is the pass mark.

    python -m ganstream.stream.bench_soak --seconds 600 --restart-every 30
    python -m ganstream.stream.bench_soak --seconds 60 --restart-every 4 --separate-camera

The camera is a GstRtspServer on 127.0.0.1, in this process or (--separate-camera) in a child
process so the RSS is the client's alone; the output an H.264 .mkv (or null). Besides RSS it
counts the source pipelines still alive at the end: more than the current one means torn-down
connections are being kept (the supervisor must free each old pipeline).

glibc gives each new thread an arena of its own up to 8 x cores, and every reconnect starts new
streaming threads, so RSS climbs in steps for the first reconnects and then levels off without
any leak. Run with MALLOC_ARENA_MAX=1 to take that out of a short measurement.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    samples: list[tuple[float, float, int, int]] = field(default_factory=list)  # (s, RSS MiB, frames in, reconnects)
    reconnects: int = 0
    frames_out: int = 0
    warmup_s: float = 0.0
    live_source_pipelines: int = 0  # source pipelines not yet freed at the end (1: the current one)

    @property
    def baseline_mib(self) -> float:
        after = [rss for t, rss, _, _ in self.samples if t >= self.warmup_s]
        return after[0] if after else self.samples[0][1]

    @property
    def growth_mib(self) -> float:
        """Largest RSS above the first sample after warm-up (allocators settle during warm-up)."""
        after = [rss for t, rss, _, _ in self.samples if t >= self.warmup_s]
        return max(after) - after[0] if after else 0.0

    @property
    def reconnects_after_warmup(self) -> int:
        after = [n for t, _, _, n in self.samples if t >= self.warmup_s]
        return after[-1] - after[0] if after else 0

    @property
    def growth_per_reconnect_mib(self) -> float:
        return self.growth_mib / max(1, self.reconnects_after_warmup)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "frames_out": self.frames_out,
            "reconnects": self.reconnects,
            "reconnects_after_warmup": self.reconnects_after_warmup,
            "baseline_mib": round(self.baseline_mib, 2),
            "growth_mib": round(self.growth_mib, 2),
            "growth_per_reconnect_mib": round(self.growth_per_reconnect_mib, 3),
            "live_source_pipelines": self.live_source_pipelines,
        }


def live_source_pipelines() -> int:
    """Source pipelines (`ganstream-source-N`) still referenced from Python after a collection."""
    from ganstream.stream.gst import modules

    Gst = modules()[0]
    gc.collect()
    return sum(
        1 for o in gc.get_objects() if isinstance(o, Gst.Pipeline) and o.get_name().startswith("ganstream-source")
    )


def serve_camera(seconds: float, restart_every: float, size: tuple[int, int] = (160, 96), fps: int = 15) -> None:
    """Camera loop for --separate-camera: prints the port, restarts every `restart_every` s."""
    camera = _Camera(CAMERA.format(w=size[0], h=size[1], fps=fps))
    print(camera.start(), flush=True)
    t0 = time.monotonic()
    next_restart = t0 + restart_every if restart_every > 0 else float("inf")
    while (now := time.monotonic()) - t0 < seconds:
        if now >= next_restart:
            camera.restart()
            next_restart = time.monotonic() + restart_every
        time.sleep(0.05)
    camera.stop()


class _Camera:
    """The test camera at /cam; `restart()` drops every client and comes back on the same port."""

    def __init__(self, launch: str) -> None:
        self.launch = launch
        self.port = 0
        self._server: Any = None

    def start(self) -> int:
        from ganstream.stream.rtsp_server import RtspServer

        self._server = RtspServer("127.0.0.1", self.port)
        self.port = self._server.start()
        self._server.mount("/cam", self.launch)
        return self.port

    def restart(self) -> None:
        self.stop()
        time.sleep(0.5)
        self.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def soak(
    seconds: float,
    restart_every: float,
    sample_every: float = 1.0,
    warmup_s: float = 5.0,
    sink: str | None = None,
    size: tuple[int, int] = (160, 96),
    fps: int = 15,
    verbose: bool = False,
    separate_camera: bool = False,
) -> SoakResult:
    import threading

    from ganstream.stream.pipeline import Pipeline, RunOptions
    from ganstream.stream.reconnect import ReconnectOptions

    child: subprocess.Popen[str] | None = None
    server: _Camera | None = None
    if separate_camera:
        args = ["--camera-only", "--seconds", str(seconds + 30), "--restart-every", str(restart_every)]
        child = subprocess.Popen(
            [sys.executable, "-m", "ganstream.stream.bench_soak", *args], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        port = int(child.stdout.readline())
    else:
        server = _Camera(CAMERA.format(w=size[0], h=size[1], fps=fps))
        port = server.start()
    with tempfile.TemporaryDirectory(prefix="ganstream-soak-") as tmp:
        out = sink or str(Path(tmp) / "soak.mkv")
        reconnect = ReconnectOptions(initial_s=0.5, max_s=2.0, stall_timeout_s=3.0)
        pipe = Pipeline(f"rtsp://127.0.0.1:{port}/cam", [], out, RunOptions(reconnect=reconnect))
        runner = threading.Thread(target=pipe.run, daemon=True)
        runner.start()
        result = SoakResult(warmup_s=warmup_s)
        t0 = time.monotonic()
        in_process = restart_every > 0 and server is not None
        next_restart = t0 + restart_every if in_process else float("inf")
        try:
            while (now := time.monotonic()) - t0 < seconds:
                if server is not None and now >= next_restart:
                    server.restart()
                    next_restart = now + restart_every
                result.samples.append((now - t0, rss_mib(), pipe.stats.frames_in, pipe.health.reconnects))
                if verbose:
                    t, rss, frames, n = result.samples[-1]
                    print(f"{t:7.1f} s  RSS {rss:7.1f} MiB  frames in {frames:6d}  reconnects {n}", flush=True)
                time.sleep(sample_every)
            result.live_source_pipelines = live_source_pipelines()
        finally:
            pipe.stop()
            runner.join(30)
            if server is not None:
                server.stop()
            if child is not None:
                child.terminate()
                child.wait(10)
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
    p.add_argument("--separate-camera", action="store_true", help="run the camera in a child process")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    p.add_argument("--camera-only", action="store_true", help=argparse.SUPPRESS)  # the child's side
    args = p.parse_args()
    if args.camera_only:
        serve_camera(args.seconds, args.restart_every)
        return
    r = soak(
        args.seconds,
        args.restart_every,
        args.sample_every,
        args.warmup,
        args.sink,
        verbose=True,
        separate_camera=args.separate_camera,
    )
    base = r.baseline_mib
    per = f", {r.growth_per_reconnect_mib:.2f} MiB per reconnect" if r.reconnects_after_warmup else ""
    print(
        f"soak {args.seconds:.0f} s: {r.frames_out} frames out, {r.reconnects} reconnects "
        f"({r.reconnects_after_warmup} after warm-up); RSS after warm-up {base:.1f} MiB, growth "
        f"{r.growth_mib:.1f} MiB ({100 * r.growth_mib / base:.1f} %{per}); "
        f"source pipelines alive at the end: {r.live_source_pipelines}"
    )
    if args.json:
        print(json.dumps(r.as_dict()))


if __name__ == "__main__":
    main()
