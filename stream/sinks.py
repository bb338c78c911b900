"""Sink branches: what happens to processed frames after the bridge's appsrc.

Files (.mp4 H.264 + AAC, .mkv H.264 or FFV1 with --lossless + Opus), lossless PNG sequences, an
RTSP restream from the built-in server, a v4l2loopback device, a display window, or nothing.

Files are crash-safe: .mp4 is fragmented (a self-contained fragment every `FRAGMENT_MS`) and
.mkv is written as it goes, both through an unbuffered filesink, so a process killed without
warning leaves a playable file missing only its last second or two (docs/reliability.md).
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

from ganstream.stream.errors import SinkError
from ganstream.stream.frame import VideoSpec
from ganstream.stream.gst import make, modules, parse_bin
from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.secrets import Credentials
from ganstream.stream.uri import SinkSpec

log = logging.getLogger(__name__)

AUDIO_QUEUE = "queue max-size-time=5000000000 max-size-buffers=0 max-size-bytes=0"
# Files and the restream keep the first output size: a source that changes resolution mid-stream
# is scaled (aspect kept, borders added) rather than breaking the muxer or the RTSP clients.
SIZE_LOCK = "videoscale add-borders=true ! capsfilter name=size-lock"
# The restream shows the last frame this long after the source goes quiet, then black ("no signal").
NO_SIGNAL_AFTER_NS = 2_000_000_000


# An .mp4 gets a fragment (moof + mdat) this often: what a hard kill can lose at most, besides
# what the encoder still holds. Measured costs: docs/benchmarks.md ("Crash-safe recordings").
FRAGMENT_MS = 1000


def file_muxer(container: str, name: str | None = None) -> Any:
    """The muxer of a file or recording segment: fragmented MP4, or Matroska (always written as it goes)."""
    if container == "mp4":
        # A plain mp4 has its index (moov) only at the end: killed before it, the file is unreadable.
        # Mode 1 (first-moov-then-finalise) writes fragments as it goes and, on a clean end, rewrites
        # the file as a plain mp4: edit lists kept (B-frame delay, so audio stays in sync) and
        # seeking as fast as before, where DASH-style fragments shift the video and seek 2x slower.
        return make("mp4mux", name, fragment_duration=FRAGMENT_MS, fragment_mode=1)
    return make("matroskamux", name)


def file_sink(location: str, name: str | None = None) -> Any:
    """A filesink whose writes reach the kernel at once: a killed process loses nothing muxed."""
    # The default 64 KiB stdio buffer would otherwise hold (and lose) the last fragment or two.
    return make("filesink", name, location=location, sync=False, buffer_mode=2)  # 2: unbuffered


def x264_options(low_latency: bool, fps: float) -> str:
    keyint = max(1, round(fps * 2)) if fps > 0 else 60
    if low_latency:
        return f"tune=zerolatency speed-preset=ultrafast key-int-max={keyint} bframes=0"
    return f"speed-preset=veryfast pass=qual quantizer=20 key-int-max={keyint}"


class SinkBranch:
    """The elements downstream of the bridge for one sink."""

    def __init__(
        self,
        spec: SinkSpec,
        *,
        lossless: bool = False,
        low_latency: bool = False,
        live: bool = False,
        credentials: Credentials | None = None,
        h264_encoder: str = "",
    ) -> None:
        self.spec = spec
        self.lossless = lossless
        self.low_latency = low_latency
        self.live = live
        self.h264_encoder = h264_encoder  # a profile's raw -> H.264 fragment; "" = x264enc
        self.server: RtspServer | None = None
        self.url: str | None = None  # where an RTSP restream can be read
        self._pipeline: Any = None
        self._mux: Any = None
        self._channel = f"ganstream-{id(self):x}"
        self.credentials = credentials
        self._has_audio = False
        self._mounted = False
        self._size_lock: Any = None
        self._locked_size: tuple[int, int] | None = None

    @property
    def takes_audio(self) -> bool:
        return self.spec.kind in ("file", "rtsp")

    def build(self, pipeline: Any, fps_hint: float = 30.0) -> Any:
        """Add the video path to `pipeline`; returns the element the appsrc links to."""
        self._pipeline = pipeline
        kind = self.spec.kind
        if kind == "file":
            desc = self._file_video_desc(fps_hint)
        elif kind == "images":
            Path(self.spec.location).parent.mkdir(parents=True, exist_ok=True)
            desc = f'queue ! videoconvert ! pngenc ! multifilesink location="{self.spec.location}" index=0'
        elif kind == "rtsp":
            auth = (self.credentials.user, self.credentials.password) if self.credentials else None
            self.server = RtspServer(self.spec.host, self.spec.port, credentials=auth)
            self.server.start()
            self.url = self.server.url(self.spec.mount)
            if auth is None and self.spec.host not in ("127.0.0.1", "localhost", "::1"):
                log.warning("RTSP restream on %s has no authentication (see --restream-user)", self.spec.host)
            desc = f"queue leaky=downstream max-size-buffers=2 ! {SIZE_LOCK} ! intervideosink channel={self._channel}"
        elif kind == "v4l2":
            desc = f"queue ! videoconvert ! video/x-raw,format=YUY2 ! v4l2sink device={self.spec.location} sync=false"
        elif kind == "display":
            desc = f"queue ! videoconvert ! autovideosink sync={str(not self.live).lower()}"
        elif kind == "null":
            desc = "fakesink sync=false"
        else:
            raise SinkError(f"sink '{self.spec}': unsupported kind {kind}")
        video = parse_bin(desc)
        video.set_name("sink-video")
        pipeline.add(video)
        self._size_lock = video.get_by_name("size-lock")
        return video

    def _file_video_desc(self, fps: float) -> str:
        path = Path(self.spec.location)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._mux = file_muxer(self.spec.container, "mux")
        sink = file_sink(str(path), "filesink")
        self._pipeline.add(self._mux)
        self._pipeline.add(sink)
        self._mux.link(sink)
        if self.lossless:
            enc = "videoconvert ! video/x-raw,format=BGRx ! avenc_ffv1"
        elif self.h264_encoder:
            enc = f"{self.h264_encoder} ! h264parse ! video/x-h264,stream-format=avc"
        else:
            enc = (
                "videoconvert n-threads=0 ! video/x-raw,format=I420 ! "
                f"x264enc {x264_options(self.low_latency, fps)} ! video/x-h264,profile=high ! h264parse"
            )
        return f"queue ! {SIZE_LOCK} ! {enc} ! queue name=video-out"

    def link_video(self, video_bin: Any) -> None:
        """Connect the video bin to the muxer (files only); called after build."""
        if self._mux is not None and not video_bin.link(self._mux):
            raise SinkError(f"sink '{self.spec}': cannot link the video encoder to {self._mux.get_name()}")

    def attach_audio(self, pad: Any) -> bool:
        """Link a decoded audio pad into the output; False when this sink has no audio path."""
        if not self.takes_audio or self._has_audio:
            return False
        if self.spec.kind == "file":
            enc = "avenc_aac ! aacparse" if self.spec.container == "mp4" else "opusenc"
            desc = f"{AUDIO_QUEUE} ! audioconvert ! audioresample ! {enc}"
        else:
            desc = f"{AUDIO_QUEUE} ! audioconvert ! audioresample ! interaudiosink channel={self._channel}"
        audio = parse_bin(desc)
        self._pipeline.add(audio)
        audio.sync_state_with_parent()
        if self._mux is not None and not audio.link(self._mux):
            raise SinkError(f"sink '{self.spec}': cannot add an audio track to {self._mux.get_name()}")
        if pad.link(audio.get_static_pad("sink")) != modules()[0].PadLinkReturn.OK:
            raise SinkError(f"sink '{self.spec}': cannot link the source's audio")
        self._has_audio = True
        return True

    def set_spec(self, spec: VideoSpec) -> None:
        """The output format is known (first frame): lock the output size, mount the RTSP restream."""
        self._lock_size(spec)
        if self.server is None or self._mounted:
            return
        fps = spec.fps if spec.fps > 0 else Fraction(30)
        launch = (
            f"( intervideosrc channel={self._channel} timeout={NO_SIGNAL_AFTER_NS} ! videoconvert ! videorate ! "
            f"video/x-raw,format=I420,framerate={fps.numerator}/{fps.denominator} ! "
            f"x264enc {x264_options(True, float(fps))} ! rtph264pay name=pay0 pt=96 config-interval=1"
        )
        if self._has_audio:
            launch += (
                f" interaudiosrc channel={self._channel} ! audioconvert ! audioresample ! opusenc"
                " ! rtpopuspay name=pay1 pt=97"
            )
        self.server.mount(self.spec.mount, launch + " )")
        self._mounted = True
        log.info("restreaming at %s", self.url)

    def _lock_size(self, spec: VideoSpec) -> None:
        if self._size_lock is None:
            return
        if self._locked_size is None:
            self._locked_size = (spec.width, spec.height)
            w, h = self._locked_size
            caps = f"video/x-raw,width={w},height={h},pixel-aspect-ratio=1/1"
            self._size_lock.set_property("caps", modules()[0].Caps.from_string(caps))
        elif self._locked_size != (spec.width, spec.height):
            w, h = self._locked_size
            log.warning("output size changed to %dx%d; scaling to %dx%d to keep %s going", spec.width,
                        spec.height, w, h, self.spec)  # fmt: skip

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
