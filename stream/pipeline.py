"""`Pipeline`: one source -> stages -> one sink, as a library.

    from ganstream.stream import Pipeline
    from ganstream.stream.stages import ResampleStage

    stats = Pipeline("in.mp4", [ResampleStage(2)], "out.mp4").run()
    for frame in Pipeline("test:ball?frames=30", [ResampleStage(2)], sink=None).frames():
        ...  # numpy pixels with frame.pts

The GStreamer pipeline is: source -> decode -> videoconvert(RGB) -> appsink | Python worker |
appsrc -> encode -> mux/sink, with the source's audio going straight to the sink's muxer so
it stays in sync with the video's carried-through timestamps.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ganstream.stream.audio import AudioConsumer, AudioDecision, AudioTrack
from ganstream.stream.bridge import AppsrcOutput, CallbackOutput, InputTap, Output, QueueItem, Worker
from ganstream.stream.chain import StageChain
from ganstream.stream.errors import PipelineError, SourceError
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.frame_queue import FrameQueue
from ganstream.stream.gst import make, modules, namespace, parse_bin
from ganstream.stream.health import SourceHealth, SourceState
from ganstream.stream.profiles import get_profile
from ganstream.stream.reconnect import ReconnectOptions
from ganstream.stream.secrets import Credentials
from ganstream.stream.sinks import SinkBranch
from ganstream.stream.source_supervisor import SourceSupervisor, is_decoder
from ganstream.stream.sources import SourceBranch, SourceOptions
from ganstream.stream.stages.base import Stage
from ganstream.stream.stats import RunStats
from ganstream.stream.uri import SinkSpec, SourceSpec, parse_sink, parse_source, redact

log = logging.getLogger(__name__)

FrameCallback = Callable[[Frame], object]


@dataclass(frozen=True)
class RunOptions:
    realtime: bool | None = None  # None: realtime for live sources, not for files
    low_latency: bool = False
    audio: bool = True
    lossless: bool = False
    queue_size: int | None = None  # frames waiting before the stages; default 1 (low latency), 2 or 4
    stop_timeout_s: float = 10.0  # how long a stop waits for sinks to finalise
    profile: str = "cpu"  # platform element choices (ganstream.stream.profiles)
    source: SourceOptions = field(default_factory=SourceOptions)
    # RTSP sources run under a supervisor that reconnects them (see docs/reliability.md)
    reconnect: ReconnectOptions = field(default_factory=ReconnectOptions)
    restream_credentials: Credentials | None = None  # basic auth on the RTSP restream
    name: str | None = None  # the source's label in status and metrics (default: the redacted URI)


class _SinkOutput:
    """AppsrcOutput that also tells the sink branch the output format (RTSP mounts need it).

    With `audio` (a supervised source, whose audio arrives from another pipeline) it is also the
    source's `AudioConsumer`: frames are held until the source has said whether it sends audio,
    so the audio track is added before the muxer starts, then fed in step with the frames.
    """

    def __init__(self, appsrc: Any, sink: SinkBranch, audio: AudioDecision | None = None, pipeline: Any = None) -> None:
        self._inner = AppsrcOutput(appsrc)
        self._sink = sink
        self._decision = audio
        self._pipeline = pipeline
        self._track: AudioTrack | None = None
        self._early: deque[tuple[int, bytes]] = deque(maxlen=500)  # audio before the track exists
        self._held: list[Frame | VideoSpec] = []
        self._open = audio is None
        self._lock = threading.Lock()

    # -- AudioConsumer (the source's streaming threads) ------------------------------------
    def audio_streams(self, present: bool) -> None:
        if self._decision is not None:
            self._decision.streams(present)

    def audio_chunk(self, pts: int, data: bytes) -> None:
        with self._lock:
            if self._track is not None:
                self._track.add(pts, data)
            elif not self._open:
                self._early.append((pts, data))

    # -- Output (the worker) --------------------------------------------------------------
    def set_spec(self, spec: VideoSpec) -> None:
        if not self._ready():
            self._held.append(spec)
            return
        self._sink.set_spec(spec)
        self._inner.set_spec(spec)

    def push(self, frame: Frame) -> None:
        if not self._ready():
            self._held.append(frame)
            return
        self._inner.push(frame)
        if self._track is not None and frame.pts >= 0:
            self._track.video(frame.pts, frame.pts + frame.duration)

    def end(self) -> None:
        if self._decision is not None and self._decision.present is None:
            self._decision.present = False
        self._ready()
        if self._track is not None:
            self._track.end()
        self._inner.end()

    def _ready(self) -> bool:
        if self._open:
            return True
        assert self._decision is not None
        if not self._decision.settled():
            return False
        with self._lock:
            if self._decision.present:
                track = AudioTrack(self._pipeline, live=True)
                self._sink.attach_audio(track.pad)
                track.appsrc.sync_state_with_parent()
                for pts, data in self._early:
                    track.add(pts, data)
                self._track = track
            self._early.clear()
            self._open = True
        held, self._held = self._held, []
        for item in held:
            if isinstance(item, VideoSpec):
                self.set_spec(item)
            else:
                self.push(item)
        return True

    @property
    def takes_audio(self) -> bool:
        return self._decision is not None and self._decision.present is not False


def _no_async_preroll(_bin: Any, _sub: Any, element: Any) -> None:
    GstBase = _gst_base()
    if isinstance(element, GstBase.BaseSink) and element.get_name() != "bridge-sink":
        element.set_property("async", False)


def _gst_base() -> Any:
    return namespace("GstBase")


class Pipeline:
    """Runs frames from `source` through `stages` into `sink`.

    `sink` is a sink string (see ``ganstream.stream.uri``), a `SinkSpec`, a callable that
    receives each processed Frame, or None to iterate with `frames()`. With a callable sink,
    `audio` receives a reconnecting (RTSP) source's decoded audio, on the frames' timeline.
    """

    def __init__(
        self,
        source: str | SourceSpec,
        stages: Sequence[Stage] = (),
        sink: str | SinkSpec | FrameCallback | None = "null",
        options: RunOptions | None = None,
        on_progress: Callable[[int], None] | None = None,
        audio: AudioConsumer | None = None,
    ) -> None:
        self.options = options or RunOptions()
        self.audio = audio
        self.source_spec = parse_source(source) if isinstance(source, str) else source
        self.callback: FrameCallback | None = None
        self.sink_spec: SinkSpec | None = None
        if callable(sink):
            self.callback = sink
        elif isinstance(sink, str):
            self.sink_spec = parse_sink(sink, lossless=self.options.lossless)
        else:
            self.sink_spec = sink
        self.stats = RunStats(source=str(self.source_spec), sink=str(self.sink_spec or "python"))
        self.chain = StageChain(stages, self.stats)
        self.on_progress = on_progress
        self.realtime = self.options.realtime if self.options.realtime is not None else self.source_spec.is_live
        self.source = SourceBranch(self.source_spec, self.options.source)
        self.health = SourceHealth(self.options.name or str(self.source_spec), str(self.source_spec), self.stats)
        # A live RTSP source gets its own pipeline, rebuilt on loss while the output keeps running.
        self.supervised = self.source_spec.kind == "rtsp" and self.options.reconnect.enabled
        self._supervisor: SourceSupervisor | None = None
        self.sink: SinkBranch | None = None
        self._pipeline: Any = None
        self._worker: Worker | None = None
        self._queue: FrameQueue[QueueItem] | None = None
        self._stop_requested = threading.Event()
        self._stop_deadline: float | None = None
        self._errors: list[BaseException] = []

    # -- public ---------------------------------------------------------------------------
    @property
    def sink_url(self) -> str | None:
        """Where the RTSP restream can be read (rtsp sinks only)."""
        return self.sink.url if self.sink else None

    def expected_frames(self) -> int | None:
        return self.source.expected_frames()

    def run(self, timeout: float | None = None) -> RunStats:
        """Run to the end of the source (or `stop()`); returns the statistics. Raises on errors."""
        self._start()
        try:
            self._wait(timeout)
        finally:
            self._teardown()
        if self._errors:
            raise self._errors[0]
        return self.stats

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """Run in the background and yield each processed frame (needs sink=None)."""
        if self.sink_spec is not None or self.callback is not None:
            raise ValueError("Pipeline.frames: construct the pipeline with sink=None to iterate over frames")
        out: queue.Queue[Frame | None] = queue.Queue(maxsize=8)

        def put(frame: Frame) -> None:
            while not self._stop_requested.is_set():
                try:
                    out.put(frame, timeout=0.1)
                    return
                except queue.Full:
                    continue

        self.callback = put
        result: dict[str, BaseException] = {}

        def runner() -> None:
            try:
                self.run(timeout)
            except BaseException as exc:
                result["error"] = exc
            finally:
                out.put(None)

        thread = threading.Thread(target=runner, name="ganstream-pipeline", daemon=True)
        thread.start()
        try:
            while (item := out.get()) is not None:
                yield item
        finally:
            self.stop()
            while thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    out.get(timeout=0.1)
            thread.join()
        if "error" in result:
            raise result["error"]

    def stop(self) -> None:
        """Ask for a clean stop: end-of-stream from the sources so every sink finalises."""
        if self._stop_requested.is_set():
            return
        self._stop_requested.set()
        self._stop_deadline = time.monotonic() + self.options.stop_timeout_s
        if self._supervisor is not None:
            self._supervisor.request_stop()
            return
        Gst = modules()[0]
        for element in list(self.source.roots):
            element.send_event(Gst.Event.new_eos())
        log.info("stop requested: sending end-of-stream")

    # -- construction ---------------------------------------------------------------------
    def _start(self) -> None:
        Gst = modules()[0]
        self._pipeline = Gst.Pipeline.new("ganstream")
        # Sinks after the appsrc get data only once the appsink is PLAYING, so they must not
        # hold the pipeline in preroll waiting for it (that would deadlock the start).
        self._pipeline.connect("deep-element-added", _no_async_preroll)
        live = self.source.is_live
        profile = get_profile(self.options.profile)
        profile.require()
        profile.prefer_decoders()
        qsize = self.options.queue_size or (1 if self.options.low_latency else 2 if self.realtime else 4)
        self._queue = FrameQueue(qsize, leaky=self.realtime)
        tap = InputTap(self._queue, self.stats, on_discont=self.health.count_decoder_error)
        if self.audio is not None and not (self.supervised and self.options.audio):
            self.audio.audio_streams(False)  # only a supervised source hands its audio over
        if self.supervised:
            self._start_supervised(tap)
            return

        # Video: decoded frames -> RGB -> appsink
        # A file in realtime mode is paced to its frame rate, as a camera would be.
        pace = "clocksync ! " if self.realtime and not live else ""
        to_rgb = f"videoconvert n-threads=0 ! {pace}capsfilter caps=video/x-raw,format=RGB"
        video_in = parse_bin(f"queue ! {profile.to_system_memory()}{to_rgb}")
        video_in.set_name("bridge-in")
        appsink = make("appsink", "bridge-sink", emit_signals=True, sync=False, max_buffers=1, drop=False)
        appsink.connect("new-sample", tap.on_new_sample)
        appsink.connect("eos", tap.on_eos)
        self._pipeline.add(video_in)
        self._pipeline.add(appsink)
        video_in.link(appsink)

        output = self._build_output(live)

        def on_pad(pad: Any, kind: str) -> None:
            if kind == "video":
                if pad.link(video_in.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
                    self._errors.append(SourceError(f"source '{self.source_spec}': cannot link its video"))
                return
            if kind == "audio" and self.options.audio and self.sink is not None:
                try:
                    if self.sink.attach_audio(pad):
                        return
                except BaseException as exc:
                    self._errors.append(exc)
                    return
            # Anything not used goes to a fakesink so it never blocks the decoder.
            drain = make("fakesink", None, sync=False)
            drain.set_property("async", False)
            self._pipeline.add(drain)
            drain.sync_state_with_parent()
            pad.link(drain.get_static_pad("sink"))

        self.source.build(self._pipeline, on_pad)
        self._worker = Worker(self._queue, self.chain, output, self.stats, self.on_progress)
        self._worker.start()
        self.stats.started = time.monotonic()
        ret = self._pipeline.set_state(Gst.State.PLAYING)
        if ret == Gst.StateChangeReturn.FAILURE:
            err = self._pop_error(0)
            raise err or PipelineError(f"cannot start the pipeline for source '{self.source_spec}'")

    def _build_output(self, live: bool) -> Output:
        """appsrc -> sink branch in the main pipeline, or the user's callback.

        A supervised source's audio comes from its own pipeline: the output then gets an
        `AudioDecision` and becomes the source's audio consumer (see `_SinkOutput`).
        """
        Gst = modules()[0]
        if self.sink_spec is None:
            assert self.callback is not None
            return CallbackOutput(self.callback)
        self.sink = SinkBranch(
            self.sink_spec,
            lossless=self.options.lossless,
            low_latency=self.options.low_latency,
            live=live,
            credentials=self.options.restream_credentials,
            h264_encoder=get_profile(self.options.profile).encoder,
        )
        appsrc = make("appsrc", "bridge-src", format=Gst.Format.TIME, is_live=live, do_timestamp=False, block=True)
        appsrc.set_property("max-buffers", 4)
        self._pipeline.add(appsrc)
        video_out = self.sink.build(self._pipeline)
        appsrc.link(video_out)
        self.sink.link_video(video_out)
        if self.supervised:
            wanted = self.options.audio and self.sink.takes_audio
            return _SinkOutput(appsrc, self.sink, AudioDecision(wanted), self._pipeline)
        return _SinkOutput(appsrc, self.sink)

    def _start_supervised(self, tap: InputTap) -> None:
        """Output pipeline here; the source in its own, on the same clock and base time."""
        Gst = modules()[0]
        output = self._build_output(live=True)
        clock = Gst.SystemClock.obtain()
        base_time = clock.get_time()
        self._pipeline.use_clock(clock)
        self._pipeline.set_start_time(Gst.CLOCK_TIME_NONE)
        self._pipeline.set_base_time(base_time)
        assert self._queue is not None
        self._worker = Worker(self._queue, self.chain, output, self.stats, self.on_progress)
        self._worker.start()
        self.stats.started = time.monotonic()
        if self._pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise self._pop_error(0) or PipelineError(f"cannot start the output for source '{self.source_spec}'")
        audio = output if isinstance(output, _SinkOutput) and output.takes_audio else self.audio
        self._supervisor = SourceSupervisor(
            self.source_spec,
            self.options.source,
            tap,
            self.health,
            self.options.reconnect,
            (clock, base_time),
            audio=audio if self.options.audio else None,
        )
        self._supervisor.start()
        if self._stop_requested.is_set():
            self._supervisor.request_stop()

    # -- running --------------------------------------------------------------------------
    def _wait(self, timeout: float | None) -> None:
        Gst = modules()[0]
        bus = self._pipeline.get_bus()
        deadline = time.monotonic() + timeout if timeout else None
        mask = Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.WARNING
        while True:
            msg = bus.timed_pop_filtered(100 * Gst.MSECOND, mask)
            if msg is not None:
                if msg.type == Gst.MessageType.EOS:
                    if self._supervisor is not None and self._supervisor.failure is not None:
                        self._errors.append(self._supervisor.failure)
                    return
                if msg.type == Gst.MessageType.WARNING:
                    warn, _ = msg.parse_warning()
                    if is_decoder(msg.src):
                        self.health.count_decoder_error(warn.message)
                    log.warning("%s: %s", msg.src.get_name(), redact(warn.message))
                    continue
                self._errors.append(self._translate_error(msg))
                return
            if self.source.failure is not None:
                self._errors.append(self.source.failure)
                return
            if self._errors:
                return
            worker = self._worker
            if worker is not None and worker.error is not None:
                self._errors.append(worker.error)
                return
            if self._supervisor is not None:
                self._supervisor.poll()
                if self.sink is None and worker is not None and worker.finished.is_set():
                    return  # callback output: no end-of-stream message on the bus
            elif self.stats.frames_in and self.health.state == SourceState.CONNECTING:
                self.health.set_state(SourceState.STREAMING)
            now = time.monotonic()
            if self._stop_deadline is not None and now > self._stop_deadline:
                log.warning(
                    "sinks did not finalise within %.0f s of the stop; closing anyway", self.options.stop_timeout_s
                )
                return
            if deadline is not None and now > deadline:
                self.stop()
                deadline = None

    def _pop_error(self, wait_ms: int) -> BaseException | None:
        Gst = modules()[0]
        msg = self._pipeline.get_bus().timed_pop_filtered(wait_ms * Gst.MSECOND, Gst.MessageType.ERROR)
        if self.source.failure is not None:
            return self.source.failure
        return self._translate_error(msg) if msg is not None else None

    def _translate_error(self, msg: Any) -> BaseException:
        err, debug = msg.parse_error()
        text = redact(err.message)
        log.debug("GStreamer error from %s: %s (%s)", msg.src.get_name(), text, redact(debug or ""))
        if self.source.failure is not None:
            return self.source.failure
        if self._is_from_source(msg.src):
            return SourceError(f"source '{self.source_spec}': {text}")
        return PipelineError(f"{msg.src.get_name()}: {text}")

    def _is_from_source(self, element: Any) -> bool:
        names = {"source", "decode", "source-caps"}
        while element is not None:
            name = element.get_name() if hasattr(element, "get_name") else ""
            if name in names or name.startswith(("uridecodebin", "decodebin", "rtspsrc", "source")):
                return True
            element = element.get_parent()
        return False

    def _teardown(self) -> None:
        Gst = modules()[0]
        if self._supervisor is not None:
            self._supervisor.close()
        if self._queue is not None:
            self._queue.close()
        if self._worker is not None:
            self._worker.join(timeout=5)
            if self._worker.error is not None and self._worker.error not in self._errors:
                self._errors.append(self._worker.error)
        if self._pipeline is not None:
            # A hung element must not keep the process alive: the NULL transition is bounded.
            stopper = threading.Thread(target=self._pipeline.set_state, args=(Gst.State.NULL,), daemon=True)
            stopper.start()
            stopper.join(self.options.stop_timeout_s)
            if stopper.is_alive():
                log.warning("pipeline did not shut down within %.0f s; leaving it", self.options.stop_timeout_s)
        self.source.release()  # the decoder's handlers and on_pad form a cycle that would keep the pipeline
        self.health.set_state(SourceState.ENDED)
        if self.sink is not None:
            self.sink.close()
        self.chain.close()
        if self._queue is not None:
            self.stats.dropped = self._queue.dropped
        self.stats.ended = time.monotonic()
