"""A stop request is bounded in time even when a stage hangs; the file written so far is kept."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ganstream.stream import Pipeline, RunOptions
from ganstream.stream.frame import Frame, VideoSpec


class HangsAfter:
    """A stage that passes `n` frames, then never returns (a wedged engine)."""

    name = "hang"

    def __init__(self, n: int) -> None:
        self.n = n
        self.release = threading.Event()

    def configure(self, spec: VideoSpec) -> VideoSpec:
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        self.n -= 1
        if self.n < 0:
            self.release.wait()
        return [frame]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        self.release.set()


def test_stop_is_bounded_when_a_stage_hangs(tmp_path: Path) -> None:
    stage = HangsAfter(20)
    pipe = Pipeline(
        "test:ball?live=1&width=96&height=64&fps=30", [stage], str(tmp_path / "o.mkv"), RunOptions(stop_timeout_s=2.0)
    )
    done = threading.Event()
    runner = threading.Thread(target=lambda: (pipe.run(timeout=60), done.set()), daemon=True)
    runner.start()
    deadline = time.monotonic() + 15
    while pipe.stats.frames_in < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stage.n < 0, "the stage never hung"
    pipe.stop()
    # stop timeout (2 s) for the sinks + worker join (5 s) + the bounded NULL transition (2 s), plus slack
    assert done.wait(15), "run() did not return after stop()"
    stage.release.set()
