"""Stall detection that tells a silent source ("stalled") from downstream back-pressure ("blocked").

The source side calls `on_buffer()` for each frame and wraps its hand-off downstream in
`pushing()`. While a hand-off is in progress the silence is downstream's doing (a slow sink or
engine holding the queue), so the verdict is "blocked" and the supervisor leaves the source alone;
only silence with nothing in flight, for longer than the timeout, is "stalled".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum


class Verdict(StrEnum):
    OK = "ok"
    STALLED = "stalled"
    BLOCKED = "blocked"


class StallDetector:
    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_activity = clock()
        self._push_started: float | None = None

    def reset(self) -> None:
        """A new connection attempt starts the silence count from now."""
        with self._lock:
            self._last_activity = self._clock()
            self._push_started = None

    def on_buffer(self) -> None:
        with self._lock:
            self._last_activity = self._clock()

    @contextmanager
    def pushing(self) -> Iterator[None]:
        with self._lock:
            self._push_started = self._clock()
        try:
            yield
        finally:
            with self._lock:
                self._push_started = None
                self._last_activity = self._clock()

    def silence_s(self) -> float:
        with self._lock:
            return self._clock() - self._last_activity

    def check(self) -> Verdict:
        with self._lock:
            now = self._clock()
            if self._push_started is not None:
                return Verdict.BLOCKED if now - self._push_started > self.timeout_s else Verdict.OK
            return Verdict.STALLED if now - self._last_activity > self.timeout_s else Verdict.OK
