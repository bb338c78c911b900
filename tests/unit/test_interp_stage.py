"""InterpolateStage and its domain rules: timestamps, counts, cuts, static frames, gaps."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction

import cv2
import numpy as np
import pytest

from ganstream.stream.errors import StageError
from ganstream.stream.frame import NS_PER_SECOND, Frame, Pixels, VideoSpec
from ganstream.stream.stages.base import Stage
from ganstream.stream.stages.interp_rules import (
    RateGrid,
    crop_to,
    factor_times,
    grid_times,
    is_scene_cut,
    is_static,
    pad_to_multiple,
    thumbnail,
)
from ganstream.stream.stages.interpolate import BlendSynth, InterpolateStage

H, W = 36, 64


class RecordingSynth(BlendSynth):
    """The blend baseline, remembering every call (to see which pairs reached the model)."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[list[float]] = []

    def synthesize(self, frame0: Pixels, frame1: Pixels, ts: Sequence[float]) -> list[Pixels]:
        self.calls.append(list(ts))
        return super().synthesize(frame0, frame1, ts)


def moving_frames(n: int, step_px: int = 2, seed: int = 0) -> list[Pixels]:
    """A textured scene panning right by `step_px` per frame (one shot, always moving)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (H, W + n * step_px, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3.0)
    scene = np.clip(128 + 90 * smooth / smooth.std(), 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(scene[:, i * step_px : i * step_px + W]) for i in range(n)]


def run(stage: InterpolateStage, pixels: list[Pixels], pts: list[int], fps: Fraction) -> list[Frame]:
    stage.configure(VideoSpec(W, H, fps))
    out: list[Frame] = []
    for i, (px, p) in enumerate(zip(pixels, pts, strict=True)):
        dur = pts[i + 1] - p if i + 1 < len(pts) else int(NS_PER_SECOND / fps) if fps else 0
        out += stage.process(Frame(px, p, dur, seq=i))
    return out + stage.flush()


def const_pts(n: int, fps: Fraction) -> list[int]:
    return [round(i * NS_PER_SECOND / fps) for i in range(n)]


def assert_contiguous(out: list[Frame]) -> None:
    for a, b in itertools.pairwise(out):
        assert b.pts > a.pts
        assert a.pts + a.duration == b.pts, "each frame must last until the next one starts"


def test_stage_protocol_and_output_spec() -> None:
    stage = InterpolateStage(BlendSynth(), factor=2)
    assert isinstance(stage, Stage)
    assert stage.configure(VideoSpec(W, H, Fraction(25))).fps == 50
    assert InterpolateStage(BlendSynth(), target_fps=Fraction(60)).configure(VideoSpec(W, H, Fraction(25))).fps == 60


@pytest.mark.parametrize("factor", [2, 4])
def test_factor_counts_timestamps_and_unchanged_sources(factor: int) -> None:
    fps = Fraction(25)
    pixels = moving_frames(10)
    out = run(InterpolateStage(RecordingSynth(), factor=factor), pixels, const_pts(10, fps), fps)
    assert len(out) == 10 * factor
    step = NS_PER_SECOND / (fps * factor)
    assert [f.pts for f in out] == [round(i * step) for i in range(10 * factor)]
    assert_contiguous(out)
    sources = [f for f in out if not f.meta.get("interpolated") and not f.meta.get("repeat")]
    assert len(sources) == 10
    for f, px in zip(sources, pixels, strict=True):
        assert f.pixels is px, "source frames pass through untouched"
    made = [f for f in out if f.meta.get("interpolated")]
    assert len(made) == 9 * (factor - 1)
    assert sorted({round(f.meta["t"], 6) for f in made}) == [round(k / factor, 6) for k in range(1, factor)]


def test_first_frame_goes_out_at_once_and_flush_fills_the_last_interval() -> None:
    stage = InterpolateStage(BlendSynth(), factor=2)
    stage.configure(VideoSpec(W, H, Fraction(25)))
    px = moving_frames(1)[0]
    first = stage.process(Frame(px, 0, 40_000_000))
    assert [f.pts for f in first] == [0] and first[0].pixels is px
    tail = stage.flush()
    assert [(f.pts, f.meta["repeat"]) for f in tail] == [(20_000_000, True)]
    assert stage.flush() == []


def test_25_to_60_fps_follows_the_output_clock() -> None:
    fps = Fraction(25)
    pixels = moving_frames(25)
    out = run(InterpolateStage(RecordingSynth(), target_fps=Fraction(60)), pixels, const_pts(25, fps), fps)
    assert len(out) == 60  # one second in, one second out
    assert [f.pts for f in out] == [round(k * NS_PER_SECOND / 60) for k in range(60)]
    assert_contiguous(out)
    # The two clocks meet every 200 ms: source frames 0, 5, 10, 15, 20 go out unchanged there.
    sources = [f for f in out if not f.meta.get("interpolated") and not f.meta.get("repeat")]
    assert [f.seq for f in sources] == [0, 5, 10, 15, 20]
    assert all(f.pixels is pixels[f.seq] for f in sources)
    ts = sorted({round(f.meta["t"], 4) for f in out if f.meta.get("interpolated")})
    assert ts == [round(k / 12, 4) for k in range(1, 12)]  # 60/25 = 12/5: every twelfth of a gap


def test_ntsc_target_rate_does_not_drift() -> None:
    grid = RateGrid(Fraction(30000, 1001), 0)
    assert grid.time(30000) == 1001 * NS_PER_SECOND


def test_dropped_input_frame_keeps_the_output_on_time() -> None:
    fps = Fraction(25)
    pts = const_pts(6, fps)
    del pts[3]  # frame 3 lost upstream: a gap of two intervals
    pixels = moving_frames(5)
    out = run(InterpolateStage(BlendSynth(), factor=2), pixels, pts, fps)
    assert [f.pts for f in out] == [i * 20_000_000 for i in range(12)]
    assert_contiguous(out)


def test_variable_frame_rate_input_splits_each_gap() -> None:
    pts = [0, 30_000_000, 70_000_000, 80_000_000, 140_000_000]
    out = run(InterpolateStage(BlendSynth(), factor=2), moving_frames(5), pts, Fraction(0))
    mids = [f.pts for f in out if f.meta.get("interpolated")]
    assert mids == [15_000_000, 50_000_000, 75_000_000, 110_000_000]


def test_long_stall_is_not_filled_with_made_up_frames() -> None:
    pts = [0, 40_000_000, 2_040_000_000, 2_080_000_000]
    stage = InterpolateStage(BlendSynth(), factor=2)
    out = run(stage, moving_frames(4), pts, Fraction(25))
    assert not any(0 < f.pts - 40_000_000 < 2_000_000_000 for f in out)
    assert stage.counts["gap"] == 1


def test_scene_cut_gives_duplicates_not_blends() -> None:
    shot_a = moving_frames(3, seed=1)
    shot_b = [np.full_like(px, 255) - px // 4 for px in moving_frames(3, seed=2)]
    synth = RecordingSynth()
    stage = InterpolateStage(synth, factor=4)
    out = run(stage, shot_a + shot_b, const_pts(6, Fraction(25)), Fraction(25))
    across = [f for f in out if 2 * 40_000_000 < f.pts < 3 * 40_000_000]
    assert len(across) == 3
    assert across[0].pixels is shot_a[2] and across[1].pixels is shot_b[0] and across[2].pixels is shot_b[0]
    assert stage.counts["scene_cut"] == 1
    assert len(synth.calls) == 4, "only the pairs within a shot reach the synthesizer"


def test_static_frames_skip_the_model() -> None:
    still = moving_frames(1)[0]
    synth = RecordingSynth()
    stage = InterpolateStage(synth, factor=2)
    out = run(stage, [still] * 4, const_pts(4, Fraction(25)), Fraction(25))
    assert len(out) == 8 and synth.calls == []
    assert stage.counts["static"] == 3
    assert all(np.array_equal(f.pixels, still) for f in out)


def test_time_going_back_restarts_without_interpolating() -> None:
    stage = InterpolateStage(RecordingSynth(), factor=2)
    pts = [0, 40_000_000, 10_000_000, 50_000_000]
    out = run(stage, moving_frames(4), pts, Fraction(25))
    assert [f.pts for f in out if f.meta.get("interpolated")] == [20_000_000, 30_000_000]


def test_report_names_the_added_latency() -> None:
    stage = InterpolateStage(BlendSynth(), factor=2)
    run(stage, moving_frames(3), const_pts(3, Fraction(25)), Fraction(25))
    rep = stage.report()
    assert rep["added_latency_ms"] >= 40.0
    assert rep["interpolated"] == 2 and rep["source"] == 3


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"factor": 2, "target_fps": Fraction(60)}, {"factor": 1}, {"target_fps": Fraction(0)}],
)
def test_bad_options_are_one_line_stage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(StageError, match="interpolate"):
        InterpolateStage(BlendSynth(), **kwargs)  # type: ignore[arg-type]


def test_blend_is_the_linear_mix() -> None:
    a, b = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 200, np.uint8)
    mid, quarter = BlendSynth().synthesize(a, b, [0.5, 0.25])
    assert (mid == 100).all() and (quarter == 50).all()


def test_rules_on_thumbnails() -> None:
    a, b = moving_frames(2)
    assert not is_scene_cut(thumbnail(a), thumbnail(b))
    assert is_scene_cut(thumbnail(a), thumbnail(255 - a))
    assert is_static(thumbnail(a), thumbnail(a.copy()))
    assert not is_static(thumbnail(a), thumbnail(b))


def test_factor_times_and_grid_times() -> None:
    assert [(o.pts, o.duration, o.t) for o in factor_times(0, 40, 4, 40)] == [
        (10, 10, 0.25),
        (20, 10, 0.5),
        (30, 10, 0.75),
    ]
    assert factor_times(0, 41, 2, 40)[0].t == 0.5  # jitter: still one in-between frame
    times, on = grid_times(RateGrid(Fraction(60), 0), 0, 40_000_000)
    assert len(times) == 2 and on is None
    times, on = grid_times(RateGrid(Fraction(60), 0), 160_000_000, 200_000_000)
    assert len(times) == 2 and on == 12


def test_padding_round_trip() -> None:
    x = np.arange(5 * 7 * 2, dtype=np.float32).reshape(5, 7, 2)
    p = pad_to_multiple(x, 32)
    assert p.shape == (32, 32, 2)
    assert np.array_equal(crop_to(p, 5, 7), x)
    assert pad_to_multiple(x, 1) is x
