"""Runs an ordered list of stages (restore -> sr -> interpolate), timing each one."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages.base import Stage
from ganstream.stream.stats import RunStats


class StageChain:
    def __init__(self, stages: Sequence[Stage], stats: RunStats | None = None) -> None:
        self.stages = list(stages)
        self.stats = stats or RunStats()
        for s in self.stages:
            # What ran (model, backend, precision) is shown beside each stage in the summary.
            self.stats.stage_labels[s.name] = str(getattr(s, "label", ""))
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"StageChain: stage names must be unique, got {names}")

    def configure(self, spec: VideoSpec) -> VideoSpec:
        for stage in self.stages:
            spec = stage.configure(spec)
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        return self._run_from(0, [frame])

    def flush(self) -> list[Frame]:
        """End of stream: each stage's held-back frames still pass through the stages after it."""
        out: list[Frame] = []
        for i, stage in enumerate(self.stages):
            out = self._run_from(i + 1, [*out, *stage.flush()])
        return out

    def _run_from(self, start: int, frames: list[Frame]) -> list[Frame]:
        for stage in self.stages[start:]:
            produced: list[Frame] = []
            for frame in frames:
                t0 = time.perf_counter()
                result = stage.process(frame)
                self.stats.add_stage_time(stage.name, time.perf_counter() - t0)
                for r in result:
                    # Frames a stage creates (interpolated ones) inherit the entry time of the frame
                    # that released them, so added latency is measured for every output frame.
                    r.meta.setdefault("t_enter", frame.meta.get("t_enter"))
                produced.extend(result)
            frames = produced
        return frames

    def close(self) -> None:
        for stage in self.stages:
            stage.close()
