"""`InterpolateStage`: raises the frame rate by making in-between frames from a two-frame window.

Each source frame goes out unchanged. When a new source frame arrives, the stage emits the
in-between frames that fall between it and the previous one (their times follow from the two
timestamps and the output clock), then the new frame itself. So every in-between frame waits
for the next source frame: the added latency is one source frame interval plus the synthesis
time (`added_latency_ms` in `report()`).

Two modes: an integer `factor` (25 -> 50 fps) or a `target_fps` (25 -> 60 fps: an output clock
anchored at the first frame; a source frame goes out where a clock tick meets it, every other
tick is interpolated). Scene cuts and static frames never reach the synthesizer (see
`interp_rules`). At end of stream the last source frame is repeated over its own duration so the
output lasts as long as the input at the new constant rate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, Pixels, VideoSpec
from ganstream.stream.stages.interp_rules import (
    MAX_GAP_SOURCE_INTERVALS,
    SCENE_CUT_THRESHOLD,
    STATIC_THRESHOLD,
    OutputTime,
    RateGrid,
    factor_times,
    grid_times,
    is_scene_cut,
    is_static,
    nearest_frame_choice,
    thumbnail,
)
from ganstream.stream.stages.interp_synth import (
    CLASSICAL_FLOW_SYNTHS,
    FlowSynth,
    NetSynth,
    classical_flow_synth,
)

log = logging.getLogger(__name__)

__all__ = [
    "CLASSICAL_FLOW_SYNTHS",
    "BlendSynth",
    "FlowSynth",
    "InterpolateStage",
    "NetSynth",
    "Synthesizer",
    "classical_flow_synth",
    "synth_for_engine",
]


@runtime_checkable
class Synthesizer(Protocol):
    """Makes the frames at timesteps `ts` (each in (0, 1)) between two RGB frames of one size."""

    name: str

    def synthesize(self, frame0: Pixels, frame1: Pixels, ts: Sequence[float]) -> list[Pixels]: ...

    def close(self) -> None: ...


class BlendSynth:
    """Linear cross-fade, the permanent baseline (``--model blend``): no motion at all."""

    name = "blend"

    def synthesize(self, frame0: Pixels, frame1: Pixels, ts: Sequence[float]) -> list[Pixels]:
        a, b = frame0.astype(np.float32), frame1.astype(np.float32)
        return [np.clip((1.0 - t) * a + t * b + 0.5, 0, 255).astype(np.uint8) for t in ts]

    def close(self) -> None:
        pass


def synth_for_engine(engine: Any) -> Synthesizer:
    """The synthesizer that runs an installed interp model (its card's task must be interp)."""
    return NetSynth(engine)


class InterpolateStage:
    """Frame-rate conversion around a `Synthesizer` (see the module docstring)."""

    def __init__(
        self,
        synth: Synthesizer,
        factor: int | None = None,
        target_fps: Fraction | None = None,
        scene_cut: float = SCENE_CUT_THRESHOLD,
        static: float = STATIC_THRESHOLD,
        name: str = "interpolate",
    ) -> None:
        if (factor is None) == (target_fps is None):
            raise StageError("interpolate: give either an integer factor or a target fps, not both or neither")
        if factor is not None and (not isinstance(factor, int) or factor < 2):
            raise StageError(f"interpolate: factor must be an integer >= 2, got {factor!r}")
        if target_fps is not None and Fraction(target_fps) <= 0:
            raise StageError(f"interpolate: target fps must be positive, got {target_fps}")
        self.synth = synth
        self.factor = factor
        self.target_fps = Fraction(target_fps) if target_fps is not None else None
        self.scene_cut = scene_cut
        self.static = static
        self.name = name
        self.label = f"interpolate {synth.name}"
        self._source_interval = 0
        self._grid: RateGrid | None = None
        self._prev: Frame | None = None
        self._prev_thumb: np.ndarray | None = None
        self.counts = {"source": 0, "interpolated": 0, "scene_cut": 0, "static": 0, "gap": 0, "repeated": 0}
        self._synth_seconds = 0.0
        self._synth_calls = 0

    # -- Stage protocol ----------------------------------------------------------------------
    def configure(self, spec: VideoSpec) -> VideoSpec:
        self._source_interval = spec.frame_duration_ns
        self._prev = None
        self._prev_thumb = None
        self._grid = None
        if self.target_fps is not None:
            return spec.with_fps(self.target_fps)
        assert self.factor is not None
        return spec.with_fps(spec.fps * self.factor)

    def process(self, frame: Frame) -> list[Frame]:
        thumb = thumbnail(frame.pixels)
        prev, prev_thumb = self._prev, self._prev_thumb
        self._prev, self._prev_thumb = frame, thumb
        self.counts["source"] += 1
        if prev is None or prev_thumb is None or frame.pts <= prev.pts or prev.pixels.shape != frame.pixels.shape:
            if prev is not None:
                log.info("interpolate: discontinuity at pts %d (time went back or size changed); restarting", frame.pts)
            return self._start(frame)
        if self._grid is not None:
            times, on_frame = grid_times(self._grid, prev.pts, frame.pts)
            if self._is_gap(prev.pts, frame.pts):
                times = []
            out = self._between(prev, frame, prev_thumb, thumb, times)
            if on_frame is not None:
                out.append(_retimed(frame, self._grid.duration(on_frame)))
            return out
        assert self.factor is not None
        times = factor_times(prev.pts, frame.pts, self.factor, self._source_interval)
        out = self._between(prev, frame, prev_thumb, thumb, times)
        out.append(_retimed(frame, self._factor_step(frame)))
        return out

    def flush(self) -> list[Frame]:
        """Repeat the last source frame over its own duration (output keeps the input's length)."""
        last, self._prev, self._prev_thumb = self._prev, None, None
        if last is None:
            return []
        duration = last.duration or self._source_interval
        if duration <= 0:
            return []
        end = last.pts + duration
        if self._grid is not None:
            times, _ = grid_times(self._grid, last.pts, end)
        else:
            assert self.factor is not None
            times = factor_times(last.pts, end, self.factor, self._source_interval)
        self.counts["repeated"] += len(times)
        return [_made(last, last.pixels, o, repeat=True) for o in times]

    def close(self) -> None:
        self.synth.close()

    # -- reporting -----------------------------------------------------------------------------
    @property
    def synth_ms(self) -> float:
        """Mean synthesis time per source frame pair that was interpolated."""
        return 1000.0 * self._synth_seconds / self._synth_calls if self._synth_calls else 0.0

    @property
    def added_latency_ms(self) -> float:
        """What this stage adds to a frame's latency: one source interval plus the synthesis time."""
        return self._source_interval / 1e6 + self.synth_ms

    def report(self) -> dict[str, Any]:
        return {
            "model": self.synth.name,
            "mode": f"x{self.factor}" if self.factor else f"{float(self.target_fps or 0):g} fps",
            "added_latency_ms": round(self.added_latency_ms, 2),
            "synth_ms_per_pair": round(self.synth_ms, 2),
            **self.counts,
        }

    def summary_line(self) -> str:
        """One line for the run summary: the latency this stage adds and what it did."""
        c = self.counts
        return (
            f"  interpolate {self.synth.name} {self.report()['mode']}: added latency {self.added_latency_ms:.1f} ms "
            f"(one source interval {self._source_interval / 1e6:.1f} ms + synthesis {self.synth_ms:.1f} ms); "
            f"{c['interpolated']} made, {c['scene_cut']} scene cuts and {c['static']} static pairs duplicated"
        )

    # -- internals -----------------------------------------------------------------------------
    def _start(self, frame: Frame) -> list[Frame]:
        """First frame (or after a discontinuity): it goes out at once, and anchors the clock."""
        if self.target_fps is not None:
            self._grid = RateGrid(self.target_fps, frame.pts)
            return [_retimed(frame, self._grid.duration(0))]
        return [_retimed(frame, self._factor_step(frame))]

    def _factor_step(self, frame: Frame) -> int:
        assert self.factor is not None
        interval = self._source_interval or frame.duration
        return max(0, round(interval / self.factor))

    def _is_gap(self, pts0: int, pts1: int) -> bool:
        return self._source_interval > 0 and pts1 - pts0 > MAX_GAP_SOURCE_INTERVALS * self._source_interval

    def _between(
        self, f0: Frame, f1: Frame, thumb0: np.ndarray, thumb1: np.ndarray, times: list[OutputTime]
    ) -> list[Frame]:
        if not times:
            if f1.pts - f0.pts > 0 and self._is_gap(f0.pts, f1.pts):
                self.counts["gap"] += 1
            return []
        if is_scene_cut(thumb0, thumb1, self.scene_cut):
            self.counts["scene_cut"] += 1
            picks = nearest_frame_choice([o.t for o in times])
            return [_made(f0, (f0, f1)[p].pixels, o, repeat=True) for o, p in zip(times, picks, strict=True)]
        if is_static(thumb0, thumb1, self.static):
            self.counts["static"] += 1
            return [_made(f0, f0.pixels, o, repeat=True) for o in times]
        t0 = time.perf_counter()
        made = self.synth.synthesize(f0.pixels, f1.pixels, [o.t for o in times])
        self._synth_seconds += time.perf_counter() - t0
        self._synth_calls += 1
        if len(made) != len(times):
            raise StageError(f"interpolate: model {self.synth.name!r} returned {len(made)} frames for {len(times)}")
        self.counts["interpolated"] += len(made)
        return [_made(f0, px, o, repeat=False) for o, px in zip(times, made, strict=True)]


def _retimed(frame: Frame, duration: int) -> Frame:
    """The source frame itself, unchanged pixels, with its duration at the output rate."""
    return Frame(frame.pixels, frame.pts, duration, frame.seq, frame.source_id, dict(frame.meta))


def _made(ref: Frame, pixels: Pixels, o: OutputTime, repeat: bool) -> Frame:
    meta = {"interpolated": not repeat, "repeat": repeat, "t": o.t}
    return Frame(pixels, o.pts, o.duration, ref.seq, ref.source_id, meta)
