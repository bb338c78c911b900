"""24/7 recording: rolling segments with splitmuxsink, named by camera and start time, with retention.

A recording branch is ``queue ! videoconvert ! x264enc ! h264parse ! splitmuxsink``: a new file
starts at the first key frame after `segment_s` seconds (the encoder puts a key frame at least
every 2 s), each file is finalised (index written) when the next one opens, and the last one
when end-of-stream reaches the muxer at shutdown. Segments are crash-safe as well: fragmented
MP4 or Matroska through an unbuffered filesink (``sinks.file_muxer``), so after a hard kill the
segment being written plays up to its last second or two.
Files are ``<camera>_<YYYYmmdd-HHMMSS-mmm>.<mp4|mkv>`` by the wall-clock (UTC) time they
opened. Retention keeps at most `keep` files and at most `max_bytes` per camera, deleting the
oldest first; the file being written is never deleted.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganstream.stream.gst import make, modules, parse_bin
from ganstream.stream.sinks import file_muxer, file_sink, x264_options

log = logging.getLogger(__name__)

MUXERS = {"mp4": "mp4mux", "mkv": "matroskamux"}


@dataclass(frozen=True)
class RecordingPolicy:
    directory: Path
    segment_s: float = 600.0
    container: str = "mp4"
    keep: int = 0  # files per camera; 0 = no limit
    max_bytes: int = 0  # bytes per camera; 0 = no limit

    def __post_init__(self) -> None:
        if self.container not in MUXERS:
            raise ValueError(f"recording container must be mp4 or mkv, got {self.container!r}")
        if self.segment_s <= 0:
            raise ValueError(f"recording segment length must be positive, got {self.segment_s}")


def segment_name(camera: str, container: str, when: float | None = None) -> str:
    t = time.time() if when is None else when
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(t))
    return f"{camera}_{stamp}-{int((t % 1) * 1000):03d}.{container}"


def segment_pattern(camera: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(camera)}_\d{{8}}-\d{{6}}-\d{{3}}\.(mp4|mkv)$")


def segments(directory: Path, camera: str) -> list[Path]:
    """This camera's segment files, oldest first (the names sort by start time)."""
    if not directory.is_dir():
        return []
    pat = segment_pattern(camera)
    return sorted(p for p in directory.iterdir() if pat.match(p.name))


def enforce_retention(
    directory: Path, camera: str, keep: int, max_bytes: int, current: Path | None = None
) -> list[Path]:
    """Delete this camera's oldest segments beyond `keep` files / `max_bytes`; returns what went."""
    files = segments(directory, camera)
    closed = [p for p in files if p != current]
    removed: list[Path] = []
    # The open file counts towards the file limit, not towards the size (it is still growing).
    if keep > 0:
        excess = len(closed) + (1 if current is not None else 0) - keep
        while excess > 0 and closed:
            removed.append(closed.pop(0))
            excess -= 1
    if max_bytes > 0:
        sizes = {p: p.stat().st_size for p in closed if p.exists()}
        total = sum(sizes.values())
        while total > max_bytes and closed:
            p = closed.pop(0)
            total -= sizes.get(p, 0)
            removed.append(p)
    for p in removed:
        try:
            p.unlink()
            log.info("recording retention: removed %s", p.name)
        except FileNotFoundError:
            pass
    return removed


class RecordingBranch:
    """The splitmuxsink branch for one camera, added to an output pipeline."""

    def __init__(self, camera: str, policy: RecordingPolicy, fps: float) -> None:
        self.camera = camera
        self.policy = policy
        self.fps = fps
        self.current: Path | None = None
        self.sink: Any = None

    def build(self, pipeline: Any) -> Any:
        """Add the branch to `pipeline`; returns its first element (link a tee pad to it)."""
        Gst = modules()[0]
        self.policy.directory.mkdir(parents=True, exist_ok=True)
        enc = parse_bin(
            "queue max-size-buffers=30 ! videoconvert ! video/x-raw,format=I420 ! "
            f"x264enc {x264_options(True, self.fps)} ! h264parse"
        )
        self.sink = make(
            "splitmuxsink",
            f"record-{self.camera}",
            muxer=file_muxer(self.policy.container),
            sink=file_sink(str(self.policy.directory / "pending")),  # location set per segment
            max_size_time=int(self.policy.segment_s * Gst.SECOND),
            send_keyframe_requests=True,
        )
        self.sink.connect("format-location-full", self._on_format_location)
        pipeline.add(enc)
        pipeline.add(self.sink)
        if not enc.link(self.sink):
            raise RuntimeError(f"camera '{self.camera}': cannot link the recording encoder to splitmuxsink")
        return enc

    def audio_pad(self) -> Any:
        """A pad for the encoded audio track; request it before the recording starts."""
        pad = self.sink.request_pad_simple("audio_%u")
        if pad is None:
            raise RuntimeError(f"camera '{self.camera}': splitmuxsink gave no audio pad")
        return pad

    def _on_format_location(self, _sink: Any, _fragment_id: int, _first_sample: Any) -> str:
        name = segment_name(self.camera, self.policy.container)
        path = self.policy.directory / name
        while path.exists():  # two segments within one millisecond
            time.sleep(0.001)
            path = self.policy.directory / segment_name(self.camera, self.policy.container)
        self.current = path
        self.apply_retention()
        log.info("recording %s", path)
        return str(path)

    def apply_retention(self) -> list[Path]:
        p = self.policy
        return enforce_retention(p.directory, self.camera, p.keep, p.max_bytes, current=self.current)
