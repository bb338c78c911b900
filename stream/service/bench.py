"""`ganstream bench serve`: cross-stream batching against one engine call per frame, in one run.

For 1, 4, 8 and 16 test sources (different patterns, 320x180) through one shared sr engine:

- throughput: every source runs as fast as it can (no pacing, nothing dropped, as for files:
  two frames per camera in flight when batched); aggregate frames/s of all cameras together,
  batched and per-frame;
- latency: live sources at a rate both modes sustain (60 % of the per-frame throughput, shared
  out, at most 15 fps per camera); p95 of the latency each camera's frames see from the
  bridge's entry to its exit (queueing, batch wait and inference), worst camera, in frame
  intervals of that rate.

Both modes share one loaded engine; the per-frame mode calls it once per frame, one call at a
time (as cameras sharing an engine without batching must).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ganstream.stream.batching import BatchingEngine, SerialEngine, SharedEnhanceStage
from ganstream.stream.pipeline import Pipeline, RunOptions

PATTERNS = ("ball", "smpte", "snow", "checkers-8", "circular", "zone-plate", "gamut", "spokes")
WIDTH, HEIGHT = 320, 180


@dataclass(frozen=True)
class ServeResult:
    streams: int
    batched_fps: float
    serial_fps: float
    batched_p95_ms: float
    serial_p95_ms: float
    live_fps: float
    mean_batch: float

    @property
    def ratio(self) -> float:
        return self.batched_fps / self.serial_fps if self.serial_fps else 0.0

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.live_fps


def _run_cameras(shared: Any, n: int, frames: int, live: bool, fps: float) -> tuple[float, float, int]:
    """(aggregate frames/s, worst camera's latency p95 in ms, frames out) of n cameras on one shared engine."""
    rate = f"{fps:g}" if live else "30"
    pipes = []
    for i in range(n):
        src = f"test:{PATTERNS[i % len(PATTERNS)]}?width={WIDTH}&height={HEIGHT}&fps={rate}&frames={frames}"
        if live:
            src += "&live=1"
        stage = SharedEnhanceStage(shared, f"cam{i}", fps=float(rate), depth=1 if live else 2)
        pipes.append(Pipeline(src, [stage], sink=lambda _f: None, options=RunOptions(realtime=live)))
    errors: list[BaseException] = []

    def run(p: Pipeline) -> None:
        try:
            p.run(timeout=600)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in pipes]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in pipes:  # a loaded machine can leave a worker finishing its last frame after run() returned
        worker = getattr(p, "_worker", None)
        if worker is not None:
            worker.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    out = sum(p.stats.frames_out for p in pipes)
    p95 = max((p.stats.latency_ms(95) or 0.0) for p in pipes)
    return out / wall, p95, out


class LockedEngine:
    """The engine, one call at a time: warm-up calls must never overlap a straggling frame."""

    def __init__(self, engine: Any) -> None:
        self.inner = engine
        self.card = engine.card
        self.backend = engine.backend
        self.precision = engine.precision
        self._lock = threading.Lock()

    def infer(self, *inputs: Any) -> Any:
        with self._lock:
            return self.inner.infer(*inputs)


def bench_serve(
    engine: Any,
    streams: list[int],
    frames: int = 24,
    load: float = 0.6,
    live_seconds: float = 4.0,
    on_result: Callable[[ServeResult], object] | None = None,
) -> list[ServeResult]:
    """`load`: the live phase runs each camera at this fraction of its share of per-frame throughput."""
    results = []
    engine = LockedEngine(engine)
    serial = SerialEngine(engine)
    for n in streams:
        batched = BatchingEngine(engine, max_batch=min(n, 16))
        try:
            batched.warmup(HEIGHT, WIDTH)  # compile every batch size before timing
            b_fps, _, _ = _run_cameras(batched, n, frames, live=False, fps=30)
            s_fps, _, _ = _run_cameras(serial, n, frames, live=False, fps=30)
            live_fps = round(min(15.0, load * s_fps / n), 1)
            live_frames = max(8, round(live_fps * live_seconds))
            _, b_p95, _ = _run_cameras(batched, n, live_frames, live=True, fps=live_fps)
            _, s_p95, _ = _run_cameras(serial, n, live_frames, live=True, fps=live_fps)
            results.append(ServeResult(n, b_fps, s_fps, b_p95, s_p95, live_fps, batched.figures.mean_batch))
            if on_result is not None:
                on_result(results[-1])
        finally:
            batched.close()
    return results


HEADER = (
    "| streams | per-frame calls (fps) | batched (fps) | ratio | mean batch | live rate | "
    "p95 per-frame (ms) | p95 batched (ms) | p95 batched / frame interval |\n"
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def format_row(r: ServeResult) -> str:
    return (
        f"| {r.streams} | {r.serial_fps:.1f} | {r.batched_fps:.1f} | {r.ratio:.2f} | {r.mean_batch:.1f} "
        f"| {r.live_fps:g} fps | {r.serial_p95_ms:.0f} | {r.batched_p95_ms:.0f} "
        f"| {r.batched_p95_ms / r.interval_ms:.2f} |"
    )


def format_results(results: list[ServeResult]) -> str:
    return "\n".join([HEADER, *(format_row(r) for r in results)])


def open_bench_engine(model: str, backend: str = "auto") -> tuple[Any, str]:
    """The named model, or (when it is not installed) a random tiny sr2x made in a temp store."""
    import tempfile
    from pathlib import Path

    from ganstream.engines import load_engine
    from ganstream.engines.errors import ModelNotFoundError

    try:
        return load_engine(model, backend=backend), ""
    except ModelNotFoundError:
        from ganstream.engines.devmodel import make_random_model

        folder = Path(tempfile.mkdtemp(prefix="ganstream-bench-")) / "tiny-sr2x"
        make_random_model(folder)
        return load_engine(folder, backend=backend), f" ({model} not installed: random-weight tiny-sr2x)"


def engine_batch_gain(engine: Any, n: int = 8, repeats: int = 3) -> tuple[float, float]:
    """(ms per frame in n single calls, ms per frame in one call of n): the engine alone, the ceiling."""
    import numpy as np

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (n, HEIGHT, WIDTH, 3), dtype=np.uint8)
    engine.infer(frames[:1])
    engine.infer(frames)
    single, batched = [], []
    for _ in range(repeats):  # interleaved, best of each: the machine's other load hits both alike
        t0 = time.perf_counter()
        for i in range(n):
            engine.infer(frames[i : i + 1])
        single.append((time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        engine.infer(frames)
        batched.append((time.perf_counter() - t0) / n)
    return 1000 * min(single), 1000 * min(batched)


@dataclass(frozen=True)
class ModelsResult:
    """Aggregate frames/s of n cameras through each model, as `serve` runs it (batched, shared)."""

    streams: int
    fps: dict[str, float]


def bench_serve_models(
    engines: dict[str, Any],
    streams: list[int],
    frames: int = 24,
    repeats: int = 2,
    on_result: Callable[[ModelsResult], object] | None = None,
) -> list[ModelsResult]:
    """Throughput of each engine's model across n cameras, the way `serve` runs it: a batching
    engine shared by the cameras, pipelined where the model allows (recurrent models are not:
    each frame needs the previous output), each camera's measured strength on. Models run
    interleaved, `repeats` times, the best kept, so the machine's other load hits all alike."""
    results = []
    for n in streams:
        best = dict.fromkeys(engines, 0.0)
        for _ in range(repeats):
            for name, engine in engines.items():
                batched = BatchingEngine(LockedEngine(engine), max_batch=min(n, 16))
                try:
                    batched.warmup(HEIGHT, WIDTH)
                    fps, _, _ = _run_cameras(batched, n, frames, live=False, fps=30)
                finally:
                    batched.close()
                best[name] = max(best[name], fps)
        results.append(ModelsResult(n, best))
        if on_result is not None:
            on_result(results[-1])
    return results


def models_header(names: list[str]) -> str:
    base = names[0]
    cols = " | ".join(f"{n} (fps)" for n in names)
    ratios = " | ".join(f"{n} / {base}" for n in names[1:])
    aligns = " | ".join("---:" for _ in range(1 + len(names) + len(names) - 1))
    return f"| streams | {cols} | {ratios} |\n| {aligns} |"


def format_models_row(r: ModelsResult) -> str:
    names = list(r.fps)
    base = r.fps[names[0]]
    cols = " | ".join(f"{r.fps[n]:.1f}" for n in names)
    ratios = " | ".join(f"{r.fps[n] / base:.2f}" if base else "-" for n in names[1:])
    return f"| {r.streams} | {cols} | {ratios} |"
