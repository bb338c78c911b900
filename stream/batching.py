"""Cross-stream batching: frames from several cameras' worker threads -> one engine call.

Each camera's worker thread calls `BatchingEngine.infer_one` with one frame and blocks until its
result is back. Waiting frames of the same size are stacked into a batch (NHWC) and the engine
runs once for all of them, one batch at a time; the thread that finds a batch ready runs it
itself (no dispatcher thread, so a lone camera pays no thread hand-off). As DeepStream's
nvstreammux does, a batch goes out when it holds a frame from every camera that is currently
sending frames of that size (capped at `max_batch`) or when its first frame has waited the push
timeout, whichever comes first; the timeout defaults to half the shortest frame interval of
those cameras, so a stalled or slow camera never holds the others back longer than that. A
camera silent for a few frame intervals is no longer waited for at all. Frames of another size
form their own batches.

Results return to the thread that submitted them, so each stream keeps its own order and its
own timestamps (the stage wraps the output pixels in the input frame's timing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ganstream.engines.feed import example_inputs
from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, Pixels, VideoSpec
from ganstream.stream.stages.enhance import (
    blend_for,
    memory_for,
    memory_summary,
    residual_gain_for,
    strength_inputs,
    strength_summary,
)

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 1 / 30  # assumed frame interval of a stream that has not said its rate
IDLE_INTERVALS = 3.0  # a stream silent this many frame intervals is not waited for

# One frame's model inputs: the frame, or (frame, state) for a recurrent model.
Inputs = Pixels | tuple[Pixels, ...]


def _first(inputs: Inputs) -> Pixels:
    return inputs[0] if isinstance(inputs, tuple) else inputs


def _stack(items: list[Inputs]) -> list[Pixels]:
    """One batch per model input from per-frame inputs (no copy for a batch of one)."""
    per_input = [it if isinstance(it, tuple) else (it,) for it in items]
    if len(per_input) == 1:
        return [np.ascontiguousarray(x[np.newaxis]) for x in per_input[0]]
    return [np.stack(column) for column in zip(*per_input, strict=True)]


class FrameEngine(Protocol):
    """What a shared-engine stage needs: the card, and one frame in -> one frame out."""

    card: Any
    backend: str
    precision: str

    def attach(self, stream_id: str, fps: float) -> None: ...
    def detach(self, stream_id: str) -> None: ...
    def infer_one(self, stream_id: str, pixels: Inputs, interval_s: float = 0.0) -> Pixels: ...


@dataclass
class EngineFigures:
    """Counters of one shared engine, read by the metrics endpoint."""

    frames: int = 0
    batches: int = 0
    infer_seconds: float = 0.0
    wait_seconds: float = 0.0  # time first frames spent waiting for their batch to fill
    sizes: dict[int, int] = field(default_factory=dict)  # batch size -> count

    def record(self, size: int, infer_s: float, wait_s: float) -> None:
        self.frames += size
        self.batches += 1
        self.infer_seconds += infer_s
        self.wait_seconds += wait_s
        self.sizes[size] = self.sizes.get(size, 0) + 1

    @property
    def mean_batch(self) -> float:
        return self.frames / self.batches if self.batches else 0.0


class _Request:
    __slots__ = ("done", "error", "pixels", "result", "stream_id", "t_submit")

    def __init__(self, stream_id: str, pixels: Inputs) -> None:
        self.stream_id = stream_id
        self.pixels = pixels
        self.t_submit = time.monotonic()
        self.done = threading.Event()
        self.result: Pixels | None = None
        self.error: BaseException | None = None


@dataclass
class _StreamState:
    interval_s: float
    shape: tuple[int, ...] | None = None
    last_submit: float = 0.0


class BatchingEngine:
    """Shares one engine between streams, batching their frames; see the module docstring."""

    def __init__(
        self,
        engine: Any,
        max_batch: int = 8,
        push_timeout_s: float | None = None,
        timeout_frames: float = 0.5,
        name: str | None = None,
    ) -> None:
        if max_batch < 1:
            raise StageError(f"batching: max_batch must be >= 1, got {max_batch}")
        self.engine = engine
        self.card = engine.card
        self.backend = str(getattr(engine, "backend", "?"))
        self.precision = str(getattr(engine, "precision", "?"))
        self.name = name or str(self.card.name)
        self.max_batch = max_batch
        self.push_timeout_s = push_timeout_s
        self.timeout_frames = timeout_frames
        self.figures = EngineFigures()
        self._streams: dict[str, _StreamState] = {}
        self._pending: dict[tuple[int, ...], deque[_Request]] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._busy = False  # a batch is in the engine (engines run one call at a time)

    # -- streams ------------------------------------------------------------------------
    def attach(self, stream_id: str, fps: float) -> None:
        with self._cond:
            self._streams[stream_id] = _StreamState(1.0 / fps if fps > 0 else DEFAULT_INTERVAL_S)

    def detach(self, stream_id: str) -> None:
        with self._cond:
            self._streams.pop(stream_id, None)
            self._cond.notify_all()

    # -- submitting ---------------------------------------------------------------------
    def infer_one(self, stream_id: str, pixels: Inputs, interval_s: float = 0.0) -> Pixels:
        """Run one (H, W, 3) frame (or a recurrent model's inputs for one frame) in the next batch of
        its size; blocks until its result is back."""
        return self.wait(self.submit(stream_id, pixels, interval_s))

    def submit(self, stream_id: str, pixels: Inputs, interval_s: float = 0.0) -> _Request:
        """Queue one frame without waiting; `wait` returns its result."""
        req = _Request(stream_id, pixels)
        with self._cond:
            if self._closed:
                raise StageError(f"batching engine '{self.name}' is closed")
            state = self._streams.setdefault(stream_id, _StreamState(DEFAULT_INTERVAL_S))
            if interval_s > 0:
                state.interval_s = interval_s
            state.shape = tuple(_first(pixels).shape)
            state.last_submit = req.t_submit
            self._pending.setdefault(state.shape, deque()).append(req)
            self._cond.notify_all()
        return req

    def wait(self, req: _Request) -> Pixels:
        """Block until `req` is done, running any batch that is ready while the engine is free."""
        with self._cond:
            while not req.done.is_set():
                got = None if self._busy else self._take_ready_batch()
                if got is None:
                    self._cond.wait(self._wait_s())
                    continue
                self._busy = True
                self._cond.release()
                try:
                    self._run(*got)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    # -- dispatching --------------------------------------------------------------------
    def _timeout_for(self, shape: tuple[int, ...]) -> float:
        if self.push_timeout_s is not None:
            return self.push_timeout_s
        intervals = [s.interval_s for s in self._streams.values() if s.shape == shape] or [DEFAULT_INTERVAL_S]
        return self.timeout_frames * min(intervals)

    def _target_for(self, shape: tuple[int, ...], now: float) -> int:
        """How many frames to wait for: one per stream of this size that is currently sending."""
        queued = {r.stream_id for r in self._pending.get(shape, ())}
        active = {
            sid
            for sid, s in self._streams.items()
            if s.shape == shape and now - s.last_submit <= IDLE_INTERVALS * s.interval_s
        }
        return max(1, min(self.max_batch, len(active | queued)))

    def _take_ready_batch(self) -> tuple[list[_Request], float] | None:
        """The oldest batch that is full or timed out, taken off its queue; None if none is. Lock held."""
        now = time.monotonic()
        for first_t, shape in sorted((q[0].t_submit, shape) for shape, q in self._pending.items() if q):
            queue = self._pending[shape]
            if len(queue) >= self._target_for(shape, now) or now >= first_t + self._timeout_for(shape):
                return [queue.popleft() for _ in range(min(self.max_batch, len(queue)))], now - first_t
        return None

    def _wait_s(self) -> float:
        """How long to sleep before a batch may be ready: until the earliest push deadline. Lock held."""
        if self._busy:
            return 0.5  # woken when the engine is free
        now = time.monotonic()
        deadlines = [q[0].t_submit + self._timeout_for(shape) for shape, q in self._pending.items() if q]
        return min(0.5, max(0.0005, min(deadlines, default=now + 0.5) - now))

    def _run(self, batch: list[_Request], waited: float) -> None:
        t0 = time.perf_counter()
        try:
            out = self.engine.infer(*_stack([r.pixels for r in batch]))
            if out.shape[0] != len(batch):
                raise StageError(f"engine '{self.name}' returned {out.shape[0]} frames for a batch of {len(batch)}")
            for i, req in enumerate(batch):
                req.result = out[i]
        except BaseException as exc:  # handed to every waiting stream; each one's pipeline reports it
            for req in batch:
                req.error = exc
        finally:
            self.figures.record(len(batch), time.perf_counter() - t0, waited)
            for req in batch:
                req.done.set()

    def warmup(self, height: int, width: int, sizes: range | None = None) -> None:
        """Run every batch size once (backends that compile per shape do it now, not mid-stream)."""
        recurrent = bool(getattr(self.engine.card, "recurrent", None))  # it takes its state too
        for n in sizes or range(1, self.max_batch + 1):
            if recurrent:
                self.engine.infer(*example_inputs(self.engine.card, n, height, width))
            else:
                self.engine.infer(np.zeros((n, height, width, 3), np.uint8))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            leftover = [r for q in self._pending.values() for r in q]
            self._pending.clear()
            for req in leftover:
                req.error = StageError(f"batching engine '{self.name}' closed")
                req.done.set()
            self._cond.notify_all()


class SerialEngine:
    """The unbatched way to share an engine: one call per frame, one call at a time."""

    def __init__(self, engine: Any, name: str | None = None) -> None:
        self.engine = engine
        self.card = engine.card
        self.backend = str(getattr(engine, "backend", "?"))
        self.precision = str(getattr(engine, "precision", "?"))
        self.name = name or str(self.card.name)
        self.max_batch = 1
        self.figures = EngineFigures()
        self._lock = threading.Lock()

    def attach(self, stream_id: str, fps: float) -> None:
        pass

    def detach(self, stream_id: str) -> None:
        pass

    def infer_one(self, stream_id: str, pixels: Inputs, interval_s: float = 0.0) -> Pixels:
        t_submit = time.perf_counter()
        with self._lock:
            t0 = time.perf_counter()
            out = self.engine.infer(*_stack([pixels]))
            self.figures.record(1, time.perf_counter() - t0, t0 - t_submit)
        result: Pixels = out[0]
        return result

    def close(self) -> None:
        pass


class SharedEnhanceStage:
    """An sr / restore stage whose engine is shared with other streams (batched or serial).

    `depth` frames of this stream may be in the engine at once (batching engines only). Live
    streams use 1: each frame leaves as soon as its batch is done. Files use 2: while one batch
    runs, the next one fills with every stream's following frame, so the engine never waits for
    a batch to form; the cost is one frame held back, which only matters live.
    Closing the stage detaches the stream; the engine itself belongs to its pool.
    """

    def __init__(
        self,
        engine: FrameEngine,
        stream_id: str,
        fps: float = 0.0,
        name: str | None = None,
        depth: int = 1,
        residual_gain: bool = True,
        temporal_blend: bool = True,
    ) -> None:
        card = engine.card
        if card.task not in ("sr", "restore"):
            raise StageError(f"model '{card.name}' is a {card.task} model; an enhance stage needs sr or restore")
        self.engine = engine
        self.stream_id = stream_id
        self.scale = int(card.scale)
        self.name = name or str(card.task)
        self.label = f"{card.name} {engine.backend} {engine.precision} shared"
        self._fps = fps
        self._interval_s = 1.0 / fps if fps > 0 else 0.0
        # Each camera keeps its own memory of a recurrent model; the next frame needs this one's
        # output, so nothing of a recurrent stream is left in flight (depth 1).
        self.memory = memory_for(engine)
        pipelined = depth > 1 and self.memory is None
        self._batcher = engine if isinstance(engine, BatchingEngine) and pipelined else None
        self.depth = depth if self._batcher is not None else 1
        self._inflight: deque[tuple[Frame, _Request]] = deque()
        engine.attach(stream_id, fps)
        # Each camera measures its own residual strength (see ganstream.engines.residual_gain).
        self._previous: Pixels | None = None  # the memory this frame ran with (recurrent restore models)
        self.gain = residual_gain_for(engine, self._run_for_strength, residual_gain)
        # Each camera its own temporal filter of the input (restore models).
        self.blend = blend_for(engine, self.memory, temporal_blend)

    def _run_for_strength(self, pixels: Pixels) -> Pixels:
        inputs = tuple(x[0] for x in strength_inputs(self.engine, pixels, self._previous))
        return self.engine.infer_one(self.stream_id, inputs if len(inputs) > 1 else inputs[0], self._interval_s)

    def _finish(self, frame: Frame, out: Pixels) -> Frame:
        if self.gain is not None:
            out = self.gain.apply(frame.pixels, out)
        return frame.with_pixels(out)

    def configure(self, spec: VideoSpec) -> VideoSpec:
        limits = getattr(self.engine.card, "limits", None)
        problem = limits.check(spec.height, spec.width) if limits is not None else None
        if problem:
            raise StageError(f"camera '{self.stream_id}': model '{self.engine.card.name}': {problem}")
        if self._fps <= 0 and spec.fps > 0:
            self._interval_s = float(1 / spec.fps)
            self.engine.attach(self.stream_id, float(spec.fps))
        if self.gain is not None:
            self.gain.reset()
        if self.memory is not None:
            self.memory.reset("size change")
        if self.blend is not None:
            self.blend.reset("size change")
        return spec.with_size(spec.width * self.scale, spec.height * self.scale)

    def process(self, frame: Frame) -> list[Frame]:
        if self.blend is not None:
            frame = self.blend.filter(frame)  # the model, its strength and the output see the filtered frame
        interval = self._interval_s or (frame.duration / 1e9 if frame.duration > 0 else 0.0)
        if self.memory is not None:
            self._previous = self.memory.previous_for(frame, self.blend.last_flow if self.blend else None)
            out = self.engine.infer_one(self.stream_id, (frame.pixels, self._previous), interval)
            self.memory.update(out)
            if self.gain is not None:
                self.gain.observe(frame.pixels, out)
            return [self._finish(frame, out)]
        if self.gain is not None:
            self.gain.observe(frame.pixels)  # before the frame is in flight: pipelined outputs come later
        if self._batcher is None:
            return [self._finish(frame, self.engine.infer_one(self.stream_id, frame.pixels, interval))]
        self._inflight.append((frame, self._batcher.submit(self.stream_id, frame.pixels, interval)))
        return self._collect(self.depth - 1)

    def _collect(self, keep: int) -> list[Frame]:
        assert self._batcher is not None
        out = []
        while len(self._inflight) > keep:
            frame, req = self._inflight.popleft()
            out.append(self._finish(frame, self._batcher.wait(req)))
        return out

    def flush(self) -> list[Frame]:
        return self._collect(0) if self._batcher is not None else []

    def summary_line(self) -> str:
        blend = self.blend.summary() if self.blend is not None else ""
        return "\n".join(line for line in (memory_summary(self.memory), strength_summary(self.gain), blend) if line)

    def close(self) -> None:
        self.engine.detach(self.stream_id)
