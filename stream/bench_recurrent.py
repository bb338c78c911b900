"""`ganstream bench recurrent`: what a recurrent model costs per frame against its single-frame model.

The recurrent model runs as `ganstream run` runs it (an `EnhanceStage`: the DIS flow, the warp
and the fold of its previous output included; SR with the residual gain; restore with the
temporal filter of its input), the single-frame model bare (no blend), on the same frames of
the sample clip at 320x180 (restore: with Gaussian noise of sigma 15 added, the blend's case),
in interleaved rounds so a busy machine slows both alike.
The figure the temporal models are held to: the ratio, and real time at 25 fps (40 ms/frame).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from ganstream.engines import load_engine
from ganstream.engines.calib import consecutive_frames, default_clip
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages.enhance import EnhanceStage

SIZE = (320, 180)  # input width, height
REALTIME_MS = 40.0  # 25 fps
PAIRS = (("sr2x", "vsr2x"), ("restore", "vrestore"))
NOISE_SIGMA = 15.0  # the restore pair's input: the sample clip with Gaussian noise


@dataclass(frozen=True)
class PairResult:
    single: str
    recurrent: str
    single_ms: float
    recurrent_ms: float
    backend: str
    # each round's own ratio: on a shared machine their spread says how far the median can be trusted
    round_ratios: tuple[float, ...] = ()

    @property
    def ratio(self) -> float:
        return self.recurrent_ms / self.single_ms


def _frames(count: int) -> list[np.ndarray]:
    clip = default_clip()
    if clip is None:
        raise SystemExit("ganstream bench recurrent: the sample clip is not installed")
    return consecutive_frames(clip, count, SIZE)  # consecutive frames: the flow sees real motion


def _round(stage: EnhanceStage, frames: list[np.ndarray]) -> float:
    """Mean ms per frame over one pass of `frames` as one stream."""
    stage.configure(VideoSpec(SIZE[0], SIZE[1]))
    t0 = time.perf_counter()
    for i, f in enumerate(frames):
        stage.process(Frame(f, pts=i * 40_000_000, duration=40_000_000, seq=i))
    return 1000 * (time.perf_counter() - t0) / len(frames)


def bench_pair(single: str, recurrent: str, backend: str, frames: list[np.ndarray], rounds: int) -> PairResult:
    stages = [
        EnhanceStage(load_engine(single, backend=backend), temporal_blend=False),
        EnhanceStage(load_engine(recurrent, backend=backend)),
    ]
    try:
        for s in stages:  # compile and warm up, not timed
            _round(s, frames[:3])
        times: list[list[float]] = [[], []]
        for _ in range(rounds):
            for i, s in enumerate(stages):
                times[i].append(_round(s, frames))
        used = f"{stages[1].engine.backend} {stages[1].engine.precision}"
        per_round = tuple(r / s for s, r in zip(times[0], times[1], strict=True))
        return PairResult(single, recurrent, statistics.median(times[0]), statistics.median(times[1]), used, per_round)
    finally:
        for s in stages:
            s.close()


def bench_recurrent(backend: str = "auto", count: int = 30, rounds: int = 3) -> list[PairResult]:
    from ganstream.stream.stage_factory import installed_models

    have = installed_models()
    frames = _frames(count)
    # Restore models run on a noisy camera's frames: the temporal filter only works (and costs) there.
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, NOISE_SIGMA, f.shape), 0, 255).astype(np.uint8) for f in frames]
    return [
        bench_pair(a, b, backend, noisy if a == "restore" else frames, rounds)
        for a, b in PAIRS
        if a in have and b in have
    ]


def format_results(results: list[PairResult]) -> str:
    lines = [
        f"per frame at {SIZE[0]}x{SIZE[1]} input, flow included (median of interleaved rounds):",
        "| single-frame | ms | recurrent | ms | ratio | ratio per round, lowest - highest | real time at 25 fps |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rt = "yes" if r.recurrent_ms <= REALTIME_MS else "no"
        spread = f"{min(r.round_ratios):.2f}x - {max(r.round_ratios):.2f}x" if r.round_ratios else "-"
        lines.append(
            f"| {r.single} | {r.single_ms:.1f} | {r.recurrent} ({r.backend}) | {r.recurrent_ms:.1f} | "
            f"{r.ratio:.2f}x | {spread} | {rt} |"
        )
    return "\n".join(lines)
