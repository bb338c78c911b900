"""A camera's outputs: one GStreamer pipeline ``appsrc ! tee`` feeding every output it asked for.

Branches: the RTSP restream (intervideosink -> a mount on the service's one RTSP server),
rolling recording (``ganstream.stream.recording``), one file, a v4l2 device. The pipeline
outlives reconnections of the camera's source, so files keep growing and the restream keeps
its clients across a gap; timestamps stay monotonic (each source run is shifted to follow the
last frame written). End-of-stream at shutdown finalises every file.
"""

from __future__ import annotations

import logging
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from ganstream.stream.errors import SinkError
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.frameio import buffer_from_pixels, caps_for
from ganstream.stream.gst import make, modules, parse_bin
from ganstream.stream.recording import RecordingBranch, RecordingPolicy
from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.sinks import file_muxer, file_sink, x264_options
from ganstream.stream.uri import redact

log = logging.getLogger(__name__)


def restream_launch(channel: str, fps: Fraction) -> str:
    return (
        f"( intervideosrc channel={channel} ! videoconvert ! videorate ! "
        f"video/x-raw,format=I420,framerate={fps.numerator}/{fps.denominator} ! "
        f"x264enc {x264_options(True, float(fps))} ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


class CameraOutputs:
    """Built at the first processed frame (its size is known then); `end()` finalises everything."""

    def __init__(
        self,
        camera: str,
        *,
        restream: RtspServer | None = None,
        recording: RecordingPolicy | None = None,
        file: str = "",
        v4l2: str = "",
        live: bool = True,
    ) -> None:
        self.camera = camera
        self.restream = restream
        self.recording_policy = recording
        self.file = file
        self.v4l2 = v4l2
        self.live = live
        self.spec: VideoSpec | None = None
        self.recording: RecordingBranch | None = None
        self.error: BaseException | None = None
        self.restream_url: str | None = None
        self._pipeline: Any = None
        self._appsrc: Any = None
        self._mount: str | None = None
        self._offset = 0  # added to every pts so a new source run continues after the last frame
        self._next_pts = 0
        self._run_start: int | None = None
        self._eos = threading.Event()
        self._lock = threading.Lock()
        self._watch: threading.Thread | None = None
        self._watch_stop = threading.Event()

    @property
    def wanted(self) -> bool:
        return bool(self.restream or self.recording_policy or self.file or self.v4l2)

    # -- frames -------------------------------------------------------------------------
    def new_run(self) -> None:
        """The source (re)started: its timestamps restart from zero, ours continue."""
        with self._lock:
            self._run_start = None

    def push(self, frame: Frame, fps: Fraction) -> None:
        spec = VideoSpec(frame.width, frame.height, fps)
        with self._lock:
            if self.spec is not None and (spec.width, spec.height) != (self.spec.width, self.spec.height):
                log.info(
                    "camera '%s': output size changed to %dx%d; reopening outputs",
                    self.camera,
                    *frame.pixels.shape[1::-1],
                )
                self._finish(timeout=5.0)
            if self._pipeline is None:
                if not self.wanted:
                    return
                self._build(spec)
            if self._run_start is None:
                self._run_start = max(frame.pts, 0)
                self._offset = self._next_pts
            pts = self._offset + max(frame.pts, 0) - self._run_start
            duration = frame.duration if frame.duration > 0 else spec.frame_duration_ns
            self._next_pts = max(self._next_pts, pts + duration)
            appsrc = self._appsrc
        Gst = modules()[0]
        ret = appsrc.emit("push-buffer", buffer_from_pixels(frame.pixels, pts, duration))
        if ret not in (Gst.FlowReturn.OK, Gst.FlowReturn.FLUSHING):
            log.debug("camera '%s': output push returned %s", self.camera, ret)

    # -- construction -------------------------------------------------------------------
    def _build(self, spec: VideoSpec) -> None:
        Gst = modules()[0]
        self.spec = spec
        fps = spec.fps if spec.fps > 0 else Fraction(30)
        pipe = Gst.Pipeline.new(f"out-{self.camera}")
        appsrc = make("appsrc", "out-src", format=Gst.Format.TIME, is_live=self.live, do_timestamp=False, block=True)
        appsrc.set_property("max-buffers", 4)
        appsrc.set_caps(caps_for(spec))
        tee = make("tee", "out-tee")
        pipe.add(appsrc)
        pipe.add(tee)
        appsrc.link(tee)
        branches: list[Any] = []
        if self.restream is not None:
            channel = f"ganstream-{self.camera}-{id(self):x}"
            branches.append(parse_bin(f"queue leaky=downstream max-size-buffers=2 ! intervideosink channel={channel}"))
            self._mount = f"/{self.camera}"
            self.restream.unmount(self._mount)
            self.restream_url = self.restream.mount(self._mount, restream_launch(channel, fps))
        if self.recording_policy is not None:
            self.recording = RecordingBranch(self.camera, self.recording_policy, float(fps))
            branches.append(self.recording.build(pipe))
        if self.file:
            branches.append(self._file_branch(pipe, float(fps)))
        if self.v4l2:
            branches.append(
                parse_bin(f"queue ! videoconvert ! video/x-raw,format=YUY2 ! v4l2sink device={self.v4l2} sync=false")
            )
        for b in branches:
            if b.get_parent() is None:
                pipe.add(b)
            if not tee.link(b):
                raise SinkError(f"camera '{self.camera}': cannot link an output branch")
        self._pipeline, self._appsrc = pipe, appsrc
        self._eos.clear()
        if pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise SinkError(f"camera '{self.camera}': cannot start its outputs")
        self._watch_stop = threading.Event()
        self._watch = threading.Thread(
            target=self._watch_bus, args=(pipe, self._watch_stop), name=f"out-bus-{self.camera}", daemon=True
        )
        self._watch.start()

    def _file_branch(self, pipe: Any, fps: float) -> Any:
        path = Path(self.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        branch = parse_bin(
            "queue max-size-buffers=30 ! videoconvert ! video/x-raw,format=I420 ! "
            f"x264enc {x264_options(False, fps)} ! h264parse"
        )
        mux = file_muxer("mp4" if path.suffix.lower() == ".mp4" else "mkv")
        sink = file_sink(str(path))
        for element in (branch, mux, sink):
            pipe.add(element)
        if not (branch.link(mux) and mux.link(sink)):
            raise SinkError(f"camera '{self.camera}': cannot link the file output {path.name}")
        return branch

    def _watch_bus(self, pipe: Any, stop: threading.Event) -> None:
        Gst = modules()[0]
        bus = pipe.get_bus()
        mask = Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.ELEMENT
        while not stop.is_set():
            msg = bus.timed_pop_filtered(200 * Gst.MSECOND, mask)
            if msg is None:
                continue
            if msg.type == Gst.MessageType.EOS:
                self._eos.set()
                return
            if msg.type == Gst.MessageType.ERROR:
                err, _ = msg.parse_error()
                self.error = SinkError(f"camera '{self.camera}': output {msg.src.get_name()}: {redact(err.message)}")
                log.warning("%s", self.error)
                self._eos.set()
                return
            st = msg.get_structure()
            if st is not None and st.get_name() == "splitmuxsink-fragment-closed" and self.recording is not None:
                self.recording.apply_retention()

    # -- ending -------------------------------------------------------------------------
    def end(self, timeout: float = 10.0) -> None:
        """End-of-stream through every branch (files finalised), then tear down."""
        with self._lock:
            self._finish(timeout)

    def _finish(self, timeout: float) -> None:
        Gst = modules()[0]
        pipe = self._pipeline
        if pipe is None:
            return
        self._appsrc.emit("end-of-stream")
        deadline = time.monotonic() + timeout
        while not self._eos.wait(0.1):
            if time.monotonic() > deadline:
                log.warning("camera '%s': outputs did not finalise within %.0f s", self.camera, timeout)
                break
        self._watch_stop.set()
        pipe.set_state(Gst.State.NULL)
        if self._watch is not None:
            self._watch.join(timeout=2)
        if self._mount is not None and self.restream is not None:
            self.restream.unmount(self._mount)
        if self.recording is not None:
            self.recording.apply_retention()
        self._pipeline = self._appsrc = None
        self._mount = None
        self.spec = None
