"""Realtime mode drops frames under a slow stage and keeps latency bounded; file mode loses none."""

from __future__ import annotations

import time

import numpy as np

from ganstream.stream import Frame, Pipeline, RunOptions, VideoSpec


class SlowStage:
    """An engine stand-in that takes `seconds` per frame."""

    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        time.sleep(self.seconds)
        return [frame]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        pass


def test_realtime_drops_frames_and_bounds_latency() -> None:
    # A live 60 fps camera into a 25 fps stage: most frames must be dropped, none may pile up.
    src = "test:ball?live=1&width=160&height=96&fps=60"
    stats = Pipeline(src, [SlowStage(0.04)], "null", RunOptions(realtime=True, queue_size=2)).run(timeout=3)
    assert stats.dropped > 0
    assert stats.frames_out + stats.dropped <= stats.frames_in
    stage_ms = stats.stage_ms()["slow"]
    p95 = stats.latency_ms(95)
    assert p95 is not None
    # Waiting behind at most queue_size frames plus its own processing, with slack for scheduling.
    assert p95 <= (2 + 1) * stage_ms + 60, (p95, stage_ms)


def test_low_latency_mode_holds_at_most_one_frame() -> None:
    src = "test:ball?live=1&width=160&height=96&fps=60"
    stats = Pipeline(src, [SlowStage(0.04)], "null", RunOptions(low_latency=True)).run(timeout=2)
    p95 = stats.latency_ms(95)
    assert stats.dropped > 0 and p95 is not None
    assert p95 <= 2 * stats.stage_ms()["slow"] + 60


def test_file_mode_processes_every_frame_under_a_slow_stage() -> None:
    got: list[int] = []
    stats = Pipeline(
        "test:ball?frames=20&width=96&height=64", [SlowStage(0.01)], lambda f: got.append(f.seq), RunOptions()
    ).run(timeout=30)
    assert stats.dropped == 0 and got == list(range(20))


def test_realtime_file_source_is_paced_to_its_frame_rate() -> None:
    t0 = time.monotonic()
    n = 0

    def count(_f: Frame) -> None:
        nonlocal n
        n += 1

    Pipeline("test:ball?frames=15&width=64&height=48&fps=30", [], count, RunOptions(realtime=True)).run(timeout=10)
    assert n == 15
    assert time.monotonic() - t0 >= 0.4  # 15 frames at 30 fps take half a second when paced


def test_frames_are_uint8_rgb() -> None:
    f = next(iter(Pipeline("test:red?frames=1&width=32&height=16", [], sink=None).frames(10)))
    assert f.pixels.dtype == np.uint8 and f.pixels.shape == (16, 32, 3)
    assert tuple(f.pixels[0, 0]) == (255, 0, 0)
