"""Health of a running process: a status per source and for the process, as plain data.

`SourceHealth` is one source's state machine record (connecting, streaming, stalled, backoff,
ended), counters the supervisor keeps (reconnects, decoder errors) and the last error, always
with credentials redacted. `ProcessHealth` groups the sources of one process; the status file,
the health endpoint and the metrics all read from it. No global state: a multi-camera service
makes one `SourceHealth` per camera.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from ganstream.stream.stats import RunStats
from ganstream.stream.uri import redact

log = logging.getLogger(__name__)


class SourceState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    BACKOFF = "backoff"
    ENDED = "ended"


class SourceHealth:
    """Thread-safe status of one source; every text it holds is redacted on the way in."""

    def __init__(self, name: str, source: str, stats: RunStats | None = None) -> None:
        self.name = redact(name)
        self.source = redact(source)
        self.stats = stats or RunStats()
        self.reconnects = 0
        self.decoder_errors = 0
        self.stalls = 0
        self.last_error = ""
        self.next_attempt_s: float | None = None  # seconds until the next connection attempt (backoff)
        self._state = SourceState.CONNECTING
        self._since = time.monotonic()
        self._lock = threading.Lock()

    @property
    def state(self) -> SourceState:
        return self._state

    def set_state(self, state: SourceState, error: str | None = None) -> None:
        with self._lock:
            if state != self._state:
                log.info("source %s: %s -> %s", self.name, self._state.value, state.value)
                self._state = state
                self._since = time.monotonic()
            if error is not None:
                self.last_error = redact(error)

    def count_reconnect(self) -> None:
        with self._lock:
            self.reconnects += 1

    def count_decoder_error(self, message: str = "frames lost to decode errors or missing data") -> None:
        with self._lock:
            self.decoder_errors += 1
            self.last_error = redact(message)

    def count_stall(self) -> None:
        with self._lock:
            self.stalls += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "name": self.name,
                "source": self.source,
                "state": self._state.value,
                "state_seconds": round(time.monotonic() - self._since, 3),
                "frames_in": self.stats.frames_in,
                "frames_out": self.stats.frames_out,
                "dropped": self.stats.dropped,
                "reconnects": self.reconnects,
                "stalls": self.stalls,
                "decoder_errors": self.decoder_errors,
                "last_error": self.last_error,
            }


class ProcessHealth:
    """The process's status ("starting", "running", "stopping", "stopped") and its sources."""

    def __init__(self) -> None:
        self.sources: dict[str, SourceHealth] = {}
        self.state = "starting"
        self.started = time.monotonic()

    def add(self, source: SourceHealth) -> SourceHealth:
        self.sources[source.name] = source
        return source

    @property
    def healthy(self) -> bool:
        """Running with every source streaming (or ended cleanly)."""
        ok = (SourceState.STREAMING, SourceState.ENDED)
        return self.state == "running" and all(s.state in ok for s in self.sources.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "degraded",
            "process": {"state": self.state, "pid": os.getpid(), "uptime_s": round(time.monotonic() - self.started, 3)},
            "sources": [s.as_dict() for s in self.sources.values()],
        }


class StatusFileWriter:
    """Rewrites a JSON status file every `interval` seconds (atomically: temp file + rename)."""

    def __init__(self, path: Path, health: ProcessHealth, interval: float = 1.0) -> None:
        self.path = path
        self.health = health
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ganstream-status-file", daemon=True)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.write()
        self._thread.start()

    def write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.health.as_dict(), indent=2) + "\n")
        os.replace(tmp, self.path)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write()
            except OSError as exc:  # a full disk must not stop the video
                log.warning("cannot write the status file %s: %s", self.path, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self.write()
