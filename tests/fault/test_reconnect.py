"""Live RTSP faults against a real in-process camera: restart, silence, resolution change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ganstream.stream import Pipeline, RunOptions
from ganstream.stream.health import SourceState
from ganstream.stream.reconnect import ReconnectOptions
from tests.fault.camera import Camera, camera_launch, silent_server
from tests.helpers import ffprobe, stream_spans

FAST = ReconnectOptions(initial_s=0.5, max_s=1.0, jitter=0.1, stall_timeout_s=2.0)


def wait_for(cond: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def start(pipe: Pipeline) -> threading.Thread:
    runner = threading.Thread(target=pipe.run, kwargs={"timeout": 60}, daemon=True)
    runner.start()
    return runner


@contextmanager
def recording(cam: Camera, out: Path, stages: list[Any], options: RunOptions | None = None) -> Iterator[Pipeline]:
    """`cam` started and a pipeline writing it to `out`; both stopped on the way out, whatever happened."""
    cam.start()
    pipe = Pipeline(cam.url, stages, str(out), options or RunOptions(reconnect=FAST))
    runner = start(pipe)
    try:
        yield pipe
    finally:
        pipe.stop()
        runner.join(20)
        cam.stop()
    assert not runner.is_alive()


def test_camera_restart_reconnects_and_the_file_keeps_going(tmp_path: Path) -> None:
    cam = Camera()
    out = tmp_path / "out.mp4"
    with recording(cam, out, []) as pipe:
        assert wait_for(lambda: pipe.stats.frames_in >= 10, 15), "no frames from the camera"
        assert pipe.health.state == SourceState.STREAMING
        cam.stop()
        t_lost = time.monotonic()
        assert wait_for(lambda: pipe.health.state != SourceState.STREAMING, FAST.stall_timeout_s + 3)
        before = pipe.stats.frames_in
        time.sleep(1.0)
        cam.start()
        # Back within one backoff cap + a stall timeout + the connection set-up.
        assert wait_for(lambda: pipe.stats.frames_in >= before + 10, FAST.max_s + FAST.stall_timeout_s + 8)
        gap = time.monotonic() - t_lost
        assert pipe.health.reconnects >= 1 and pipe.health.state == SourceState.STREAMING
    probe = ffprobe(out)
    assert probe.width == 160 and probe.frames >= before + 10
    # One timeline across the gap: the file spans the frames before, the gap, and the frames after.
    first, last = stream_spans(out)["video"]
    assert last - first >= gap


def test_silent_server_is_stalled_then_retried() -> None:
    with silent_server() as port:
        pipe = Pipeline(f"rtsp://127.0.0.1:{port}/cam", [], "null", RunOptions(reconnect=FAST))
        runner = start(pipe)
        try:
            assert wait_for(lambda: pipe.health.stalls >= 1, FAST.stall_timeout_s + 4)
            assert wait_for(lambda: pipe.health.reconnects >= 1, FAST.max_s + 3)
            assert pipe.health.as_dict()["last_error"].endswith("(stalled)")
        finally:
            pipe.stop()
            runner.join(20)
    assert not runner.is_alive() and pipe.stats.frames_in == 0


def test_resolution_change_across_a_reconnect(tmp_path: Path) -> None:
    cam = Camera(camera_launch(160, 96))
    cam.start()
    out = tmp_path / "out.mkv"
    pipe = Pipeline(cam.url, [], str(out), RunOptions(reconnect=FAST))
    runner = start(pipe)
    try:
        assert wait_for(lambda: pipe.stats.frames_in >= 5, 15)
        cam.stop()
        assert wait_for(lambda: pipe.health.state != SourceState.STREAMING, FAST.stall_timeout_s + 3)
        before = pipe.stats.frames_in
        cam.start(camera_launch(320, 180))
        assert wait_for(lambda: pipe.stats.frames_in >= before + 5, FAST.max_s + FAST.stall_timeout_s + 8)
        assert pipe.stats.input_spec.startswith("320x180"), pipe.stats.input_spec
    finally:
        pipe.stop()
        runner.join(20)
        cam.stop()
    assert not runner.is_alive()
    probe = ffprobe(out)  # the file keeps its first size; the new frames are scaled into it
    assert (probe.width, probe.height) == (160, 96) and probe.frames >= before + 5


def test_recurrent_model_forgets_its_memory_across_a_reconnect(tmp_path: Path) -> None:
    """vrestore keeps a memory of the stream; frames after a reconnect must not be blended with
    warped frames from before it."""
    from ganstream.engines import load_engine
    from ganstream.stream.stages.enhance import EnhanceStage

    stage = EnhanceStage(load_engine("vrestore", backend="ort"))
    cam = Camera()
    with recording(cam, tmp_path / "out.mkv", [stage]) as pipe:
        memory = stage.memory
        assert memory is not None
        assert wait_for(lambda: memory.recurrence.steps >= 5, 20), "the memory was never used"
        # (a loaded machine may drop frames in between: those are "gap" resets, not reconnects)
        assert memory.reasons["reconnect"] == 0, memory.report()
        cam.stop()
        assert wait_for(lambda: pipe.health.state != SourceState.STREAMING, FAST.stall_timeout_s + 3)
        before = pipe.stats.frames_in
        time.sleep(0.5)
        cam.start()
        assert wait_for(lambda: pipe.stats.frames_out >= before + 5, FAST.max_s + FAST.stall_timeout_s + 8)
    assert memory.reasons["reconnect"] >= 1, memory.report()
