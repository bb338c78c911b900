"""Progress reporting: a tqdm bar for files, a periodic one-line status for live sources."""

from __future__ import annotations

import sys
import threading
from typing import Any

from tqdm import tqdm

from ganstream.stream.stats import RunStats


class FileProgress:
    """frames done / total, fps and ETA (tqdm computes the last two)."""

    def __init__(self, total: int | None, desc: str = "frames") -> None:
        self._bar: Any = tqdm(total=total, unit="frame", desc=desc, dynamic_ncols=True, file=sys.stderr, leave=True)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


class LiveStatus:
    """Prints a status line every `interval` seconds until closed."""

    def __init__(self, stats: RunStats, interval: float = 5.0) -> None:
        self.stats = stats
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ganstream-status", daemon=True)
        self._thread.start()

    def update(self, n: int) -> None:
        pass  # the stats object is read directly

    def line(self) -> str:
        s = self.stats
        p95 = s.latency_ms(95)
        lat = f", latency p95 {p95:.0f} ms" if p95 is not None else ""
        return f"[live] in {s.frames_in}, out {s.frames_out}, dropped {s.dropped}, {s.fps_out:.1f} fps{lat}"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            print(self.line(), file=sys.stderr, flush=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
