"""Keeps a live source connected: its own GStreamer pipeline, rebuilt after every loss.

The source (rtspsrc/decoder -> RGB -> appsink) runs in a pipeline of its own; the output
pipeline (appsrc -> encoder -> file / restream) and the worker keep running while the source
is torn down and rebuilt, so a camera that drops off costs a gap, never the output. Both
pipelines share one clock and base time, so the running time a new connection stamps on its
frames continues the old timeline: output timestamps stay monotonic and the gap is real time.

`poll()` is called from the pipeline's bus loop (one thread); GStreamer's streaming thread
only touches the stall detector and the frame tap.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ganstream.stream.audio import AudioConsumer, AudioTap
from ganstream.stream.bridge import EndOfStream, InputTap
from ganstream.stream.errors import SourceError
from ganstream.stream.frame_queue import QueueClosed
from ganstream.stream.gst import make, modules, parse_bin
from ganstream.stream.health import SourceHealth, SourceState
from ganstream.stream.heap import release_free_heap
from ganstream.stream.reconnect import Backoff, ReconnectOptions
from ganstream.stream.sources import SourceBranch, SourceOptions
from ganstream.stream.uri import SourceSpec, redact
from ganstream.stream.watchdog import StallDetector, Verdict

log = logging.getLogger(__name__)

_RGB = "video/x-raw,format=RGB"
Timebase = tuple[Any, int]  # (Gst.Clock, base time in ns) shared with the output pipeline


class SourceSupervisor:
    def __init__(
        self,
        spec: SourceSpec,
        source_options: SourceOptions,
        tap: InputTap,
        health: SourceHealth,
        options: ReconnectOptions,
        timebase: Timebase,
        clock: Callable[[], float] = time.monotonic,
        audio: AudioConsumer | None = None,
    ) -> None:
        self.spec = spec
        self.audio = audio  # None: the source's audio is discarded
        self.source_options = source_options
        self.tap = tap
        self.health = health
        self.options = options
        self.timebase = timebase
        self.ended = False
        self.failure: SourceError | None = None  # set when it gave up (reconnection off or attempts spent)
        self._clock = clock
        self._detector = StallDetector(options.stall_timeout_s, clock)
        self._backoff = Backoff(options)
        self._pipe: Any = None
        self._branch: SourceBranch | None = None
        self._generation = 0
        self._got_frame = threading.Event()
        self._next_attempt: float | None = None
        self._stop = threading.Event()
        self._abandoned = 0

    # -- control (any thread) -------------------------------------------------------------
    def start(self) -> None:
        self._connect()

    def request_stop(self) -> None:
        """Stop at the next poll: tear the source down and end the stream (sinks finalise)."""
        self._stop.set()

    # -- the bus loop's thread ------------------------------------------------------------
    def poll(self) -> None:
        if self.ended:
            return
        if self._stop.is_set():
            self._teardown()
            self._end("stopped")
            return
        if self._pipe is None:
            if self._next_attempt is None:
                return
            wait = self._next_attempt - self._clock()
            self.health.next_attempt_s = max(0.0, wait)
            if wait <= 0:
                self.health.count_reconnect()
                self._connect()
            return
        self._drain_bus()
        if self._pipe is None:
            return
        if self._got_frame.is_set() and self.health.state != SourceState.STREAMING:
            self.health.set_state(SourceState.STREAMING)
            self._backoff.reset()
        if self._branch is not None and self._branch.failure is not None:
            self._lost(str(self._branch.failure))
        elif self._detector.check() == Verdict.STALLED:
            self.health.count_stall()
            self._lost(f"no frames for {self.options.stall_timeout_s:g} s (stalled)", SourceState.STALLED)

    def close(self) -> None:
        self._teardown()

    # -- internals ------------------------------------------------------------------------
    def _connect(self) -> None:
        Gst = modules()[0]
        self._generation += 1
        self._got_frame.clear()
        self._next_attempt = None
        self.health.next_attempt_s = None
        self.health.set_state(SourceState.CONNECTING)
        self._detector.reset()
        self.tap.expect_discont()
        pipe = Gst.Pipeline.new(f"ganstream-source-{self._generation}")
        clock, base_time = self.timebase
        pipe.use_clock(clock)
        pipe.set_start_time(Gst.CLOCK_TIME_NONE)
        pipe.set_base_time(base_time)

        video_in = parse_bin(f"queue max-size-buffers=4 ! videoconvert n-threads=0 ! capsfilter caps={_RGB}")
        appsink = make("appsink", "bridge-sink", emit_signals=True, sync=False, max_buffers=1, drop=False)
        appsink.connect("new-sample", self._on_sample, self._generation)
        pipe.add(video_in)
        pipe.add(appsink)
        video_in.link(appsink)

        generation = self._generation
        audio = AudioTap(self.audio, lambda: generation == self._generation) if self.audio is not None else None
        audio_linked = False

        def on_pad(pad: Any, kind: str) -> None:
            nonlocal audio_linked
            if kind == "video":
                pad.link(video_in.get_static_pad("sink"))
                return
            if kind == "audio" and audio is not None and not audio_linked:
                # Same clock and base time as the video: its running time is on the video's line.
                audio_linked = audio.attach(pipe, pad)
                if audio_linked:
                    return
            drain = make("fakesink", None, sync=False)  # extra streams (or audio not wanted): not carried
            drain.set_property("async", False)
            pipe.add(drain)
            drain.sync_state_with_parent()
            pad.link(drain.get_static_pad("sink"))

        self._branch = SourceBranch(self.spec, self.source_options)
        if self.audio is not None:
            self._branch.on_streams = self.audio.audio_streams
        self._branch.build(pipe, on_pad)
        self._pipe = pipe
        log.info("source %s: connecting (attempt %d)", self.health.name, self._generation)
        if pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self._lost("cannot start the source")

    def _on_sample(self, appsink: Any, generation: int) -> Any:
        Gst = modules()[0]
        if generation != self._generation:  # a pipeline being torn down
            return Gst.FlowReturn.FLUSHING
        self._detector.on_buffer()
        self._got_frame.set()
        with self._detector.pushing():
            return self.tap.on_new_sample(appsink)

    def _drain_bus(self) -> None:
        Gst = modules()[0]
        bus = self._pipe.get_bus()
        mask = Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.WARNING
        while self._pipe is not None and (msg := bus.pop_filtered(mask)) is not None:
            if msg.type == Gst.MessageType.WARNING:
                warn, _ = msg.parse_warning()
                if is_decoder(msg.src):
                    self.health.count_decoder_error(warn.message)
                log.warning("source %s: %s: %s", self.health.name, msg.src.get_name(), redact(warn.message))
            elif msg.type == Gst.MessageType.ERROR:
                err, debug = msg.parse_error()
                log.debug("source error detail: %s", redact(debug or ""))
                self._lost(f"{msg.src.get_name()}: {err.message}")
            else:
                self._lost("the source ended the stream")

    def _lost(self, reason: str, state: SourceState = SourceState.BACKOFF) -> None:
        self._teardown()
        if not self.options.enabled or self._backoff.exhausted:
            self._end(reason)
            return
        delay = self._backoff.next_delay()
        self._next_attempt = self._clock() + delay
        self.health.next_attempt_s = delay
        self.health.set_state(state, error=reason)
        log.warning("source %s: %s; reconnecting in %.1f s", self.health.name, redact(reason), delay)

    def _end(self, reason: str) -> None:
        self.ended = True
        if reason != "stopped":
            self.failure = SourceError(f"source '{self.spec}': {redact(reason)}")
        self.health.set_state(SourceState.ENDED, error=None if reason == "stopped" else reason)
        with contextlib.suppress(QueueClosed):
            self.tap.queue.put(EndOfStream(), droppable=False)

    def _teardown(self) -> None:
        pipe, self._pipe = self._pipe, None
        branch, self._branch = self._branch, None
        self._generation += 1  # frames still in flight from the old pipeline are refused
        if pipe is None:
            return
        Gst = modules()[0]
        # set_state(NULL) can hang on a wedged element or a dead server; never let it hold us.
        stopper = threading.Thread(target=pipe.set_state, args=(Gst.State.NULL,), daemon=True)
        stopper.start()
        stopper.join(self.options.teardown_timeout_s)
        if stopper.is_alive():
            self._abandoned += 1
            log.warning(
                "source %s: old connection did not close within %.0f s; abandoned",
                self.health.name,
                self.options.teardown_timeout_s,
            )
        if branch is not None:
            branch.release()  # breaks the branch <-> pipeline cycle so the old connection is freed
        if not stopper.is_alive():
            del pipe  # the last reference: the old connection's elements and buffers go now
            release_free_heap()  # and their pages go back to the OS (see stream/heap.py)


def is_decoder(element: Any) -> bool:
    factory = element.get_factory() if hasattr(element, "get_factory") else None
    klass = factory.get_metadata("klass") if factory is not None else ""
    return "Decoder" in (klass or "")
