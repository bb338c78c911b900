"""`Service`: every camera of a config in one process, sharing engines and one RTSP server."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from ganstream.stream.errors import ConfigError
from ganstream.stream.health import ProcessHealth
from ganstream.stream.reconnect import ReconnectOptions
from ganstream.stream.recording import RecordingPolicy
from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.service.camera import Camera
from ganstream.stream.service.config import CameraSettings, ServiceSettings
from ganstream.stream.service.engines import EnginePool
from ganstream.stream.sharding import Shard

log = logging.getLogger(__name__)


class CameraExistsError(ConfigError):
    """A camera of that name is already running."""


class CameraNotFoundError(ConfigError, LookupError):
    """No camera of that name."""


def prime_bindings() -> None:
    """Resolve the GStreamer bindings every camera thread uses, once, in this thread.

    PyGObject resolves introspected functions lazily on first use, and doing that from several
    streaming threads at once can crash the process; one short run here resolves them first.
    """
    import numpy as np

    from ganstream.stream.frame import VideoSpec
    from ganstream.stream.frameio import buffer_from_pixels, caps_for, spec_from_caps
    from ganstream.stream.pipeline import Pipeline, RunOptions

    spec_from_caps(caps_for(VideoSpec(64, 64)))
    buffer_from_pixels(np.zeros((64, 64, 3), np.uint8), 0, 1)
    Pipeline("test:ball?frames=2&width=64&height=64", [], sink=lambda _f: None, options=RunOptions()).run(timeout=10)


class Service:
    def __init__(self, settings: ServiceSettings, shard: Shard | None = None, stall_timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.shard = shard or Shard(settings.shard.index, settings.shard.count)
        self.reconnect = ReconnectOptions(stall_timeout_s=stall_timeout_s)
        self.health = ProcessHealth()  # one SourceHealth per running camera
        self.pool = EnginePool(settings.engine, settings.batching)
        rec = settings.recording
        self.recording = RecordingPolicy(
            Path(rec.directory),
            segment_s=rec.segment_minutes * 60.0,
            container=rec.container,
            keep=rec.keep_segments,
            max_bytes=int(rec.max_total_mb * 1024 * 1024),
        )
        self.rtsp: RtspServer | None = None
        self.cameras: dict[str, Camera] = {}
        self._lock = threading.Lock()
        self.ready = False

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        prime_bindings()
        rs = self.settings.restream
        creds = (rs.user, rs.password) if rs.user else None
        self.rtsp = RtspServer(rs.host, rs.port, credentials=creds)
        self.rtsp.start()
        for cam in self.settings.cameras:
            if cam.enabled and self.shard.owns(cam.name):
                self._start_camera(cam)
        skipped = [c.name for c in self.settings.cameras if c.enabled and not self.shard.owns(c.name)]
        if skipped:
            log.info("shard %s: %d camera(s) belong to other shards", self.shard, len(skipped))
        self.ready = True
        self.health.state = "running"

    def stop(self) -> None:
        self.ready = False
        self.health.state = "stopping"
        with self._lock:
            cams = list(self.cameras.values())
            self.cameras.clear()
        threads = [threading.Thread(target=c.stop, daemon=True) for c in cams]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.pool.close()
        if self.rtsp is not None:
            self.rtsp.stop()
        self.health.state = "stopped"

    # -- cameras ------------------------------------------------------------------------
    def _start_camera(self, cam: CameraSettings) -> Camera:
        camera = Camera(
            cam,
            self.pool,
            restream=self.rtsp,
            recording=self.recording,
            reconnect=self.reconnect,
        )
        with self._lock:
            if cam.name in self.cameras:
                raise CameraExistsError(f"camera {cam.name!r} already exists")
            self.cameras[cam.name] = camera
            self.health.add(camera.health)
        camera.start()
        log.info("camera '%s' started", cam.name)
        return camera

    def add_camera(self, cam: CameraSettings) -> Camera:
        with self._lock:
            if cam.name in self.cameras:
                raise CameraExistsError(f"camera {cam.name!r} already exists")
        return self._start_camera(cam)

    def remove_camera(self, name: str) -> None:
        with self._lock:
            camera = self.cameras.pop(name, None)
            self.health.sources.pop(name, None)
        if camera is None:
            raise CameraNotFoundError(f"no camera named {name!r}")
        camera.stop()
        log.info("camera '%s' removed", name)

    def restart_camera(self, name: str) -> None:
        camera = self.cameras.get(name)
        if camera is None:
            raise CameraNotFoundError(f"no camera named {name!r}")
        camera.restart()

    # -- figures ------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            cams = list(self.cameras.values())
        return [c.snapshot() for c in cams]

    def health_report(self) -> dict[str, Any]:
        """The process's health (every camera's state) plus a count of cameras per state."""
        report = self.health.as_dict()
        counts: dict[str, int] = {}
        for c in self.snapshot():
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        return {**report, "shard": str(self.shard), "cameras": counts}
