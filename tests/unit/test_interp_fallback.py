"""The cross-fade fallback of the classical path: mixed in only where the two warps disagree."""

from __future__ import annotations

import numpy as np
import pytest

from ganstream.engines.flow import Fallback, average_warped, fuse_warped
from ganstream.stream.stages.interp_synth import FlowSynth


def flat(value: int, h: int = 48, w: int = 64) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_agreeing_warps_give_their_average() -> None:
    w = flat(120)
    frame0, frame1 = flat(10), flat(250)  # a cross-fade far from the warps
    out = fuse_warped(w, w, frame0, frame1, 0.5, Fallback())
    assert out.dtype == np.uint8 and out.shape == w.shape
    assert np.array_equal(out, w)


def test_disagreeing_warps_take_the_cross_fade_up_to_its_share() -> None:
    w0, w1 = flat(100), flat(200)  # 100 levels apart: beyond full_at, so the full share
    frame0, frame1 = flat(0), flat(40)
    t = 0.25
    out = fuse_warped(w0, w1, frame0, frame1, t, Fallback(share=0.3, full_at=40.0))
    average, crossfade = 0.75 * 100 + 0.25 * 200, 0.75 * 0 + 0.25 * 40
    assert np.allclose(out.astype(float), 0.7 * average + 0.3 * crossfade, atol=1.0)


def test_the_share_grows_with_the_disagreement() -> None:
    frame0 = frame1 = flat(0)
    small = fuse_warped(flat(100), flat(110), frame0, frame1, 0.5, Fallback(share=0.5, full_at=40.0))
    large = fuse_warped(flat(100), flat(130), frame0, frame1, 0.5, Fallback(share=0.5, full_at=40.0))
    # The share ramps from 0 at 4 levels apart to 0.5 at 40: 10 levels give 1/12, 30 give 13/36.
    assert small[0, 0, 0] == pytest.approx(105 * (1 - 1 / 12), abs=1)
    assert large[0, 0, 0] == pytest.approx(115 * (1 - 13 / 36), abs=1)


def test_noise_level_disagreement_leaves_the_average_alone() -> None:
    rng = np.random.default_rng(2)
    w0 = rng.integers(100, 140, (24, 32, 3), dtype=np.uint8)
    w1 = np.clip(w0.astype(int) + rng.integers(-3, 4, w0.shape), 0, 255).astype(np.uint8)  # within 3 levels
    out = fuse_warped(w0, w1, flat(0, 24, 32), flat(255, 24, 32), 0.5, Fallback())
    assert np.array_equal(out, average_warped(w0, w1, 0.5))


def test_share_zero_is_the_plain_average() -> None:
    rng = np.random.default_rng(3)
    w0, w1, f0, f1 = (rng.integers(0, 256, (16, 24, 3), dtype=np.uint8) for _ in range(4))
    assert np.array_equal(fuse_warped(w0, w1, f0, f1, 0.4, Fallback(share=0.0)), average_warped(w0, w1, 0.4))


def test_a_static_pole_survives_a_flow_that_drags_it() -> None:
    """A thin static pole in front of flat ground: warps that misplace it by opposite amounts disagree
    on it, and the fallback restores part of it from the cross-fade (both frames show it in place)."""
    frame = flat(90)
    frame[:, 30:32] = 230  # the pole, where it is in both frames and the middle
    w0, w1 = np.roll(frame, 3, axis=1), np.roll(frame, -3, axis=1)  # a wrong flow moved it both ways
    plain = average_warped(w0, w1, 0.5)
    fused = fuse_warped(w0, w1, frame, frame, 0.5, Fallback())
    assert mean_error(fused, frame) < 0.85 * mean_error(plain, frame)


def test_flow_synth_is_deterministic_and_keeps_shapes_for_any_t() -> None:
    rng = np.random.default_rng(5)
    f0 = rng.integers(0, 256, (36, 50, 3), dtype=np.uint8)
    f1 = np.roll(f0, 2, axis=1)
    a = FlowSynth().synthesize(f0, f1, [0.3, 0.5, 0.8])
    b = FlowSynth().synthesize(f0, f1, [0.3, 0.5, 0.8])
    assert [x.shape for x in a] == [(36, 50, 3)] * 3 and all(x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert FlowSynth().synthesize(f0, f1, []) == []


def test_bad_fallback_options() -> None:
    with pytest.raises(ValueError, match="share"):
        Fallback(share=1.5)
    with pytest.raises(ValueError, match="full_at"):
        Fallback(full_at=0.0)
    with pytest.raises(ValueError, match="ignore_below"):
        Fallback(ignore_below=50.0, full_at=40.0)
