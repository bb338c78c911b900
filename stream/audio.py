"""Camera audio beside the processed video when source and output are separate pipelines.

A reconnecting source (``source_supervisor``) and the service's outputs run the source in a
pipeline of its own, so its audio cannot be linked straight into the muxer. Instead the decoded
audio, whatever the camera's codec (AAC, G.711 mu-law / A-law, Opus ...), is converted to one
raw format in the source pipeline and handed over with its running time, as video frames are
(`AudioTap`). On the output side `AudioTimeline` lays it on the output's timeline:

- the track starts at the first video frame written (silence until the camera's audio begins),
  so the muxer sees both tracks start together;
- each gap (a reconnect, lost packets, a camera that stops sending audio) becomes silence and
  overlapping audio is trimmed, so the track stays continuous;
- output timestamps come from the sample count, so nothing drifts however long it runs;
- audio is released only as far as video has been written: real-time outputs (the restream)
  receive both at the same moment whatever the processing latency, and at the end the track is
  cut or padded to end with the video.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ganstream.stream.gst import make, modules, parse_bin

log = logging.getLogger(__name__)

RATE = 48_000
CHANNELS = 2
BYTES_PER_FRAME = 2 * CHANNELS  # S16LE interleaved
CAPS = f"audio/x-raw,format=S16LE,layout=interleaved,rate={RATE},channels={CHANNELS}"
NS = 1_000_000_000
# Wait this long after the first frame for the source to list its streams before deciding that
# it has no audio: a muxer cannot take a new track once it has started.
DECIDE_WITHIN_S = 2.0


def audio_encoder(container: str) -> str:
    """The encoder of an output's audio track: AAC in mp4, Opus in Matroska."""
    return "avenc_aac ! aacparse" if container == "mp4" else "opusenc"


class AudioConsumer(Protocol):
    """What a source hands its audio to (called from GStreamer's streaming threads)."""

    def audio_streams(self, present: bool) -> None:
        """A connection listed its streams: whether one of them is audio we can decode."""

    def audio_chunk(self, pts: int, data: bytes) -> None:
        """Raw audio in `CAPS`, starting at running time `pts` (ns)."""


@dataclass
class Chunk:
    pts: int
    data: bytes

    @property
    def samples(self) -> int:
        return len(self.data) // BYTES_PER_FRAME


def ns_to_samples(ns: int, rate: int = RATE) -> int:
    return max(0, ns) * rate // NS


class AudioTimeline:
    """Pure timing logic of one output audio track (no GStreamer: unit-tested with bytes).

    `add` takes audio on the output timeline; `video` says how far video has been written and
    returns the chunks to push now; `finish` returns the rest, cut or padded to the video's end.
    """

    def __init__(
        self,
        rate: int = RATE,
        tolerance_ns: int = 30_000_000,  # timestamp jitter accepted as contiguous audio
        lag_ns: int = 400_000_000,  # video this far ahead of any audio: the audio is missing, fill silence
        max_pending_ns: int = 10 * NS,  # audio waiting for video beyond this is dropped (oldest first)
    ) -> None:
        self.rate = rate
        self.tolerance_ns = tolerance_ns
        self.lag_ns = lag_ns
        self.max_pending_ns = max_pending_ns
        self.start: int | None = None
        self.samples = 0  # written since `start`
        self.silence_samples = 0
        self.dropped_samples = 0
        self.video_end = 0
        self._pending: deque[Chunk] = deque()
        self._pending_samples = 0

    @property
    def next_ts(self) -> int:
        assert self.start is not None
        return self.start + self.samples * NS // self.rate

    def add(self, pts: int, data: bytes) -> None:
        chunk = Chunk(pts, data[: len(data) - len(data) % BYTES_PER_FRAME])
        if not chunk.samples:
            return
        self._pending.append(chunk)
        self._pending_samples += chunk.samples
        limit = ns_to_samples(self.max_pending_ns, self.rate)
        while self._pending_samples > limit:
            old = self._pending.popleft()
            self._pending_samples -= old.samples
            self.dropped_samples += old.samples

    def video(self, pts: int, end: int) -> list[Chunk]:
        if self.start is None:
            self.start = pts
        self.video_end = max(self.video_end, end)
        out = self._release(self.video_end)
        if self.next_ts < self.video_end - self.lag_ns:
            out += self._silence(self.video_end - self.lag_ns)
        return out

    def finish(self) -> list[Chunk]:
        if self.start is None:
            return []
        out = self._release(self.video_end)
        out += self._silence(self.video_end)
        self._pending.clear()
        self._pending_samples = 0
        return out

    def _release(self, horizon: int) -> list[Chunk]:
        out: list[Chunk] = []
        while self._pending and self._pending[0].pts < horizon:
            chunk = self._pending.popleft()
            self._pending_samples -= chunk.samples
            data = chunk.data
            now = self.next_ts
            if chunk.pts > now + self.tolerance_ns:
                out += self._silence(chunk.pts)
            elif chunk.pts < now - self.tolerance_ns:  # overlaps what was written: keep only the new part
                data = data[ns_to_samples(now - chunk.pts, self.rate) * BYTES_PER_FRAME :]
            room = ns_to_samples(horizon - self.next_ts, self.rate) * BYTES_PER_FRAME
            if len(data) > room:  # never ahead of the video: the rest waits for the next frame
                rest = Chunk(0, data[room:])
                data = data[:room]
            else:
                rest = None
            if data:
                out.append(self._emit(data))
            if rest is not None:
                rest.pts = self.next_ts
                self._pending.appendleft(rest)
                self._pending_samples += rest.samples
                break
        return out

    def _silence(self, until: int) -> list[Chunk]:
        out: list[Chunk] = []
        missing = ns_to_samples(until - self.next_ts, self.rate)
        self.silence_samples += missing
        step = self.rate // 10  # 100 ms buffers, like a source's
        while missing > 0:
            n = min(step, missing)
            out.append(self._emit(bytes(n * BYTES_PER_FRAME)))
            missing -= n
        return out

    def _emit(self, data: bytes) -> Chunk:
        chunk = Chunk(self.next_ts, data)
        self.samples += chunk.samples
        return chunk


class AudioTrack:
    """An output pipeline's audio appsrc, fed through an `AudioTimeline` (thread-safe)."""

    def __init__(self, pipeline: Any, live: bool, name: str = "audio-src") -> None:
        Gst = modules()[0]
        # Never blocks: audio arrives on the source's streaming thread, which must not wait on the output.
        self.appsrc = make(
            "appsrc",
            name,
            format=Gst.Format.TIME,
            is_live=live,
            do_timestamp=False,
            block=False,
            caps=Gst.Caps.from_string(CAPS),
            max_time=10 * NS,
            max_bytes=0,
            max_buffers=0,
        )
        pipeline.add(self.appsrc)
        self.timeline = AudioTimeline()
        self._lock = threading.Lock()
        self._ended = False

    @property
    def pad(self) -> Any:
        return self.appsrc.get_static_pad("src")

    def add(self, pts: int, data: bytes) -> None:
        with self._lock:
            if not self._ended:
                self.timeline.add(pts, data)

    def video(self, pts: int, end: int) -> None:
        with self._lock:
            if not self._ended:
                self._push(self.timeline.video(pts, end))

    def end(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._push(self.timeline.finish())
            t = self.timeline
            if t.dropped_samples:
                log.warning("audio: %.1f s dropped waiting for video", t.dropped_samples / RATE)
        self.appsrc.emit("end-of-stream")

    def _push(self, chunks: list[Chunk]) -> None:
        Gst = modules()[0]
        for c in chunks:
            buf = Gst.Buffer.new_wrapped(c.data)
            buf.pts = c.pts
            buf.duration = c.samples * NS // RATE
            self.appsrc.emit("push-buffer", buf)


class AudioDecision:
    """Whether an output gets an audio track: settled once before its muxers start.

    Settled by the first connection that lists its streams, or as "no audio" when none has
    within `DECIDE_WITHIN_S` of the first frame (a track that never gets data would hold mp4mux).
    """

    def __init__(self, wanted: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.present: bool | None = None if wanted else False
        self._clock = clock
        self._first: float | None = None

    def streams(self, present: bool) -> None:
        if self.present is None:
            self.present = present

    def settled(self) -> bool:
        if self.present is None:
            now = self._clock()
            self._first = now if self._first is None else self._first
            if now - self._first >= DECIDE_WITHIN_S:
                log.info("no audio stream listed within %.0f s; writing video only", DECIDE_WITHIN_S)
                self.present = False
        return self.present is not None


class AudioTap:
    """Source side: a decoded audio pad -> `CAPS` -> appsink -> `consumer.audio_chunk(running time, bytes)`."""

    def __init__(self, consumer: AudioConsumer, accept: Callable[[], bool]) -> None:
        self.consumer = consumer
        self._accept = accept  # False once the pipeline is being torn down

    def attach(self, pipeline: Any, pad: Any) -> bool:
        Gst = modules()[0]
        convert = parse_bin(f"queue max-size-time={NS} ! audioconvert ! audioresample ! capsfilter caps={CAPS}")
        sink = make("appsink", None, emit_signals=True, sync=False, max_buffers=0, drop=False)
        sink.set_property("async", False)
        sink.connect("new-sample", self._on_sample)
        pipeline.add(convert)
        pipeline.add(sink)
        convert.link(sink)
        sink.sync_state_with_parent()
        convert.sync_state_with_parent()
        return bool(pad.link(convert.get_static_pad("sink")) == Gst.PadLinkReturn.OK)

    def _on_sample(self, appsink: Any) -> Any:
        Gst = modules()[0]
        sample = appsink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        if not self._accept():
            return Gst.FlowReturn.FLUSHING
        buf = sample.get_buffer()
        if buf.pts == Gst.CLOCK_TIME_NONE:
            return Gst.FlowReturn.OK
        pts = sample.get_segment().to_running_time(Gst.Format.TIME, buf.pts)
        if 0 <= pts < Gst.CLOCK_TIME_NONE:  # NONE: before the segment
            self.consumer.audio_chunk(int(pts), buf.extract_dup(0, buf.get_size()))
        return Gst.FlowReturn.OK
