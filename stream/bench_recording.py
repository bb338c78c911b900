"""Crash-safe containers: what each costs against plain MP4, measured in the same run.

    python -m ganstream.stream.bench_recording
    python -m ganstream.stream.bench_recording --seconds 300 --size 1280x720 --bitrate 4000

One H.264 clip is encoded once (a moving test pattern at a fixed bit rate), then muxed into
every candidate container; for each it prints:

- mux CPU: CPU seconds (user + system, best of `--repeat`) to mux the clip, less the cost of
  reading and parsing it (the same pipeline into a fakesink), and that as a share of encoding;
- size: the file's bytes against plain MP4;
- seek: mean wall time of ``ffmpeg -ss T -i FILE -frames:v 1`` over several positions;
- after a kill: a live encode into the container for `--kill-after` seconds, SIGKILLed, then
  whether ffprobe can decode it and how many seconds it holds, and the seek time in that file.

Every pipeline is a ``gst-launch-1.0`` child process (its CPU time comes from wait4), so the
figures are the container's and the filesink's alone, without Python.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# name, muxer (gst-launch fragment), file suffix, filesink buffering. The baseline is what
# files were before: plain mp4mux through a buffered filesink.
CANDIDATES: list[tuple[str, str, str, str]] = [
    ("mp4 plain", "mp4mux", "mp4", ""),
    ("mp4 fragmented 1 s", "mp4mux fragment-duration=1000", "mp4", "buffer-mode=unbuffered"),
    (
        "mp4 fragmented 1 s, finalise (used)",
        "mp4mux fragment-duration=1000 fragment-mode=first-moov-then-finalise",
        "mp4",
        "buffer-mode=unbuffered",
    ),
    (
        "mp4 robust (moov every 1 s)",
        "mp4mux reserved-max-duration={reserve_ns} reserved-moov-update-period=1000000000",
        "mp4",
        "buffer-mode=unbuffered",
    ),
    ("mkv (used)", "matroskamux", "mkv", "buffer-mode=unbuffered"),
    ("mpeg-ts", "mpegtsmux", "ts", "buffer-mode=unbuffered"),
]


@dataclass
class Figures:
    name: str
    mux_cpu_s: float
    size: int
    seek_ms: float
    killed_playable: bool
    killed_s: float
    killed_seek_ms: float


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def gst_cpu(description: str, timeout: float = 600) -> float:
    """Run a gst-launch pipeline to its end; returns its CPU seconds (user + system)."""
    proc = subprocess.Popen(
        ["gst-launch-1.0", "-q", "-e", *description.split()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"pipeline timed out: {description}")
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        raise RuntimeError(f"pipeline failed ({err}): {description}")
    return usage.ru_utime + usage.ru_stime


def probe_seconds(path: Path) -> float | None:
    """Seconds of decodable video (decoded frame count / frame rate), or None when unreadable."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames,r_frame_rate", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if out.returncode != 0:
        return None
    streams = json.loads(out.stdout).get("streams") or []
    if not streams or not streams[0].get("nb_read_frames"):
        return None
    num, den = (int(x) for x in streams[0]["r_frame_rate"].split("/"))
    return int(streams[0]["nb_read_frames"]) * den / num


def seek_ms(path: Path, span_s: float, points: int = 8) -> float:
    """Mean wall time to open `path`, seek and decode one frame, over evenly spread positions."""
    times = []
    for i in range(points):
        t = span_s * (i + 0.5) / points
        start = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1", "-f", "null", "-"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        times.append(time.perf_counter() - start)
    return 1000 * statistics.mean(times)


def killed_file(mux: str, path: Path, size: str, fps: int, bitrate: int, seconds: float) -> None:
    """A live encode into `mux`, SIGKILLed after `seconds` (no end-of-stream, no finalising)."""
    w, h = size.split("x")
    sink = mux.split("|")[1]
    desc = (
        f"videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! video/x-raw,width={w},height={h},"
        f"framerate={fps}/1 ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate} "
        f"key-int-max={2 * fps} ! h264parse ! {mux.split('|')[0]} ! filesink location={path} {sink}"
    )
    proc = subprocess.Popen(["gst-launch-1.0", "-q", *desc.split()], stdout=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def run(seconds: int, size: str, fps: int, bitrate: int, repeat: int, kill_after: float, reserve_s: float) -> None:
    for tool in ("gst-launch-1.0", "ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench_recording: '{tool}' is not installed")
    w, h = size.split("x")
    with tempfile.TemporaryDirectory(prefix="ganstream-rec-bench-") as tmp:
        folder = Path(tmp)
        clip = folder / "clip.mkv"
        encode_cpu = gst_cpu(
            f"videotestsrc num-buffers={seconds * fps} pattern=smpte horizontal-speed=4 ! "
            f"video/x-raw,width={w},height={h},framerate={fps}/1 ! videoconvert ! "
            f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate} key-int-max={2 * fps} ! "
            f"h264parse ! matroskamux ! filesink location={clip}"
        )
        read = f"filesrc location={clip} ! matroskademux ! h264parse"
        read_cpu = min(gst_cpu(f"{read} ! fakesink") for _ in range(repeat))
        results: list[Figures] = []
        for name, mux, ext, buffering in CANDIDATES:
            mux = mux.format(reserve_ns=int(reserve_s * 1e9))
            out = folder / f"out.{ext}"
            cpu = min(gst_cpu(f"{read} ! {mux} ! filesink location={out} {buffering}") for _ in range(repeat))
            size_b = out.stat().st_size
            seek = seek_ms(out, seconds)
            killed = folder / f"killed.{ext}"
            killed_file(f"{mux}|{buffering}", killed, size, fps, bitrate, kill_after)
            held = probe_seconds(killed)
            results.append(
                Figures(
                    name, max(cpu - read_cpu, 0.0), size_b, seek, held is not None, held or 0.0,
                    seek_ms(killed, held) if held else float("nan"),
                )
            )  # fmt: skip
            out.unlink()
            killed.unlink()
    base = results[0]
    print(
        f"crash-safe containers on {cpu_model()} ({os.cpu_count()} cores): {seconds} s of {size} at {fps} fps, "
        f"H.264 {bitrate} kbit/s; encoding it took {encode_cpu:.2f} CPU s; killed after {kill_after:.0f} s"
    )
    print(
        f"{'container':36} {'mux CPU s':>9} {'x plain':>7} {'% of enc':>8} {'size MB':>8} {'x plain':>7} "
        f"{'seek ms':>8} {'x plain':>7} {'killed: plays':>13} {'holds s':>7} {'seek ms':>8}"
    )
    for r in results:
        ratio = r.mux_cpu_s / base.mux_cpu_s if base.mux_cpu_s > 0 else float("nan")
        print(
            f"{r.name:36} {r.mux_cpu_s:9.3f} {ratio:7.2f} {100 * r.mux_cpu_s / encode_cpu:8.2f} "
            f"{r.size / 1e6:8.2f} {r.size / base.size:7.3f} {r.seek_ms:8.0f} {r.seek_ms / base.seek_ms:7.2f} "
            f"{'yes' if r.killed_playable else 'NO':>13} {r.killed_s:7.1f} {r.killed_seek_ms:8.0f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=120, help="length of the muxed clip")
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--bitrate", type=int, default=1500, help="H.264 kbit/s")
    p.add_argument("--repeat", type=int, default=3, help="mux runs per container (the best counts)")
    p.add_argument("--kill-after", type=float, default=6.0, help="seconds of live encoding before SIGKILL")
    p.add_argument("--reserve-s", type=float, default=600.0, help="moov space the robust mp4 reserves (s)")
    args = p.parse_args()
    run(args.seconds, args.size, args.fps, args.bitrate, args.repeat, args.kill_after, args.reserve_s)


if __name__ == "__main__":
    main()
