"""v4l2loopback output (the virtual webcam): runs where a loopback device exists."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from ganstream.stream import Pipeline
from ganstream.stream.stages import ResampleStage


def loopback_device() -> str | None:
    for dev in sorted(glob.glob("/dev/video*")):
        name = Path(f"/sys/class/video4linux/{Path(dev).name}/name")
        if name.exists() and "loopback" in name.read_text().lower():
            return dev
    return None


def test_v4l2loopback_sink_receives_frames() -> None:
    dev = loopback_device()
    if dev is None:
        pytest.skip("no v4l2loopback device (sudo modprobe v4l2loopback exclusive_caps=1)")
    stats = Pipeline("test:ball?frames=30&width=160&height=96", [ResampleStage(2)], f"v4l2:{dev}").run(20)
    assert stats.frames_out == 30
