"""Shared test helpers: ffprobe checks, CLI runs, tiny media files made with GStreamer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Probe:
    width: int
    height: int
    frames: int
    fps: Fraction
    duration: float
    has_audio: bool
    audio_duration: float


def ffprobe(path: Path) -> Probe:
    """Decode-count every frame of the first video stream (ffprobe -count_frames)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    data = json.loads(out.stdout)
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    audio = next((s for s in data["streams"] if s["codec_type"] == "audio"), None)
    duration = float(video.get("duration") or data["format"].get("duration") or 0)
    return Probe(
        width=int(video["width"]),
        height=int(video["height"]),
        frames=int(video["nb_read_frames"]),
        fps=Fraction(video["r_frame_rate"]),
        duration=duration,
        has_audio=audio is not None,
        audio_duration=float(audio.get("duration") or 0) if audio else 0.0,
    )


def stream_spans(path: Path) -> dict[str, tuple[float, float]]:
    """(first pts, last pts + duration) in seconds of the video and audio streams, from packets."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=stream_index,pts_time,duration_time",
         "-show_entries", "stream=index,codec_type", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    data = json.loads(out.stdout)
    kinds = {s["index"]: s["codec_type"] for s in data["streams"]}
    spans: dict[str, tuple[float, float]] = {}
    for pkt in data["packets"]:
        kind = kinds[pkt["stream_index"]]
        start = float(pkt["pts_time"])
        end = start + float(pkt.get("duration_time") or 0)
        lo, hi = spans.get(kind, (start, end))
        spans[kind] = (min(lo, start), max(hi, end))
    return spans


def run_cli(*args: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "ganstream.stream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"ganstream {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def gst_launch(description: str, timeout: float = 60) -> None:
    subprocess.run(["gst-launch-1.0", "-q", *description.split()], check=True, timeout=timeout, capture_output=True)


def make_clip(
    path: Path, frames: int = 30, width: int = 160, height: int = 96, fps: int = 30, tone: bool = False
) -> Path:
    """An H.264 test clip (mp4 or mkv by suffix), optionally with a 440 Hz tone as long as the video."""
    mux = "mp4mux" if path.suffix == ".mp4" else "matroskamux"
    desc = (
        f"videotestsrc pattern=ball num-buffers={frames} ! video/x-raw,width={width},height={height},"
        f"framerate={fps}/1 ! videoconvert ! x264enc speed-preset=ultrafast ! h264parse ! {mux} name=m "
        f"! filesink location={path}"
    )
    if tone:
        samples = 48000 * frames // fps
        desc += (
            f" audiotestsrc wave=sine freq=440 num-buffers={samples // 1024} samplesperbuffer=1024 ! "
            "audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse ! m."
        )
    gst_launch(desc)
    return path


# A small SR x2 architecture for engine tests: random weights, fast on any CPU.
SMALL_ARCH = {"name": "srvgg", "params": {"scale": 2, "num_feat": 8, "num_conv": 2}}


def make_small_model(folder: Path, name: str = "small-sr2x") -> Path:
    """A model folder (ONNX + safetensors + card) of SMALL_ARCH with random weights; needs torch."""
    from ganstream.engines.devmodel import make_random_model

    make_random_model(folder, name=name, arch=SMALL_ARCH)
    return folder


def random_frames(n: int = 1, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
