"""A camera's outputs: one GStreamer pipeline ``appsrc ! tee`` feeding every output it asked for.

Branches: the RTSP restream (intervideosink -> a mount on the service's one RTSP server),
rolling recording (``ganstream.stream.recording``), one file, a v4l2 device. The pipeline
outlives reconnections of the camera's source, so files keep growing and the restream keeps
its clients across a gap; timestamps stay monotonic (each source run is shifted to follow the
last frame written). End-of-stream at shutdown finalises every file.

Audio (an RTSP camera that sends it, `audio = true`): the camera's decoded audio arrives from
its source pipeline (``ganstream.stream.audio``) and goes through a second appsrc and tee into
the restream, the recording and the file, shifted like the video and released in step with it.
Whether the outputs get an audio track is settled before they start (muxers take no new track
later): the first frames wait until the source has listed its streams (at most 2 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Any

from ganstream.stream.audio import AudioDecision, AudioTrack, audio_encoder
from ganstream.stream.errors import SinkError
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.frameio import buffer_from_pixels, caps_for
from ganstream.stream.gst import make, modules, parse_bin
from ganstream.stream.recording import RecordingBranch, RecordingPolicy
from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.sinks import file_muxer, file_sink, x264_options
from ganstream.stream.uri import redact

log = logging.getLogger(__name__)


def restream_launch(channel: str, fps: Fraction, audio: bool = False) -> str:
    launch = (
        f"intervideosrc channel={channel} ! videoconvert ! videorate ! "
        f"video/x-raw,format=I420,framerate={fps.numerator}/{fps.denominator} ! "
        f"x264enc {x264_options(True, float(fps))} ! rtph264pay name=pay0 pt=96 config-interval=1"
    )
    if audio:
        launch += (
            f" interaudiosrc channel={channel}-audio ! audioconvert ! audioresample ! opusenc"
            " ! rtpopuspay name=pay1 pt=97"
        )
    return f"( {launch} )"


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
        audio: bool = False,
    ) -> None:
        self.camera = camera
        self.audio = audio  # carry the camera's audio when it sends some
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
        self._audio_listed: bool | None = None  # what the latest connection said
        self._decision = AudioDecision(audio)
        self._track: AudioTrack | None = None
        self._audio_early: deque[tuple[int, bytes]] = deque(maxlen=500)  # source time, before the run's first frame
        self._held: list[tuple[Frame, Fraction]] = []  # frames waiting for the audio decision
        self._file_mux: Any = None

    @property
    def wanted(self) -> bool:
        return bool(self.restream or self.recording_policy or self.file or self.v4l2)

    # -- frames -------------------------------------------------------------------------
    def new_run(self) -> None:
        """The source (re)started: its timestamps restart from zero, ours continue."""
        with self._lock:
            self._run_start = None
            self._audio_early.clear()

    # -- audio (AudioConsumer; the source's streaming threads) ---------------------------
    def audio_streams(self, present: bool) -> None:
        with self._lock:
            self._audio_listed = present
            self._decision.streams(present)

    def audio_chunk(self, pts: int, data: bytes) -> None:
        with self._lock:
            if self._pipeline is None or self._run_start is None:
                self._audio_early.append((pts, data))
            elif self._track is not None:
                self._track.add(self._offset + pts - self._run_start, data)

    def push(self, frame: Frame, fps: Fraction) -> None:
        with self._lock:
            if self._pipeline is None and self.wanted and not self._decision.settled():
                self._held.append((frame, fps))
                return
            held, self._held = self._held, []
        for f, r in held:
            self._push(f, r)
        self._push(frame, fps)

    def _push(self, frame: Frame, fps: Fraction) -> None:
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
            appsrc, track = self._appsrc, self._track
            if track is not None:
                for p, data in self._audio_early:
                    track.add(self._offset + p - self._run_start, data)
            self._audio_early.clear()
        Gst = modules()[0]
        ret = appsrc.emit("push-buffer", buffer_from_pixels(frame.pixels, pts, duration))
        if ret not in (Gst.FlowReturn.OK, Gst.FlowReturn.FLUSHING):
            log.debug("camera '%s': output push returned %s", self.camera, ret)
        if track is not None:
            track.video(pts, pts + duration)  # audio up to this frame's end, never ahead of it

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
            launch = restream_launch(channel, fps, audio=bool(self._decision.present))
            self.restream_url = self.restream.mount(self._mount, launch)
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
        if self._decision.present:
            self._track = self._audio_branches(pipe)
        self._pipeline, self._appsrc = pipe, appsrc
        self._eos.clear()
        if pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise SinkError(f"camera '{self.camera}': cannot start its outputs")
        self._watch_stop = threading.Event()
        self._watch = threading.Thread(
            target=self._watch_bus, args=(pipe, self._watch_stop), name=f"out-bus-{self.camera}", daemon=True
        )
        self._watch.start()

    def _audio_branches(self, pipe: Any) -> AudioTrack:
        """appsrc ! tee into the restream, the recording and the file (v4l2 takes no audio)."""
        track = AudioTrack(pipe, self.live, "out-audio-src")
        tee = make("tee", "out-audio-tee")
        pipe.add(tee)
        track.appsrc.link(tee)
        queue = "queue max-size-time=5000000000 max-size-buffers=0 max-size-bytes=0 ! audioconvert ! audioresample"
        if self._mount is not None:
            channel = f"ganstream-{self.camera}-{id(self):x}-audio"
            self._link_audio(pipe, tee, parse_bin(f"{queue} ! interaudiosink channel={channel}"), None)
        if self.recording is not None:
            enc = parse_bin(f"{queue} ! {audio_encoder(self.recording.policy.container)}")
            self._link_audio(pipe, tee, enc, self.recording.audio_pad())
        if self._file_mux is not None:
            container = "mp4" if Path(self.file).suffix.lower() == ".mp4" else "mkv"
            self._link_audio(pipe, tee, parse_bin(f"{queue} ! {audio_encoder(container)}"), self._file_mux)
        return track

    def _link_audio(self, pipe: Any, tee: Any, branch: Any, into: Any) -> None:
        Gst = modules()[0]
        pipe.add(branch)
        if into is None:
            linked = tee.link(branch)
        elif isinstance(into, Gst.Pad):  # splitmuxsink's requested audio pad
            linked = tee.link(branch) and branch.get_static_pad("src").link(into) == Gst.PadLinkReturn.OK
        else:
            linked = tee.link(branch) and branch.link(into)
        if not linked:
            raise SinkError(f"camera '{self.camera}': cannot link an audio output branch")

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
        self._file_mux = mux
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
        if self._track is not None:
            self._track.end()  # cut or padded to the video's end
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
        self._track = self._file_mux = None
        self.spec = None
        self._decision = AudioDecision(self.audio)  # the next outputs decide again
        if self._audio_listed is not None:
            self._decision.streams(self._audio_listed)
