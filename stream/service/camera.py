"""One camera of the service: a supervised `Pipeline` (source -> chain) feeding its outputs.

RTSP sources reconnect inside the pipeline (``ganstream.stream.source_supervisor``: backoff,
stall detection that tells a silent camera from back-pressure, decoder errors counted), so one
pipeline run lasts across network losses. Around that, the camera's thread restarts whatever
else ends or fails (a file or device source, a model that cannot load, a source that gave up),
with the same backoff policy (``ganstream.stream.reconnect``), forever, until the camera is
stopped; sources without their own supervisor get a stall watchdog here. The camera's status
and counters live in one `SourceHealth` that outlives the runs, so the API and metrics see one
record per camera. Nothing a camera does can stop another: each has its own GStreamer pipelines
and threads, and the shared parts (the engines' dispatchers, the RTSP server) hand errors back
to the camera that caused them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from fractions import Fraction
from typing import Any

from ganstream.stream.frame import Frame
from ganstream.stream.health import SourceHealth, SourceState
from ganstream.stream.pipeline import Pipeline, RunOptions
from ganstream.stream.reconnect import Backoff, ReconnectOptions
from ganstream.stream.recording import RecordingPolicy
from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.service.config import CameraSettings
from ganstream.stream.service.engines import EnginePool, build_camera_stages
from ganstream.stream.service.outputs import CameraOutputs
from ganstream.stream.service.web.preview import CameraPreview
from ganstream.stream.stats import RunStats, tile_fields
from ganstream.stream.uri import parse_source, redact

log = logging.getLogger(__name__)

FPS_WINDOW_S = 5.0


class Camera:
    """Status (`health.state`): connecting, streaming, stalled, backoff, ended."""

    def __init__(
        self,
        settings: CameraSettings,
        pool: EnginePool,
        *,
        restream: RtspServer | None = None,
        recording: RecordingPolicy | None = None,
        reconnect: ReconnectOptions | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.pool = pool
        self.reconnect = reconnect or ReconnectOptions()
        self.health = SourceHealth(settings.name, settings.source)
        out = settings.outputs
        self.outputs = CameraOutputs(
            self.name,
            restream=restream if out.restream else None,
            recording=recording if out.record else None,
            file=out.file,
            v4l2=out.v4l2,
            live=parse_source(settings.source).is_live,
            audio=settings.audio,
        )
        # Web view taps around the stages; they cost nothing until someone watches.
        self.preview = CameraPreview(self.name)
        self.stopped = False
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

    @property
    def status(self) -> str:
        return "stopped" if self.stopped else self.health.state.value

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
        self.stopped = True

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

    def totals(self) -> tuple[int, int, int]:
        """Frames in, out and dropped over every run of this camera."""
        st = self.stats
        fin, fout, drop = self._totals
        return fin + st.frames_in, fout + st.frames_out, drop + st.dropped

    def snapshot(self) -> dict[str, Any]:
        st = self.stats
        h = self.health.as_dict()
        fin, fout, drop = self.totals()
        return {
            "name": self.name,
            "source": redact(self.settings.source),
            "status": self.status,
            "fps": round(self.fps(), 2),
            "frames_in": fin,
            "frames_out": fout,
            "dropped": drop,
            **tile_fields(st, h),
            "restream": self.outputs.restream_url,
            "recording": str(self.outputs.recording.current) if self.outputs.recording else None,
        }

    # -- running ------------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        now = time.monotonic()
        self._last_frame = now
        self._times.append(now)
        if self.health.state != SourceState.STREAMING:
            self.health.set_state(SourceState.STREAMING)
        fps = self._fps
        if fps == 0 and frame.duration > 0:
            fps = Fraction(1_000_000_000, frame.duration).limit_denominator(1001)
        self.outputs.push(frame, fps)

    def _supervise(self) -> None:
        backoff = Backoff(self.reconnect)
        while not self._stop.is_set():
            self.health.set_state(SourceState.CONNECTING)
            ok = self._run_once()
            if self._stop.is_set():
                break
            if ok:
                backoff.reset()
            delay = backoff.next_delay()
            self.health.next_attempt_s = delay
            self.health.set_state(SourceState.BACKOFF if not ok else SourceState.ENDED)
            log.info("camera '%s': restarting in %.1f s", self.name, delay)
            if self._stop.wait(delay):
                break
            self.health.count_reconnect()

    def _run_once(self) -> bool:
        """One source run; True when it streamed frames before ending."""
        stages: list[Any] = []
        try:
            stages = self.preview.wrap(build_camera_stages(self.settings, self.pool))
            pipe = Pipeline(
                self.settings.source,
                stages,
                sink=self._on_frame,
                audio=self.outputs if self.settings.audio else None,
                options=RunOptions(
                    realtime=self.settings.realtime,
                    audio=self.settings.audio,
                    stop_timeout_s=5.0,
                    reconnect=self.reconnect,
                    name=self.name,
                ),
            )
        except Exception as exc:
            for s in stages:
                s.close()
            self._fail(exc)
            return False
        # One health record per camera across runs: the pipeline (and its RTSP supervisor) report into it.
        pipe.health = self.health
        self.health.stats = pipe.stats
        self.stats = pipe.stats
        self._run_failed = False
        self.outputs.new_run()
        self._pipeline = pipe
        self._last_frame = time.monotonic()
        if not pipe.supervised:  # RTSP sources have the supervisor's stall detection
            threading.Thread(target=self._watch_stall, args=(pipe,), daemon=True).start()
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
            timeout = self.reconnect.stall_timeout_s
            if time.monotonic() - self._last_frame > timeout:
                self._run_failed = True
                self.health.count_stall()
                self.health.set_state(SourceState.STALLED, error=f"no frames for {timeout:g} s (stalled)")
                log.warning("camera '%s': stalled; restarting its source", self.name)
                pipe.stop()
                return

    def _fail(self, exc: BaseException) -> None:
        self._run_failed = True
        self.health.last_error = redact(str(exc))
        log.warning("camera '%s': %s", self.name, self.health.last_error)
