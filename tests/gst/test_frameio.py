"""numpy <-> GStreamer buffers: row stride honoured both ways; zero-copy views stay valid."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from ganstream.stream import Pipeline
from ganstream.stream.frame import VideoSpec
from ganstream.stream.frameio import buffer_from_pixels, pixels_from_buffer, rgb_stride


@pytest.mark.parametrize(("w", "h"), [(33, 17), (64, 8), (1, 1)])
@pytest.mark.parametrize("copy", [False, True])
def test_round_trip_through_a_buffer(w: int, h: int, copy: bool) -> None:
    px = np.random.default_rng(w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = buffer_from_pixels(px, pts=5, duration=7)
    assert buf.get_size() == rgb_stride(w) * h and buf.pts == 5 and buf.duration == 7
    back = pixels_from_buffer(buf, VideoSpec(w, h), rgb_stride(w), copy=copy)
    np.testing.assert_array_equal(back, px)
    assert back.flags.writeable == copy


def test_frames_outlive_their_pipeline() -> None:
    frames = list(Pipeline("test:red?frames=6&width=35&height=19", [], sink=None).frames(20))
    gc.collect()
    assert len(frames) == 6
    for f in frames:
        assert f.pixels.shape == (19, 35, 3)
        assert (f.pixels == np.array([255, 0, 0], np.uint8)).all()
