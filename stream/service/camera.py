"""One camera of the service: a supervised `Pipeline` (source -> chain) feeding its outputs.

The camera's thread runs its pipeline; when the source fails (bad URI, decoder error), ends, or
stalls (no frame for `stall_timeout_s`), it waits with exponential backoff and starts it again,
forever, until the camera is stopped. Nothing it does can stop another camera: each has its own
GStreamer pipelines and threads, and the only shared parts (the engines' dispatchers, the RTSP
server) hand errors back to the camera that caused them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from fractions import Fraction
from typing import Any

from ganstream.stream.frame import Frame
from ganstream.stream.pipeline import Pipeline, RunOptions
from ganstream.stream.recording import RecordingPolicy
from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.service.config import CameraSettings
from ganstream.stream.service.engines import EnginePool, build_camera_stages
from ganstream.stream.service.outputs import CameraOutputs
from ganstream.stream.stats import RunStats
from ganstream.stream.uri import parse_source, redact

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
FPS_WINDOW_S = 5.0


class Camera:
    """Status: starting, streaming, stalled, backoff, ended, stopped."""

    def __init__(
        self,
        settings: CameraSettings,
        pool: EnginePool,
        *,
        restream: RtspServer | None = None,
        recording: RecordingPolicy | None = None,
        stall_timeout_s: float = 10.0,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.pool = pool
        self.stall_timeout_s = stall_timeout_s
        self.backoff_s = backoff_s
        out = settings.outputs
        self.outputs = CameraOutputs(
            self.name,
            restream=restream if out.restream else None,
            recording=recording if out.record else None,
            file=out.file,
            v4l2=out.v4l2,
            live=parse_source(settings.source).is_live,
        )
        self.status = "starting"
        self.last_error = ""
        self.restarts = 0
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        self.stats = RunStats()  # of the current source run
        self.started_at = time.time()
        self._times: deque[float] = deque(maxlen=4096)
        self._last_frame = 0.0
        self._stop = threading.Event()
        self._pipeline: Pipeline | None = None
        self._thread = threading.Thread(target=self._supervise, name=f"camera-{self.name}", daemon=True)
        self._fps = Fraction(settings.fps).limit_denominator(1001) if settings.fps > 0 else Fraction(0)
        self._totals = (0, 0, 0)  # frames in/out/dropped of finished runs
        self._run_failed = False

    # -- control ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the source and finalise every output (files playable)."""
        self._stop.set()
        pipe = self._pipeline
        if pipe is not None:
            pipe.stop()
        self._thread.join(timeout)
        self.outputs.end()
        self.status = "stopped"

    def restart(self) -> None:
        """Restart the source now (outputs stay open)."""
        pipe = self._pipeline
        if pipe is not None:
            pipe.stop()

    # -- figures ------------------------------------------------------------------------
    def fps(self) -> float:
        now = time.monotonic()
        times = [t for t in list(self._times) if now - t <= FPS_WINDOW_S]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def snapshot(self) -> dict[str, Any]:
        st = self.stats
        fin, fout, drop = self._totals
        return {
            "name": self.name,
            "source": redact(self.settings.source),
            "status": self.status,
            "fps": round(self.fps(), 2),
            "frames_in": fin + st.frames_in,
            "frames_out": fout + st.frames_out,
            "dropped": drop + st.dropped,
            "restarts": self.restarts,
            "latency_p50_ms": st.latency_ms(50),
            "latency_p95_ms": st.latency_ms(95),
            "input": st.input_spec,
            "output": st.output_spec,
            "restream": self.outputs.restream_url,
            "recording": str(self.outputs.recording.current) if self.outputs.recording else None,
            "last_error": self.last_error,
        }

    # -- running ------------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        now = time.monotonic()
        self._last_frame = now
        self._times.append(now)
        if self.status != "streaming":
            self.status = "streaming"
        fps = self._fps
        if fps == 0 and frame.duration > 0:
            fps = Fraction(1_000_000_000, frame.duration).limit_denominator(1001)
        self.outputs.push(frame, fps)

    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self.status = "starting"
            ok = self._run_once()
            if self._stop.is_set():
                break
            failures = 0 if ok else failures + 1
            delay = self.backoff_s[min(failures, len(self.backoff_s) - 1)] if failures else self.backoff_s[0]
            delay *= random.uniform(0.8, 1.2)  # jitter: cameras behind one switch don't retry in step
            self.status = "backoff" if not ok else "ended"
            self.restarts += 1
            log.info("camera '%s': restarting in %.1f s", self.name, delay)
            self._stop.wait(delay)

    def _run_once(self) -> bool:
        """One source run; True when it streamed frames before ending."""
        stages: list[Any] = []
        try:
            stages = build_camera_stages(self.settings, self.pool)
            pipe = Pipeline(
                self.settings.source,
                stages,
                sink=self._on_frame,
                options=RunOptions(realtime=self.settings.realtime, audio=False, stop_timeout_s=5.0),
            )
        except Exception as exc:
            for s in stages:
                s.close()
            self._fail(exc)
            return False
        self.stats = pipe.stats
        self._run_failed = False
        self.outputs.new_run()
        self._pipeline = pipe
        self._last_frame = time.monotonic()
        watchdog = threading.Thread(target=self._watch_stall, args=(pipe,), daemon=True)
        watchdog.start()
        streamed = False
        try:
            pipe.run()
            streamed = pipe.stats.frames_out > 0
        except Exception as exc:
            streamed = pipe.stats.frames_out > 0
            self._fail(exc)
        finally:
            self._pipeline = None
            st = pipe.stats
            fin, fout, drop = self._totals
            self._totals = (fin + st.frames_in, fout + st.frames_out, drop + st.dropped)
            self.stats = RunStats()
        if self.outputs.error is not None:
            self._fail(self.outputs.error)
        return streamed and not self._run_failed

    def _watch_stall(self, pipe: Pipeline) -> None:
        while self._pipeline is pipe and not self._stop.is_set():
            time.sleep(0.2)
            if time.monotonic() - self._last_frame > self.stall_timeout_s:
                self.status = "stalled"
                self._run_failed = True
                self.last_error = f"no frame for {self.stall_timeout_s:g} s"
                log.warning("camera '%s': stalled (%s); restarting its source", self.name, self.last_error)
                pipe.stop()
                return

    def _fail(self, exc: BaseException) -> None:
        self._run_failed = True
        self.last_error = redact(str(exc))
        log.warning("camera '%s': %s", self.name, self.last_error)
