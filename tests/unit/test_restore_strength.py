"""The restore strength a stream measures on its own frames (engines.restore_strength)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ganstream.engines import load_engine
from ganstream.engines.calib import default_clip, psnr, read_frames
from ganstream.engines.restore_strength import DEFAULT_FLOOR, RestoreStrength, noise_sigma
from ganstream.engines.strength import strength_for
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages.enhance import EnhanceStage


def smooth_picture(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = rng.integers(40, 220, (h // 16, w // 16, 3)).astype(np.float32)
    return np.asarray(cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 255), np.uint8)


def textured_picture(h: int = 96, w: int = 128, seed: int = 3) -> np.ndarray:
    """Half smooth, half strong fine texture: what a denoiser mistakes for noise."""
    picture = smooth_picture(h, w, seed).astype(np.float32)
    rng = np.random.default_rng(seed)
    picture[:, w // 2 :] += rng.normal(0, 25, (h, w - w // 2, 3))
    return np.asarray(picture.clip(0, 255), np.uint8)


def add_noise(picture: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(np.clip(picture + rng.normal(0, sigma, picture.shape) + 0.5, 0, 255), np.uint8)


@pytest.mark.parametrize("sigma", [3.0, 8.0, 20.0])
def test_the_noise_level_of_white_noise_is_read_within_five_percent(sigma: float) -> None:
    flat = np.full((240, 320, 3), 128, np.uint8)
    assert noise_sigma(add_noise(flat, sigma)) == pytest.approx(sigma, rel=0.05)


def test_a_dim_scene_reads_its_noise_where_it_is_not_clipped() -> None:
    dim = np.full((240, 320, 3), 8, np.uint8)
    dim[:, 200:] = 120  # a lit part: a third of the picture
    assert noise_sigma(add_noise(dim, 10)) == pytest.approx(10, rel=0.05)


def test_texture_does_not_read_as_noise() -> None:
    textured = textured_picture(240, 320)
    assert noise_sigma(smooth_picture(240, 320)) < 0.5
    assert noise_sigma(textured) < 1.0  # the smooth half's blocks set the estimate
    assert noise_sigma(add_noise(textured, 10)) == pytest.approx(10, rel=0.15)


def test_a_perfect_denoiser_is_kept_whole() -> None:
    clean = smooth_picture(120, 160)
    strength = RestoreStrength(lambda x: clean)  # returns the clean picture whatever it is given
    assert strength.observe(add_noise(clean, 12)) > 0.9


def test_a_denoiser_that_wipes_texture_is_turned_down_to_the_floor() -> None:
    def blur(x: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.GaussianBlur(x, (0, 0), 2.0), np.uint8)

    picture = textured_picture(120, 160)
    strength = RestoreStrength(blur)
    assert strength.observe(picture) == pytest.approx(DEFAULT_FLOOR)
    out = strength.apply(picture, blur(picture))
    assert psnr(out, picture) > psnr(blur(picture), picture) + 10  # nearly the untouched input
    # The same blur on heavy noise over a smooth picture is mostly right, and mostly kept.
    noisy = add_noise(smooth_picture(120, 160), 20)
    assert RestoreStrength(blur).observe(noisy) > 0.6


def test_it_is_measured_every_n_frames_with_two_runs_and_resets() -> None:
    calls: list[int] = []

    def run(x: np.ndarray) -> np.ndarray:
        calls.append(1)
        return x

    strength = RestoreStrength(run, every=10)
    frame = add_noise(smooth_picture(), 5)
    for _ in range(25):
        strength.observe(frame)
    assert len(calls) == 6 and strength.estimates == 3  # frames 0, 10 and 20: the frame and a perturbed copy
    calls.clear()
    strength.reset()
    strength.observe(frame, frame)  # the caller has the output already: only the perturbed copy runs
    assert len(calls) == 1 and strength.estimates == 1
    strength.reset()
    assert strength.alpha == 1.0 and strength.estimates == 0
    tiny = RestoreStrength(run)
    assert tiny.observe(frame[:8, :8]) == 1.0 and tiny.estimates == 0  # too small to read noise from
    with pytest.raises(ValueError, match="floor"):
        RestoreStrength(run, floor=1.5)


def test_only_models_it_applies_to_get_a_strength() -> None:
    def identity(x: np.ndarray) -> np.ndarray:
        return x

    assert isinstance(strength_for("restore", 1, identity), RestoreStrength)
    assert strength_for("restore", 2, identity) is None
    assert strength_for("interp", 1, identity) is None


def test_the_shipped_restore_model_keeps_its_denoising_and_spares_a_clean_stream() -> None:
    clip = default_clip()
    assert clip is not None
    engine = load_engine("restore", backend="openvino", precision="fp32")
    frame = read_frames(clip, count=1, size=(180, 320))[0]
    stage = EnhanceStage(engine)
    assert isinstance(stage.gain, RestoreStrength)
    stage.configure(VideoSpec(320, 180))
    noisy = add_noise(frame, 15)
    raw = engine.infer(noisy[None])[0]
    out = stage.process(Frame(noisy, pts=0, duration=40_000_000, seq=0))[0].pixels
    assert stage.gain.alpha > 0.8
    assert psnr(out, frame) > psnr(noisy, frame) + 3  # still a denoiser
    assert psnr(out, frame) >= psnr(raw, frame) - 0.1
    assert "restore strength" in stage.summary_line()
    # A clean stream: the strength drops and the output stays closer to what came in.
    clean_stage = EnhanceStage(engine)
    clean_stage.configure(VideoSpec(320, 180))
    kept = clean_stage.process(Frame(frame, pts=0, duration=40_000_000, seq=0))[0].pixels
    assert clean_stage.gain is not None and clean_stage.gain.alpha < 0.5
    assert psnr(kept, frame) > psnr(engine.infer(frame[None])[0], frame) + 3
    assert EnhanceStage(engine, residual_gain=False).gain is None
