"""Source branches: the GStreamer elements that turn a `SourceSpec` into decoded raw pads.

Every branch ends in pads handed to `on_pad(pad, "video" | "audio")`; the pipeline links the
first video pad into the bridge and audio pads into the sink's audio path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ganstream.stream.errors import SourceError
from ganstream.stream.gst import make, modules
from ganstream.stream.secrets import Credentials, split_credentials
from ganstream.stream.uri import SourceSpec, count_sequence, redact

log = logging.getLogger(__name__)

PadHandler = Callable[[Any, str], None]


@dataclass(frozen=True)
class SourceOptions:
    rtsp_transport: str = "tcp"  # tcp, udp or auto
    rtsp_latency_ms: int = 200
    rtsp_timeout_s: float = 10.0
    images_fps: Fraction = Fraction(25)
    rtsp_credentials: Credentials | None = None  # used when the URI carries none

    def __post_init__(self) -> None:
        if self.rtsp_transport not in ("tcp", "udp", "auto"):
            raise SourceError(f"RTSP transport must be tcp, udp or auto, got {self.rtsp_transport!r}")
        if not 0 <= self.rtsp_latency_ms <= 60_000:
            raise SourceError(f"RTSP latency must be 0..60000 ms, got {self.rtsp_latency_ms}")


class SourceBranch:
    """Builds the elements for one source inside a pipeline."""

    def __init__(self, spec: SourceSpec, options: SourceOptions | None = None) -> None:
        self.spec = spec
        self.options = options or SourceOptions()
        self.roots: list[Any] = []  # elements that receive EOS when the pipeline is asked to stop
        self.failure: SourceError | None = None
        self._video_seen = False
        self._audio_seen = False
        self._on_pad: PadHandler | None = None
        # Called once the source has exposed all its streams, with whether one was audio.
        self.on_streams: Callable[[bool], None] | None = None
        self._credentials: Credentials | None = None

    @property
    def is_live(self) -> bool:
        return self.spec.is_live

    def expected_frames(self) -> int | None:
        """Frames the source will produce, when known up front."""
        if self.spec.kind == "test":
            frames = int(self.spec.options.get("frames", "-1"))
            return frames if frames >= 0 else None
        if self.spec.kind == "images":
            return count_sequence(self.spec.location, int(self.spec.options["start"]))
        return None

    def build(self, pipeline: Any, on_pad: PadHandler) -> None:
        self._on_pad = on_pad
        kind = self.spec.kind
        if kind == "test":
            self._build_test(pipeline)
        elif kind in ("file", "rtsp"):
            self._build_uri(pipeline)
        elif kind == "images":
            self._build_images(pipeline)
        elif kind == "csi":
            # A Jetson CSI camera: NVMM frames; the jetson profile's nvvidconv brings them to system memory.
            src = make("nvarguscamerasrc", "source", sensor_id=int(self.spec.location))
            pipeline.add(src)
            self.roots.append(src)
            self._pad(src.get_static_pad("src"), "video")
        elif kind == "v4l2":
            src = make("v4l2src", "source", device=self.spec.location)
            self._decode(pipeline, src)
        else:  # parse_source only produces the kinds above
            raise SourceError(f"source '{self.spec}': unsupported kind {kind}")

    # -- kinds ----------------------------------------------------------------------------
    def _build_test(self, pipeline: Any) -> None:
        Gst = modules()[0]
        o = self.spec.options
        fps = Fraction(o.get("fps", "30"))
        src = make(
            "videotestsrc",
            "source",
            is_live=self.spec.is_live,
            num_buffers=int(o.get("frames", "-1")),
        )
        Gst.util_set_object_arg(src, "pattern", self.spec.location)
        caps = make(
            "capsfilter",
            "source-caps",
            caps=Gst.Caps.from_string(
                f"video/x-raw,width={o.get('width', '640')},height={o.get('height', '360')},"
                f"framerate={fps.numerator}/{fps.denominator},pixel-aspect-ratio=1/1"
            ),
        )
        pipeline.add(src)
        pipeline.add(caps)
        src.link(caps)
        self.roots.append(src)
        self._pad(caps.get_static_pad("src"), "video")

    def _build_uri(self, pipeline: Any) -> None:
        Gst = modules()[0]
        if self.spec.kind == "rtsp":
            # Credentials go to rtspsrc as properties so GStreamer's own messages never carry them.
            uri, in_uri = split_credentials(self.spec.location)
            self._credentials = in_uri or self.options.rtsp_credentials
        else:
            uri = Gst.filename_to_uri(self.spec.location)
        dec = make("uridecodebin", "source")
        dec.set_property("uri", uri)
        dec.connect("source-setup", self._on_source_setup)
        dec.connect("pad-added", self._on_decoded_pad)
        dec.connect("no-more-pads", self._on_no_more_pads)
        pipeline.add(dec)
        self.roots.append(dec)

    def _build_images(self, pipeline: Any) -> None:
        Gst = modules()[0]
        fps = self.options.images_fps
        media = "image/png" if Path(self.spec.location).suffix.lower() == ".png" else "image/jpeg"
        src = make(
            "multifilesrc",
            "source",
            location=self.spec.location,
            index=int(self.spec.options["start"]),
            caps=Gst.Caps.from_string(f"{media},framerate={fps.numerator}/{fps.denominator}"),
        )
        self._decode(pipeline, src)

    def _decode(self, pipeline: Any, src: Any) -> None:
        dec = make("decodebin", "decode")
        dec.connect("pad-added", self._on_decoded_pad)
        dec.connect("no-more-pads", self._on_no_more_pads)
        pipeline.add(src)
        pipeline.add(dec)
        src.link(dec)
        self.roots.append(src)

    # -- callbacks (streaming threads) ---------------------------------------------------
    def _on_source_setup(self, _bin: Any, element: Any) -> None:
        Gst = modules()[0]
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "rtspsrc":
            o = self.options
            if o.rtsp_transport != "auto":
                Gst.util_set_object_arg(element, "protocols", o.rtsp_transport)
            element.set_property("latency", o.rtsp_latency_ms)
            element.set_property("tcp-timeout", int(o.rtsp_timeout_s * 1_000_000))
            element.set_property("timeout", int(o.rtsp_timeout_s * 1_000_000))
            if self._credentials is not None:
                element.set_property("user-id", self._credentials.user)
                element.set_property("user-pw", self._credentials.password)
            self.roots.append(element)

    def _on_decoded_pad(self, _dec: Any, pad: Any) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name() if caps and caps.get_size() else ""
        if name.startswith("video/"):
            if self._video_seen:
                log.info("%s: ignoring an extra video stream", redact(str(self.spec)))
                self._pad(pad, "extra")
                return
            self._video_seen = True
            self._pad(pad, "video")
        elif name.startswith("audio/"):
            self._audio_seen = True
            self._pad(pad, "audio")
        else:
            self._pad(pad, "extra")

    def _on_no_more_pads(self, _dec: Any) -> None:
        if not self._video_seen:
            self.failure = SourceError(f"source '{self.spec}': has no video stream GStreamer can decode")
        if self.on_streams is not None:
            self.on_streams(self._audio_seen)

    def release(self) -> None:
        """Drop the references into the pipeline once it is stopped.

        The decoder's signal handlers hold this object (C-side closures the Python collector
        cannot see), and `on_pad` usually closes over the pipeline: left in place, that cycle
        keeps every torn-down pipeline, its elements and wrappers alive for good.
        """
        self._on_pad = None
        self.on_streams = None
        self.roots.clear()

    def _pad(self, pad: Any, kind: str) -> None:
        if self._on_pad is not None:  # None once released: a late pad from a pipeline being stopped
            self._on_pad(pad, kind)
