"""No colour bias from the training degradations: a network learns whatever shift they add."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the training module needs the train extra")
from ganstream.engines.calib import default_clip, read_frames
from ganstream.training.codec import h264_roundtrip


def test_h264_round_trip_adds_no_colour_shift() -> None:
    clip = default_clip()
    assert clip is not None
    frames = np.stack(read_frames(clip, count=6, size=(90, 160)))
    # Near-lossless, the round trip is only the RGB -> YUV 4:2:0 -> RGB conversion: it must not
    # move the mean of any channel (swscale's default rounding darkened green by 1.2 levels).
    out = h264_roundtrip(frames, crf=0)
    shift = (out.astype(np.float64) - frames).mean(axis=(0, 1, 2))
    assert np.all(np.abs(shift) < 0.15), shift
