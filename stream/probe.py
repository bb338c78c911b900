"""Up-front inspection of file sources (GstPbutils Discoverer): frame count for progress bars,
and a clear error for a file that is not a video before any pipeline is built."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ganstream.stream.errors import SourceError
from ganstream.stream.gst import init, namespace


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    width: int
    height: int
    fps: Fraction
    has_audio: bool

    @property
    def frames(self) -> int | None:
        if self.fps <= 0 or self.duration_s <= 0:
            return None
        return round(self.duration_s * float(self.fps))


def _pbutils() -> Any:
    return namespace("GstPbutils")


def probe_file(path: str, timeout_s: float = 10.0) -> MediaInfo:
    """Describe a local media file; raises SourceError when it holds no decodable video."""
    Gst = init()
    GstPbutils = _pbutils()
    discoverer = GstPbutils.Discoverer.new(int(timeout_s * Gst.SECOND))
    try:
        info = discoverer.discover_uri(Gst.filename_to_uri(path))
    except Exception as exc:  # GLib.Error with the reason
        msg = str(getattr(exc, "message", exc))
        raise SourceError(f"source '{path}': not a media file GStreamer can read ({msg})") from None
    videos = info.get_video_streams()
    if not videos:
        raise SourceError(f"source '{path}': has no video stream")
    v = videos[0]
    fps = Fraction(v.get_framerate_num(), v.get_framerate_denom()) if v.get_framerate_denom() else Fraction(0)
    duration = info.get_duration()
    return MediaInfo(
        duration_s=duration / Gst.SECOND if duration != Gst.CLOCK_TIME_NONE else 0.0,
        width=v.get_width(),
        height=v.get_height(),
        fps=fps,
        has_audio=bool(info.get_audio_streams()),
    )
