"""`ganstream run --interpolate N | --fps F` on real files, checked with ffprobe."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from tests.helpers import ffprobe, make_clip, run_cli


@pytest.fixture(scope="module")
def clip25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second at 25 fps: 25 frames of a moving ball."""
    return make_clip(tmp_path_factory.mktemp("interp") / "in.mp4", frames=25, width=160, height=96, fps=25)


def packet_times(path: Path) -> list[float]:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "json"]
    out = subprocess.run([*cmd, str(path)], capture_output=True, text=True, check=True, timeout=60)
    return sorted(float(p["pts_time"]) for p in json.loads(out.stdout)["packets"])


@pytest.mark.parametrize(
    ("args", "frames", "fps"),
    [
        (("--interpolate", "2"), 50, Fraction(50)),
        (("--interpolate", "4"), 100, Fraction(100)),
        (("--fps", "60"), 60, Fraction(60)),
    ],
)
def test_output_rate_frame_count_and_timestamps(
    clip25: Path, tmp_path: Path, args: tuple[str, ...], frames: int, fps: Fraction
) -> None:
    out = tmp_path / "out.mp4"
    proc = run_cli("run", "--source", str(clip25), *args, "--model", "flow", "--sink", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    p = ffprobe(out)
    assert (p.frames, p.fps, p.width, p.height) == (frames, fps, 160, 96)
    assert p.duration == pytest.approx(1.0, abs=1.5 / float(fps))
    times = packet_times(out)
    first = times[0]
    assert times == pytest.approx([first + k / float(fps) for k in range(frames)], abs=1e-3)
    assert "(one source interval 40.0 ms + synthesis" in proc.stdout  # the added latency, explained


def test_chained_restore_sr_interpolate(clip25: Path, tmp_path: Path) -> None:
    out = tmp_path / "chain.mp4"
    proc = run_cli(
        "run", "--source", str(clip25), "--restore", "--sr", "2", "--interpolate", "2",
        "--model", "nlmeans", "--model", "bicubic", "--model", "flow", "--sink", str(out), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    p = ffprobe(out)
    assert (p.frames, p.fps, p.width, p.height) == (50, Fraction(50), 320, 192)
    assert "interpolate flow" in proc.stderr


@pytest.mark.parametrize("model", ["flow-large", "flow-refined"])
def test_the_other_classical_interpolators_run_on_a_file(clip25: Path, tmp_path: Path, model: str) -> None:
    """`--model flow-large` (forward-projected flows too) and `flow-refined` (DIS's variational
    refinement): the same clock and frames as `flow`."""
    out = tmp_path / f"{model}.mp4"
    proc = run_cli(
        "run", "--source", str(clip25), "--interpolate", "2", "--model", model,
        "--sink", str(out), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    p = ffprobe(out)
    assert (p.frames, p.fps, p.width, p.height) == (50, Fraction(50), 160, 96)
    assert f"interpolate {model} x2" in proc.stdout + proc.stderr
