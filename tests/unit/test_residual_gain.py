"""The residual strength an SR stream measures on its own frames (engines.residual_gain)."""

from __future__ import annotations

import cv2
import numpy as np

from ganstream.engines import load_engine
from ganstream.engines.calib import default_clip, psnr, read_frames
from ganstream.engines.residual_gain import ResidualGain, bicubic
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages.enhance import EnhanceStage


def smooth_frame(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth, clean picture: where sharpening or denoising can only hurt."""
    rng = np.random.default_rng(seed)
    low = rng.integers(40, 220, (h // 16, w // 16, 3)).astype(np.float32)
    return np.asarray(cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 255), np.uint8)


def noisy_model(seed: int = 1):  # type: ignore[no-untyped-def]
    """A 'model' whose correction over bicubic is pure noise."""
    rng = np.random.default_rng(seed)

    def run(x: np.ndarray) -> np.ndarray:
        up = bicubic(x, 2).astype(np.float32)
        return np.asarray(np.clip(up + rng.normal(0, 6, up.shape), 0, 255), np.uint8)

    return run


def test_a_harmful_correction_is_turned_down_to_bicubic() -> None:
    run = noisy_model()
    gain = ResidualGain(run, 2)
    frame = smooth_frame()
    assert gain.observe(frame) < 0.2
    out = gain.apply(frame, run(frame))
    ref = bicubic(frame, 2)
    assert psnr(out, ref) > psnr(run(frame), ref) + 10  # most of the noise is gone


def test_a_helpful_correction_is_kept_whole_and_costs_nothing() -> None:
    clip = default_clip()
    assert clip is not None
    engine = load_engine("sr2x", backend="openvino", precision="fp32")
    frames = read_frames(clip, count=3, size=(180, 320))
    run = lambda x: engine.infer(x[None])[0]  # noqa: E731
    gain = ResidualGain(run, 2)
    gain.alpha = 1.0
    out = run(frames[0])
    assert gain.apply(frames[0], out) is out  # full strength: no blend at all
    alpha = gain.observe(frames[0])
    assert 0.3 < alpha <= 1.0  # the shipped model helps on its sample clip


def test_the_strength_moves_smoothly_is_measured_every_n_frames_and_resets() -> None:
    calls: list[tuple[int, int]] = []
    base = noisy_model()

    def run(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape[:2])
        return base(x)

    gain = ResidualGain(run, 2, every=10)
    frame = smooth_frame()
    for _ in range(25):
        gain.observe(frame)
    assert calls == [(48, 64)] * 3  # frames 0, 10 and 20, each at half size
    assert gain.estimates == 3
    gain.reset()
    assert gain.alpha == 1.0 and gain.estimates == 0
    gain.observe(frame)
    assert gain.estimates == 1
    # Too small to shrink again: the model's output is kept and nothing is run.
    tiny = ResidualGain(run, 2)
    assert tiny.observe(smooth_frame(24, 24)) == 1.0 and tiny.estimates == 0


class NoisyEngine:
    """An sr engine with the shape of a real one whose correction is noise."""

    backend, precision = "fake", "fp32"

    class card:
        name, task, scale = "noisy", "sr", 2

    def __init__(self) -> None:
        self.run = noisy_model()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch[0])[None]

    def close(self) -> None:
        pass


def test_the_enhance_stage_applies_it_and_can_be_told_not_to() -> None:
    frame = smooth_frame()
    spec = VideoSpec(frame.shape[1], frame.shape[0])
    ref = bicubic(frame, 2)
    scores = {}
    for enabled in (True, False):
        stage = EnhanceStage(NoisyEngine(), residual_gain=enabled)
        stage.configure(spec)
        out = stage.process(Frame(frame, pts=0, duration=40_000_000, seq=0))[0].pixels
        scores[enabled] = psnr(out, ref)
    assert scores[True] > scores[False] + 10
