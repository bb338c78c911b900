"""What open previews cost: the service's CPU with none, one and eight MJPEG viewers, in one run.

    python -m ganstream.stream.service.web.bench [--seconds 10] [--cameras 2] [--size 640x360]

A real service (live test-pattern cameras, sr x2 bicubic, no outputs) and its HTTP server run in
this process; the viewers run in a child process, so their reading is not counted. For each
phase the process's CPU time (every thread: cameras, encoders, the server) is measured over the
same wall time and given as a share of one core and as a ratio to the no-viewer baseline, which
is measured before and after the viewer phases (their mean is the reference; their difference
shows the noise). One preview is one stream of the first camera's enhanced view; eight are eight
streams spread over every camera's enhanced and source views. The cameras' frame rate is
reported for each phase: previews must not lower it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from ganstream.stream.service.web.preview import VIEWS

READER = """
import sys, threading, urllib.request
def drain(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        while r.read(65536):
            pass
for url in sys.argv[1:]:
    threading.Thread(target=drain, args=(url,), daemon=True).start()
sys.stdin.read()  # until the benchmark closes our stdin
"""


@dataclass(frozen=True)
class Phase:
    label: str
    viewers: int
    cpu_percent: float  # of one core
    camera_fps: float  # mean over the cameras
    jpeg_per_s: float  # pictures encoded per second, all taps together


def _cameras(n: int, width: int, height: int, fps: int) -> list[dict[str, Any]]:
    patterns = ("ball", "smpte", "snow", "circular")
    return [
        {
            "name": f"cam{i}",
            "source": f"test:{patterns[i % len(patterns)]}?width={width // 2}&height={height // 2}&fps={fps}&live=1",
            "chain": {"sr": 2, "models": ["bicubic"]},
            "outputs": {"restream": False},
        }
        for i in range(n)
    ]


def _measure(service: Any, label: str, viewers: int, seconds: float) -> Phase:
    cams = list(service.cameras.values())
    taps = [t for c in cams for t in c.preview.taps.values()]
    frames0 = [c.totals()[1] for c in cams]
    jpeg0 = sum(t.encoded for t in taps)
    cpu0, t0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    fps = sum(c.totals()[1] - f for c, f in zip(cams, frames0, strict=True)) / wall / len(cams)
    return Phase(label, viewers, 100.0 * cpu / wall, fps, (sum(t.encoded for t in taps) - jpeg0) / wall)


def _open_viewers(urls: list[str], taps: list[Any], want: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", READER, *urls], stdin=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while sum(t.viewers for t in taps) < want:
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"bench: only {sum(t.viewers for t in taps)} of {want} viewers connected")
        time.sleep(0.1)
    time.sleep(1.0)  # past the encoders' start
    return proc


def _close(proc: subprocess.Popen[str], taps: list[Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(10)
    deadline = time.monotonic() + 10
    while any(t.viewers for t in taps) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the encoder threads notice and end


def bench_previews(seconds: float = 10.0, cameras: int = 2, width: int = 640, height: int = 360) -> list[Phase]:
    from ganstream.stream.service.api import ApiServer
    from ganstream.stream.service.config import parse_config
    from ganstream.stream.service.manager import Service

    cams_config = _cameras(cameras, width, height, 25)
    settings = parse_config({"api": {"port": 0}, "restream": {"port": 0}, "cameras": cams_config})
    service = Service(settings)
    api = ApiServer(service, "127.0.0.1", 0)
    api.start()
    service.start()
    try:
        cams = list(service.cameras.values())
        taps = [t for c in cams for t in c.preview.taps.values()]
        deadline = time.monotonic() + 30
        while not all(c.totals()[1] > 25 for c in cams):
            if time.monotonic() > deadline:
                raise RuntimeError("bench: the cameras did not start")
            time.sleep(0.2)
        time.sleep(2.0)
        urls = [api.url(f"/cameras/{c.name}/preview.mjpg?view={v}") for v in VIEWS for c in cams]
        phases = [_measure(service, "none", 0, seconds)]
        for n in (1, 8):
            chosen = [urls[i % len(urls)] for i in range(n)]
            proc = _open_viewers(chosen, taps, n)
            try:
                phases.append(_measure(service, f"{n} preview{'s' if n > 1 else ''}", n, seconds))
            finally:
                _close(proc, taps)
        phases.append(_measure(service, "none (again)", 0, seconds))
        return phases
    finally:
        service.stop()
        api.stop()


def format_phases(phases: list[Phase]) -> str:
    base = (phases[0].cpu_percent + phases[-1].cpu_percent) / 2
    lines = [f"{'previews':<14}{'CPU % of a core':>16}{'vs none':>9}{'camera fps':>12}{'JPEG/s':>8}"]
    for p in phases:
        ratio = p.cpu_percent / base if base else 0.0
        lines.append(f"{p.label:<14}{p.cpu_percent:>16.1f}{ratio:>8.2f}x{p.camera_fps:>12.1f}{p.jpeg_per_s:>8.1f}")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganstream.stream.service.web.bench", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measured phase")
    p.add_argument("--cameras", type=int, default=2)
    p.add_argument("--size", default="640x360", help="output size WxH (the sources are half of it)")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    phases = bench_previews(args.seconds, args.cameras, width, height)
    print(f"{args.cameras} live cameras at 25 fps, sr x2 bicubic to {width}x{height}; {cpu_model()}")
    print(format_phases(phases))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
