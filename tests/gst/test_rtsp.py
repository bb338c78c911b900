"""An in-process RTSP camera -> ganstream -> RTSP restream -> real RTSP clients, on 127.0.0.1."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganstream.stream import Pipeline, RunOptions
from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.stages import ResampleStage
from tests.helpers import make_clip

CAMERA = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=96,framerate=15/1 ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )"
)


@pytest.fixture
def camera() -> Iterator[str]:
    server = RtspServer("127.0.0.1", 0)
    server.start()
    url = server.mount("/cam", CAMERA)
    yield url
    server.stop()


def test_camera_to_restream_to_clients(camera: str) -> None:
    pipe = Pipeline(camera, [ResampleStage(2)], "rtsp://127.0.0.1:0/enhanced", RunOptions())
    runner = threading.Thread(target=pipe.run, kwargs={"timeout": 20}, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while pipe.stats.frames_out < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pipe.stats.frames_out >= 3, "no frames came from the RTSP camera"
        url = pipe.sink_url
        assert url is not None and url.startswith("rtsp://127.0.0.1:")

        # Client 1: GStreamer's rtspsrc through ganstream's own reader.
        frames = []
        for f in Pipeline(url, [], sink=None).frames(timeout=15):
            frames.append(f)
            if len(frames) == 5:
                break
        assert len(frames) == 5 and frames[0].pixels.shape == (192, 320, 3)

        # Client 2: ffprobe.
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
             "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", url],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        assert probe.stdout.strip() == "h264,320,192", probe.stderr
    finally:
        pipe.stop()
        runner.join(15)
    assert not runner.is_alive()


def test_restream_carries_the_source_audio(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "tone.mp4", frames=150, width=96, height=64, fps=25, tone=True)
    pipe = Pipeline(str(clip), [ResampleStage(2)], "rtsp://127.0.0.1:0/a", RunOptions(realtime=True))
    runner = threading.Thread(target=pipe.run, kwargs={"timeout": 10}, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while pipe.stats.frames_out < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pipe.sink_url is not None
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_type",
             "-of", "csv=p=0", pipe.sink_url],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        assert sorted(probe.stdout.split()) == ["audio", "video"], probe.stderr
    finally:
        pipe.stop()
        runner.join(15)
