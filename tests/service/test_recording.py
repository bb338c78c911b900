"""Rolling recording: splitmuxsink segments named by camera and start time, retention, playable files."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from ganstream.stream.frame import Frame
from ganstream.stream.recording import RecordingPolicy, enforce_retention, segment_name, segments
from ganstream.stream.service.outputs import CameraOutputs
from tests.helpers import ffprobe


def _touch(folder: Path, camera: str, t: float, size: int) -> Path:
    p = folder / segment_name(camera, "mp4", when=t)
    p.write_bytes(b"x" * size)
    return p


def test_retention_by_count_and_size_deletes_the_oldest_and_spares_the_open_file(tmp_path: Path) -> None:
    files = [_touch(tmp_path, "gate", 1_700_000_000 + 60 * i, 1000) for i in range(6)]
    other = _touch(tmp_path, "gate-2", 1_700_000_000, 1000)  # another camera's prefix is left alone
    removed = enforce_retention(tmp_path, "gate", keep=4, max_bytes=0, current=files[-1])
    assert removed == files[:2]
    assert segments(tmp_path, "gate") == files[2:]
    removed = enforce_retention(tmp_path, "gate", keep=0, max_bytes=1500, current=files[-1])
    assert removed == files[2:4]  # the closed files hold 2000 bytes > 1500; the open one never goes
    assert segments(tmp_path, "gate") == files[4:]
    assert other.exists()


def test_segments_rotate_are_all_playable_and_retention_applies(tmp_path: Path) -> None:
    policy = RecordingPolicy(tmp_path, segment_s=0.5, container="mp4", keep=3)
    out = CameraOutputs("yard", recording=policy, live=False)
    fps = Fraction(30)
    frames = 90
    for i in range(frames):
        px = np.full((64, 96, 3), (i * 3) % 256, np.uint8)
        out.push(Frame(px, pts=i * 33_333_333, duration=33_333_333, seq=i), fps)
    out.end()
    files = segments(tmp_path, "yard")
    assert len(files) == 3, [f.name for f in files]  # 3 s of video in 0.5 s segments, 3 kept
    for f in files:
        assert f.name.startswith("yard_") and f.suffix == ".mp4"
        probe = ffprobe(f)  # every segment, the last one closed at end-of-stream included, decodes
        assert (probe.width, probe.height) == (96, 64)
        assert probe.frames >= 10 and probe.fps == 30
    assert out.recording is not None and out.recording.current == files[-1]


def test_timestamps_continue_across_a_source_restart(tmp_path: Path) -> None:
    target = tmp_path / "one.mkv"
    out = CameraOutputs("cam", file=str(target), live=False)
    for run in range(2):
        out.new_run()  # the source restarted: its timestamps start again at zero
        for i in range(15):
            out.push(Frame(np.zeros((32, 48, 3), np.uint8), pts=i * 66_666_666, duration=66_666_666), Fraction(15))
        time.sleep(0.05 * run)
    out.end()
    probe = ffprobe(target)
    assert probe.frames == 30
    assert 1.8 <= probe.duration <= 2.3  # 30 frames at 15 fps, not two overlapping 1 s runs
