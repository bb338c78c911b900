"""Preview taps and before/after composition, without GStreamer."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import cv2
import numpy as np
import pytest

from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.service.web.preview import (
    CameraPreview,
    PreviewOptions,
    PreviewTap,
    encode_jpeg,
    preview_size,
)
from ganstream.stream.stages.classical import ResampleStage
from ganstream.stream.stages.compare import HoldSourceStage, compare_stages, compose


def _frame(value: int, w: int = 32, h: int = 16, pts: int = 0) -> Frame:
    return Frame(np.full((h, w, 3), value, np.uint8), pts, 1)


def test_preview_size_fits_the_box_and_never_scales_up() -> None:
    opts = PreviewOptions(max_width=640, max_height=480)
    assert preview_size(1920, 1080, opts) == (640, 360)
    assert preview_size(320, 192, opts) == (320, 192)
    assert preview_size(480, 960, opts) == (240, 480)
    with pytest.raises(ValueError, match="quality"):
        PreviewOptions(quality=0)


def test_encode_jpeg_scales_and_keeps_colour_order() -> None:
    red = np.zeros((96, 160, 3), np.uint8)
    red[..., 0] = 255  # RGB red
    img = cv2.imdecode(np.frombuffer(encode_jpeg(red, (320, 192), 90), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (192, 320, 3)
    assert img[..., 2].mean() > 240 and img[..., 0].mean() < 15  # red in OpenCV's BGR


def test_tap_does_nothing_without_viewers() -> None:
    tap = PreviewTap("t", PreviewOptions(), lambda w, h: (w, h))
    tap.offer(np.zeros((8, 8, 3), np.uint8))
    assert tap._slot is None and tap._thread is None and tap.encoded == 0


def test_tap_encodes_once_for_all_viewers_at_a_reduced_rate_and_stops_after_them() -> None:
    tap = PreviewTap("t", PreviewOptions(fps=5), lambda w, h: (w // 2, h // 2))

    async def watch() -> tuple[list[bytes], list[bytes]]:
        a, b = tap.subscribe(), tap.subscribe()
        got_a: list[bytes] = []
        got_b: list[bytes] = []
        t_end = time.monotonic() + 1.2
        i = 0
        while time.monotonic() < t_end:  # a 50 fps camera
            tap.offer(np.full((32, 64, 3), i % 256, np.uint8))
            i += 1
            await asyncio.sleep(0.02)
            while not a.empty():
                got_a.append(a.get_nowait())
        while not b.empty():  # b never read until now: a leaky queue of one
            got_b.append(b.get_nowait())
        tap.unsubscribe(a)
        tap.unsubscribe(b)
        return got_a, got_b

    got_a, got_b = asyncio.run(watch())
    assert 4 <= len(got_a) <= 8, len(got_a)  # about 5 per second, not 50
    assert len(got_b) == 1 and got_b[0] == got_a[-1]
    assert tap.encoded == len(got_a)  # one encode serves every viewer
    deadline = time.monotonic() + 3
    while tap._thread is not None:
        assert time.monotonic() < deadline, "the encoder thread outlived its viewers"
        time.sleep(0.05)


def test_offer_never_waits_for_a_viewer_that_does_not_read() -> None:
    tap = PreviewTap("t", PreviewOptions(fps=1000), lambda w, h: (w, h))
    loop = asyncio.new_event_loop()
    queue = loop.run_until_complete(_subscribe(tap))  # then the loop stops running: nobody reads
    try:
        big = np.zeros((1080, 1920, 3), np.uint8)
        t0 = time.perf_counter()
        for _ in range(200):
            tap.offer(big)
        assert (time.perf_counter() - t0) / 200 < 0.002  # a reference swap, no encoding, no waiting
    finally:
        tap.unsubscribe(queue)
        loop.close()


async def _subscribe(tap: PreviewTap) -> asyncio.Queue[bytes]:
    return tap.subscribe()


def test_camera_preview_shows_the_source_at_the_enhanced_size() -> None:
    preview = CameraPreview("cam", PreviewOptions(max_width=640, max_height=480))
    stages = preview.wrap([ResampleStage(2)])
    assert [s.name for s in stages] == ["preview-source", "sr", "preview-enhanced"]
    spec = VideoSpec(160, 96, Fraction(15))
    for s in stages:
        spec = s.configure(spec)
    assert preview.taps["enhanced"]._size(320, 192) == (320, 192)
    assert preview.taps["source"]._size(160, 96) == (320, 192)
    out = [_frame(7, 160, 96)]
    for s in stages:
        out = [r for f in out for r in s.process(f)]
    assert out[0].pixels.shape == (192, 320, 3)


def test_compare_side_and_split() -> None:
    src = np.zeros((8, 8, 3), np.uint8)
    out = np.full((16, 16, 3), 200, np.uint8)
    side = compose(src, out, "side")
    assert side.shape == (16, 32, 3) and side[:, :16].max() == 0 and side[:, 16:].min() == 200
    split = compose(src, out, "split")
    assert split.shape == (16, 16, 3)
    assert split[:, :7].max() == 0 and split[:, 9:].min() == 200 and split[:, 7:9].min() == 255


def test_compare_stages_pair_output_with_its_source_frame() -> None:
    stages = compare_stages([ResampleStage(2)], "side")
    spec = VideoSpec(8, 4)
    for s in stages:
        spec = s.configure(spec)
    assert (spec.width, spec.height) == (32, 8)
    outs = []
    for i, value in enumerate((10, 20, 30)):
        frames = [_frame(value, 8, 4, pts=i * 100)]
        for s in stages:
            frames = [r for f in frames for r in s.process(f)]
        outs.extend(frames)
    for out, value in zip(outs, (10, 20, 30), strict=True):
        assert out.pixels.shape == (8, 32, 3)
        assert out.pixels[:, :16].mean() == pytest.approx(value, abs=1)  # its own source frame
    hold = stages[0]
    assert isinstance(hold, HoldSourceStage)
    assert [hold.match(t).pts for t in (250, -5)] == [200, 0]  # type: ignore[union-attr]
    with pytest.raises(StageError, match="compare mode"):
        compare_stages([], "overlay")
