"""Camera audio through the reconnecting source and the service, against a real RTSP camera.

Checked with ffprobe/ffmpeg on the files written: both tracks start together, end together
after reconnects, and the camera's tone comes back after each gap with the first video frame.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ganstream.stream import RunOptions
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.service.config import parse_config
from ganstream.stream.service.manager import Service
from tests.fault.camera import Camera, camera_launch
from tests.fault.test_reconnect import FAST, recording, wait_for
from tests.helpers import ffprobe, stream_spans

FRAME_S = 1 / 30  # the output's frame interval: the camera's 15 fps doubled by `LateDoubler`
CAMERA_FRAME_S = 1 / 15


class LateDoubler:
    """Processing with latency (3 frames held) that doubles the frame rate, as interpolation does."""

    name = "late-doubler"

    def __init__(self) -> None:
        self._held: deque[Frame] = deque()

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec.with_fps(spec.fps * 2)

    def process(self, frame: Frame) -> list[Frame]:
        self._held.append(frame)
        return self._split(self._held.popleft()) if len(self._held) > 3 else []

    def flush(self) -> list[Frame]:
        out = [f for held in self._held for f in self._split(held)]
        self._held.clear()
        return out

    def close(self) -> None:
        pass

    @staticmethod
    def _split(frame: Frame) -> list[Frame]:
        half = frame.duration // 2
        return [Frame(frame.pixels, frame.pts, half, frame.seq), Frame(frame.pixels, frame.pts + half, half, frame.seq)]


def loud_windows(path: Path) -> np.ndarray:
    """Per 10 ms of the first audio track: True where the camera's tone is heard (not silence)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    pcm = np.frombuffer(raw, np.int16).astype(np.float32)
    rms = np.sqrt((pcm[: len(pcm) // 80 * 80].reshape(-1, 80) ** 2).mean(axis=1))
    return rms > 1000


def video_times(path: Path) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "json",
         str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return sorted(float(f["pts_time"]) for f in json.loads(out)["frames"])


def start_offset(path: Path) -> float:
    spans = stream_spans(path)
    return abs(spans["audio"][0] - spans["video"][0])


def end_offset(path: Path) -> float:
    spans = stream_spans(path)
    return abs(spans["audio"][1] - spans["video"][1])


def restart_camera(cam: Camera, frames_in: Callable[[], int], times: int) -> None:
    """Kill the camera `times` times, each for about a second, waiting for frames after each return."""
    for _ in range(times):
        wanted = frames_in() + 20
        cam.stop()
        time.sleep(1.0)
        cam.start()
        assert wait_for(lambda: frames_in() >= wanted, FAST.max_s + FAST.stall_timeout_s + 8)  # noqa: B023


@pytest.mark.parametrize("codec", ["aac", "pcmu", "pcma", "opus"])
def test_camera_audio_reaches_the_file_in_sync(tmp_path: Path, codec: str) -> None:
    out = tmp_path / "out.mp4"
    with recording(Camera(camera_launch(audio=codec)), out, [LateDoubler()]) as pipe:
        assert wait_for(lambda: pipe.stats.frames_in >= 45, 15), "no frames from the camera"
    probe = ffprobe(out)
    assert probe.has_audio and probe.frames >= 80
    # Processing latency (3 frames) and the doubled rate do not move one track against the other.
    assert start_offset(out) <= FRAME_S, stream_spans(out)
    assert end_offset(out) <= FRAME_S, stream_spans(out)
    loud = loud_windows(out)
    assert loud[20:-20].all(), "the camera's tone is missing or interrupted"


def test_reconnect_gaps_are_silence_and_the_tracks_stay_together(tmp_path: Path) -> None:
    cam = Camera(camera_launch(audio="aac"))
    out = tmp_path / "out.mp4"
    with recording(cam, out, [LateDoubler()]) as pipe:
        assert wait_for(lambda: pipe.stats.frames_in >= 30, 15), "no frames from the camera"
        restart_camera(cam, lambda: pipe.stats.frames_in, 3)
        assert pipe.health.reconnects >= 3
    spans = stream_spans(out)
    assert abs((spans["audio"][1] - spans["audio"][0]) - (spans["video"][1] - spans["video"][0])) <= 0.1, spans
    # Each gap: the video pauses, the audio is silent, and the tone returns with the first new frame.
    times = np.array(video_times(out))
    resumed = times[1:][np.diff(times) > 0.5]
    assert len(resumed) >= 3, times
    loud = loud_windows(out)
    for t in resumed:
        window = int(t * 100)
        assert not loud[window - 30 : window - 10].any(), f"no silence before {t:.2f} s"
        onset = window - 10 + int(np.argmax(loud[window - 10 : window + 20]))
        # Within one camera frame (measured: 14-24 ms for G.711 and Opus, 33-40 ms for AAC, whose
        # encoder and decoder delays add up; 10 ms windows).
        assert abs(onset / 100 - t) <= CAMERA_FRAME_S, f"the tone returns at {onset / 100:.2f} s, video at {t:.2f} s"


@pytest.mark.parametrize("with_audio", [True, False])
def test_no_audio_or_a_silent_camera_writes_video_only(tmp_path: Path, with_audio: bool) -> None:
    cam = Camera(camera_launch(audio="pcma" if with_audio else ""))
    out = tmp_path / "out.mkv"
    with recording(cam, out, [], RunOptions(reconnect=FAST, audio=not with_audio)) as pipe:
        assert wait_for(lambda: pipe.stats.frames_in >= 20, 15)
    probe = ffprobe(out)
    assert probe.frames >= 20 and not probe.has_audio


def test_service_records_restreams_and_files_the_camera_audio(tmp_path: Path) -> None:
    cam = Camera(camera_launch(audio="opus"))
    cam.start()
    cams = [
        {"name": name, "source": cam.url, "audio": name == "with", "chain": {"sr": 0},
         "outputs": {"restream": True, "record": name == "with", "file": str(tmp_path / f"{name}.mkv")}}
        for name in ("with", "without")
    ]  # fmt: skip
    settings = parse_config({
        "api": {"enabled": False}, "restream": {"port": 0},
        "recording": {"directory": str(tmp_path / "rec"), "segment_minutes": 0.05}, "cameras": cams,
    })  # fmt: skip
    service = Service(settings)
    service.start()
    try:
        camera = service.cameras["with"]
        assert wait_for(lambda: camera.totals()[1] >= 30, 15)
        listed = subprocess.run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_type",
             "-of", "csv=p=0", str(camera.outputs.restream_url)],
            capture_output=True, text=True, timeout=20,
        ).stdout.split()  # fmt: skip
        assert sorted(listed) == ["audio", "video"], listed
        restart_camera(cam, lambda: camera.totals()[0], 1)
    finally:
        service.stop()
        cam.stop()
    assert not ffprobe(tmp_path / "without.mkv").has_audio
    assert start_offset(tmp_path / "with.mkv") <= 1 / 15 and end_offset(tmp_path / "with.mkv") <= 0.1
    segments = sorted((tmp_path / "rec").iterdir())
    assert len(segments) >= 2 and all(ffprobe(f).has_audio for f in segments)
