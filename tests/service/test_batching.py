"""Cross-stream batching: one engine call for several streams, each result back to its own stream."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from ganstream.stream.batching import BatchingEngine, SerialEngine, SharedEnhanceStage
from ganstream.stream.frame import Frame, VideoSpec


class RecordingEngine:
    """A scale-1 'model' that adds 1 to every pixel and records the shape of every call."""

    backend = "numpy"
    precision = "fp32"

    def __init__(self) -> None:
        self.card = SimpleNamespace(name="plus-one", task="restore", scale=1, limits=None)
        self.calls: list[tuple[int, ...]] = []
        self.lock = threading.Lock()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with self.lock:
            self.calls.append(batch.shape)
        return (batch + 1).astype(np.uint8)


def _frame(stream: int, seq: int, h: int = 8, w: int = 8) -> np.ndarray:
    px = np.zeros((h, w, 3), np.uint8)
    px[..., 0] = stream  # which stream
    px[..., 1] = seq  # which frame of it
    return px


def _feed(
    engine: Any, streams: int, frames: int, sizes: dict[int, tuple[int, int]] | None = None
) -> dict[int, list[Any]]:
    results: dict[int, list[Any]] = {s: [] for s in range(streams)}

    def worker(s: int) -> None:
        h, w = (sizes or {}).get(s, (8, 8))
        engine.attach(f"s{s}", 30.0)
        for i in range(frames):
            results[s].append(engine.infer_one(f"s{s}", _frame(s, i, h, w)))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    return results


def test_every_result_returns_to_its_own_stream_in_order() -> None:
    inner = RecordingEngine()
    engine = BatchingEngine(inner, max_batch=4)
    try:
        results = _feed(engine, streams=4, frames=20)
    finally:
        engine.close()
    for s, outs in results.items():
        assert [int(o[0, 0, 0]) for o in outs] == [s + 1] * 20
        assert [int(o[0, 0, 1]) for o in outs] == [i + 1 for i in range(20)]
    assert max(shape[0] for shape in inner.calls) > 1, "no call ever batched two streams"
    assert len(inner.calls) < 80  # fewer engine calls than frames
    assert engine.figures.frames == 80


def test_frames_of_another_size_get_their_own_batches() -> None:
    inner = RecordingEngine()
    engine = BatchingEngine(inner, max_batch=8)
    try:
        results = _feed(engine, streams=4, frames=10, sizes={3: (16, 24)})
    finally:
        engine.close()
    assert all(len(v) == 10 for v in results.values())
    assert results[3][0].shape == (16, 24, 3)
    assert {shape[1:] for shape in inner.calls} == {(8, 8, 3), (16, 24, 3)}
    assert all(shape[0] == 1 for shape in inner.calls if shape[1:] == (16, 24, 3))


def test_a_silent_stream_never_holds_a_batch_past_the_timeout() -> None:
    inner = RecordingEngine()
    engine = BatchingEngine(inner, max_batch=4, push_timeout_s=0.05)
    try:
        engine.attach("stalled", 30.0)  # attached, sends one frame, then nothing
        engine.infer_one("stalled", _frame(9, 0))
        results = _feed(engine, streams=2, frames=10)
    finally:
        engine.close()
    assert all(len(v) == 10 for v in results.values())
    # Once the silent stream is idle it is not waited for: batches hold the two live streams.
    assert max(s[0] for s in inner.calls) <= 2


def test_an_engine_error_reaches_every_waiting_stream() -> None:
    class Broken(RecordingEngine):
        def infer(self, batch: np.ndarray) -> np.ndarray:
            raise RuntimeError("device lost")

    engine = BatchingEngine(Broken(), max_batch=2)
    try:
        with pytest.raises(RuntimeError, match="device lost"):
            engine.infer_one("a", _frame(0, 0))
    finally:
        engine.close()


def test_shared_stage_keeps_each_frames_timing() -> None:
    engine = BatchingEngine(RecordingEngine(), max_batch=2)
    stage = SharedEnhanceStage(engine, "cam", fps=25)
    try:
        assert stage.configure(VideoSpec(8, 8)) == VideoSpec(8, 8)
        frame = Frame(_frame(1, 2), pts=123_000_000, duration=40_000_000, seq=7, source_id="cam")
        (out,) = stage.process(frame)
        assert (out.pts, out.duration, out.seq, out.source_id) == (123_000_000, 40_000_000, 7, "cam")
        assert int(out.pixels[0, 0, 1]) == 3
    finally:
        stage.close()
        engine.close()


def test_two_frames_in_flight_keep_each_streams_order() -> None:
    engine = BatchingEngine(RecordingEngine(), max_batch=4)
    outs: dict[int, list[Frame]] = {}

    def stream(s: int) -> None:
        stage = SharedEnhanceStage(engine, f"s{s}", fps=30, depth=2)
        stage.configure(VideoSpec(8, 8))
        got: list[Frame] = []
        for i in range(12):
            got += stage.process(Frame(_frame(s, i), pts=i * 1000, duration=1000, seq=i))
        assert len(got) == 11  # one frame still in the engine until the end of the stream
        outs[s] = got + stage.flush()
        stage.close()

    threads = [threading.Thread(target=stream, args=(s,)) for s in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        engine.close()
    for s, frames in outs.items():
        assert [f.seq for f in frames] == list(range(12))
        assert [f.pts for f in frames] == [i * 1000 for i in range(12)]
        assert all(int(f.pixels[0, 0, 0]) == s + 1 and int(f.pixels[0, 0, 1]) == f.seq + 1 for f in frames)
    assert len(outs) == 3


def test_batched_output_equals_per_frame_output_of_a_real_model(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from ganstream.engines import load_engine
    from ganstream.engines.devmodel import make_random_model

    make_random_model(tmp_path / "tiny", limits=None)
    real = load_engine(tmp_path / "tiny", backend="ort", threads=1)
    batched = BatchingEngine(real, max_batch=3)
    serial = SerialEngine(real)
    rng = np.random.default_rng(0)
    frames = {s: [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(3)] for s in range(3)}
    out: dict[int, list[np.ndarray]] = {s: [] for s in range(3)}

    def worker(s: int) -> None:
        out[s] = [batched.infer_one(f"s{s}", f) for f in frames[s]]

    try:
        threads = [threading.Thread(target=worker, args=(s,)) for s in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for s in range(3):
            for f, o in zip(frames[s], out[s], strict=True):
                ref = serial.infer_one("ref", f)
                assert o.shape == (48, 64, 3)
                assert np.abs(o.astype(int) - ref.astype(int)).max() <= 1
        assert batched.figures.mean_batch > 1
    finally:
        batched.close()
        real.close()
