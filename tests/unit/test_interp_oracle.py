"""The measured-time oracle of `ganstream eval interp`: where the real middle frame sits in time."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ganstream.training.interp.oracle import MeasuredTime


def scene(width: int, height: int = 72, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32), (0, 0), 2.0)
    return np.clip(128 + 80 * noise / noise.std(), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("middle_at", [3, 6, 9])
def test_measures_uneven_capture_time(middle_at: int) -> None:
    """A pan of 12 px whose middle frame was captured after `middle_at` px of the motion."""
    s = scene(96 + 12)
    f0, middle, f1 = s[:, :96], s[:, middle_at : middle_at + 96], s[:, 12 : 12 + 96]
    assert MeasuredTime().t(f0, middle, f1) == pytest.approx(middle_at / 12, abs=0.08)


def test_a_still_scene_is_timed_at_the_middle() -> None:
    s = scene(96)
    assert MeasuredTime().t(s, s, s) == 0.5
