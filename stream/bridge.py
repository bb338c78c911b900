"""The bridge between GStreamer and the stages: appsink -> frames -> stages -> output.

`InputTap` runs in GStreamer's streaming thread: it turns each sample into a `Frame` (numpy,
stride removed, PTS on the running time) and puts it in a bounded `FrameQueue` — blocking in
file mode (nothing lost), dropping the oldest frame in realtime mode (latency stays bounded).
`Worker` is one Python thread that runs the stage chain and hands frames to an `Output`
(appsrc into the rest of the pipeline, or a Python callback).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ganstream.stream.chain import StageChain
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.frame_queue import FrameQueue, QueueClosed
from ganstream.stream.frameio import buffer_from_pixels, caps_for, pixels_from_buffer, spec_from_caps
from ganstream.stream.gst import modules
from ganstream.stream.stats import RunStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapsChange:
    """Queued ahead of the first frame of a new input format."""

    spec: VideoSpec


class EndOfStream:
    """Queued once when the input ends."""


QueueItem = Frame | CapsChange | EndOfStream


class Output(Protocol):
    def set_spec(self, spec: VideoSpec) -> None: ...
    def push(self, frame: Frame) -> None: ...
    def end(self) -> None: ...


class InputTap:
    """appsink 'new-sample' handler: samples -> frames in the queue."""

    def __init__(
        self,
        queue: FrameQueue[QueueItem],
        stats: RunStats,
        source_id: str = "0",
        on_discont: Callable[[], None] | None = None,
    ) -> None:
        self.queue = queue
        self.stats = stats
        self.source_id = source_id
        self._caps: Any = None
        self._spec: VideoSpec | None = None
        self._stride = 0
        self._seq = 0
        self._last_pts = -1
        self.backwards = 0  # frames refused because their time went backwards (muxers need monotonic PTS)
        # A decoder flags the first frame after frames it failed to decode (or data that went
        # missing) as a discontinuity; the first frame of a stream or connection carries it anyway.
        self.on_discont = on_discont
        self._discont_expected = True

    def on_new_sample(self, appsink: Any) -> Any:
        Gst = modules()[0]
        sample = appsink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        t_enter = time.monotonic_ns()
        caps = sample.get_caps()
        try:
            if self._caps is None or not caps.is_equal(self._caps):
                self._spec, self._stride = spec_from_caps(caps)
                self._caps = caps
                self.queue.put(CapsChange(self._spec), droppable=False)
            assert self._spec is not None
            buf = sample.get_buffer()
            discont = bool(buf.has_flags(Gst.BufferFlags.DISCONT))
            if discont and not self._discont_expected and self.on_discont:
                self.on_discont()
            self._discont_expected = False
            segment = sample.get_segment()
            pts = segment.to_running_time(Gst.Format.TIME, buf.pts) if buf.pts != Gst.CLOCK_TIME_NONE else -1
            if 0 <= pts <= self._last_pts:
                self.backwards += 1
                return Gst.FlowReturn.OK
            self._last_pts = max(self._last_pts, int(pts))
            duration = buf.duration if buf.duration != Gst.CLOCK_TIME_NONE else self._spec.frame_duration_ns
            frame = Frame(
                pixels_from_buffer(buf, self._spec, self._stride),
                pts=int(pts),
                duration=int(duration),
                seq=self._seq,
                source_id=self.source_id,
                # a new connection or lost data: stages with memory (recurrent models) start afresh
                meta={"t_enter": t_enter, "discont": True} if discont else {"t_enter": t_enter},
            )
            self._seq += 1
            self.stats.frames_in += 1
            self.queue.put(frame)
            self.stats.dropped = self.queue.dropped
        except QueueClosed:
            return Gst.FlowReturn.FLUSHING
        return Gst.FlowReturn.OK

    def expect_discont(self) -> None:
        """A new connection starts: its first frame's discontinuity is not an error."""
        self._discont_expected = True

    def on_eos(self, _appsink: Any) -> None:
        with contextlib.suppress(QueueClosed):
            self.queue.put(EndOfStream(), droppable=False)


class AppsrcOutput:
    """Pushes processed frames into an appsrc; caps follow the chain's output spec."""

    def __init__(self, appsrc: Any) -> None:
        self.appsrc = appsrc

    def set_spec(self, spec: VideoSpec) -> None:
        self.appsrc.set_caps(caps_for(spec))

    def push(self, frame: Frame) -> None:
        Gst = modules()[0]
        pts = frame.pts if frame.pts >= 0 else Gst.CLOCK_TIME_NONE
        ret = self.appsrc.emit("push-buffer", buffer_from_pixels(frame.pixels, pts, frame.duration))
        if ret not in (Gst.FlowReturn.OK, Gst.FlowReturn.FLUSHING, Gst.FlowReturn.EOS):
            log.debug("appsrc push returned %s", ret)

    def end(self) -> None:
        self.appsrc.emit("end-of-stream")


class CallbackOutput:
    """Hands each processed frame to user code."""

    def __init__(
        self, callback: Callable[[Frame], object], on_spec: Callable[[VideoSpec], object] | None = None
    ) -> None:
        self.callback = callback
        self.on_spec = on_spec

    def set_spec(self, spec: VideoSpec) -> None:
        if self.on_spec is not None:
            self.on_spec(spec)

    def push(self, frame: Frame) -> None:
        self.callback(frame)

    def end(self) -> None:
        pass


class Worker(threading.Thread):
    """Runs the stage chain on queued frames and feeds the output, in presentation order."""

    def __init__(
        self,
        queue: FrameQueue[QueueItem],
        chain: StageChain,
        output: Output,
        stats: RunStats,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(name="ganstream-worker", daemon=True)
        self.queue = queue
        self.chain = chain
        self.output = output
        self.stats = stats
        self.on_progress = on_progress
        self.error: BaseException | None = None
        self.input_spec: VideoSpec | None = None
        self.output_spec: VideoSpec | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self._loop()
        except QueueClosed:
            pass
        except BaseException as exc:  # reported to the pipeline, which stops and re-raises it
            self.error = exc
            log.debug("worker failed", exc_info=True)
            try:
                self.output.end()
            except Exception:
                log.debug("output end after failure", exc_info=True)
        finally:
            self.finished.set()

    def _loop(self) -> None:
        while True:
            item = self.queue.get(timeout=0.5)
            if item is None:
                continue
            if isinstance(item, CapsChange):
                if self.input_spec is not None:
                    # Emit what the old format still holds before switching.
                    self._emit(self.chain.flush())
                    log.info("input format changed: %s -> %s", self.input_spec, item.spec)
                self.input_spec = item.spec
                self.output_spec = self.chain.configure(item.spec)
                self.stats.input_spec, self.stats.output_spec = str(item.spec), str(self.output_spec)
                self.output.set_spec(self.output_spec)
            elif isinstance(item, EndOfStream):
                if self.input_spec is not None:
                    self._emit(self.chain.flush())
                self.output.end()
                return
            else:
                self._emit(self.chain.process(item))
                if self.on_progress is not None:
                    self.on_progress(1)

    def _emit(self, frames: list[Frame]) -> None:
        for frame in frames:
            self.output.push(frame)
            self.stats.frames_out += 1
            t_enter = frame.meta.get("t_enter")
            if t_enter is not None:
                self.stats.add_latency(time.monotonic_ns() - int(t_enter))
