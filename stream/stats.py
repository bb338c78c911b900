"""Run statistics: frame counts, drops, per-stage time and the latency ganstream adds."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LATENCY_WINDOW = 10_000  # most recent frames kept for percentiles; bounded for 24/7 runs


@dataclass
class RunStats:
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_calls: dict[str, int] = field(default_factory=dict)
    stage_labels: dict[str, str] = field(default_factory=dict)
    latencies_ns: deque[int] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    source: str = ""
    sink: str = ""
    input_spec: str = ""
    output_spec: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_stage_time(self, name: str, seconds: float) -> None:
        with self._lock:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + seconds
            self.stage_calls[name] = self.stage_calls.get(name, 0) + 1

    def add_latency(self, ns: int) -> None:
        with self._lock:
            self.latencies_ns.append(ns)

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def fps_out(self) -> float:
        return self.frames_out / self.elapsed if self.elapsed > 0 else 0.0

    def stage_ms(self) -> dict[str, float]:
        with self._lock:
            return {k: 1000.0 * v / max(1, self.stage_calls[k]) for k, v in self.stage_seconds.items()}

    def latency_ms(self, q: float) -> float | None:
        with self._lock:
            if not self.latencies_ns:
                return None
            return float(np.percentile(np.fromiter(self.latencies_ns, dtype=np.int64), q)) / 1e6

    def summary(self) -> str:
        lines = [
            f"frames in {self.frames_in}, out {self.frames_out}, dropped {self.dropped} "
            f"in {self.elapsed:.2f} s ({self.fps_out:.1f} fps out)",
        ]
        if self.source or self.sink:
            lines.append(f"  {self.source} {self.input_spec} -> {self.sink} {self.output_spec}".rstrip())
        for name, ms in self.stage_ms().items():
            label = self.stage_labels.get(name, "")
            lines.append(f"  stage {name}{f' [{label}]' if label else ''}: {ms:.2f} ms/frame")
        p50, p95 = self.latency_ms(50), self.latency_ms(95)
        if p50 is not None and p95 is not None:
            lines.append(f"  added latency (bridge entry -> exit): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "dropped": self.dropped,
            "seconds": round(self.elapsed, 3),
            "fps_out": round(self.fps_out, 2),
            "stage_ms": {k: round(v, 3) for k, v in self.stage_ms().items()},
            "latency_p50_ms": self.latency_ms(50),
            "latency_p95_ms": self.latency_ms(95),
        }


def tile_fields(st: RunStats, health: dict[str, Any]) -> dict[str, Any]:
    """The fields a camera's status shows from one source run's stats and health record."""
    return {
        "reconnects": health["reconnects"],
        "stalls": health["stalls"],
        "decoder_errors": health["decoder_errors"],
        "latency_p50_ms": st.latency_ms(50),
        "latency_p95_ms": st.latency_ms(95),
        "input": st.input_spec,
        "output": st.output_spec,
        "last_error": health["last_error"],
    }
