"""Real pipelines from and to files, checked with ffprobe or decoded back pixel by pixel."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from ganstream.stream import Pipeline, RunOptions
from ganstream.stream.stages import ResampleStage
from tests.helpers import ffprobe, make_clip, run_cli, stream_spans


def test_sr_file_to_mp4_doubles_size_keeps_frames_and_duration(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=30, width=160, height=96, fps=30)
    out = tmp_path / "out.mp4"
    run_cli(
        "run", "--source", str(clip), "--sr", "2", "--model", "bicubic", "--sink", str(out), "--no-progress", check=True
    )
    p = ffprobe(out)
    assert (p.width, p.height, p.frames, p.fps) == (320, 192, 30, Fraction(30))
    assert p.duration == pytest.approx(1.0, abs=1 / 30)


def test_default_chain_on_the_bundled_clip(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    proc = run_cli("run", "--sink", str(out), "--no-progress", check=True)
    assert "frames in 60, out 60, dropped 0" in proc.stdout
    p = ffprobe(out)
    assert (p.width, p.height, p.frames) == (768, 576, 60)


def write_pngs(folder: Path, n: int, h: int = 17, w: int = 33, seed: int = 0) -> list[np.ndarray]:
    """Random RGB frames at an odd width (rows padded in GStreamer buffers)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    for i, f in enumerate(frames):
        assert cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return frames


def read_pngs(folder: Path) -> list[np.ndarray]:
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("*.png"))]


def test_image_sequence_round_trip_is_bit_exact(tmp_path: Path) -> None:
    frames = write_pngs(tmp_path / "in", 5)
    run_cli(
        "run", "--source", str(tmp_path / "in" / "%04d.png"), "--passthrough",
        "--sink", str(tmp_path / "out" / "%04d.png"), "--no-progress", check=True,
    )  # fmt: skip
    back = read_pngs(tmp_path / "out")
    assert len(back) == len(frames)
    for a, b in zip(frames, back, strict=True):
        np.testing.assert_array_equal(a, b)


def test_lossless_mkv_round_trip_is_bit_exact(tmp_path: Path) -> None:
    frames = write_pngs(tmp_path / "in", 4, h=18, w=34, seed=1)
    out = tmp_path / "out.mkv"
    run_cli(
        "run", "--source", str(tmp_path / "in" / "%04d.png"), "--passthrough", "--lossless",
        "--sink", str(out), "--no-progress", check=True,
    )  # fmt: skip
    back = [f.pixels for f in Pipeline(str(out), [], sink=None).frames(timeout=30)]
    assert len(back) == len(frames)
    for a, b in zip(frames, back, strict=True):
        np.testing.assert_array_equal(a, b)


def test_frames_api_carries_timestamps_and_sizes() -> None:
    got = list(Pipeline("test:ball?frames=10&width=160&height=90&fps=25", [ResampleStage(2)], sink=None).frames(30))
    assert [f.pts for f in got] == [i * 40_000_000 for i in range(10)]
    assert all(f.duration == 40_000_000 for f in got)
    assert all(f.pixels.shape == (180, 320, 3) for f in got)


def test_callback_sink_receives_every_frame() -> None:
    seen: list[int] = []
    stats = Pipeline("test:smpte?frames=12&width=64&height=48", [], sink=lambda f: seen.append(f.seq)).run(30)
    assert seen == list(range(12)) and stats.frames_out == 12


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_audio_is_kept_and_in_sync(tmp_path: Path, container: str) -> None:
    clip = make_clip(tmp_path / f"in.{container}", frames=50, width=96, height=64, fps=25, tone=True)
    out = tmp_path / f"out.{container}"
    Pipeline(str(clip), [ResampleStage(2)], str(out), RunOptions(realtime=False)).run(60)
    p = ffprobe(out)
    assert p.has_audio and p.frames == 50
    spans = stream_spans(out)
    (v0, v1), (a0, a1) = spans["video"], spans["audio"]
    frame = 1 / 25
    assert v1 - v0 == pytest.approx(2.0, abs=frame)
    # In sync: audio starts and ends with the video, within one video frame (AAC adds priming).
    assert abs(a0 - v0) <= frame + 0.025 and abs(a1 - v1) <= frame + 0.025


def test_no_audio_drops_the_track(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=25, width=96, height=64, fps=25, tone=True)
    out = tmp_path / "out.mp4"
    run_cli(
        "run", "--source", str(clip), "--passthrough", "--no-audio", "--sink", str(out), "--no-progress", check=True
    )
    assert not ffprobe(out).has_audio
