"""Parsing of source and sink specifications, and credential redaction for anything printed.

Sources: ``test:[pattern][?width=&height=&fps=&frames=&live=]``, a file path or ``file:`` URI,
an image-sequence pattern (``frames/%04d.png``), ``rtsp://...`` and ``v4l2:/dev/videoN``.
Sinks: a file path (``.mp4``, ``.mkv``), an image-sequence pattern, ``rtsp://[HOST]:PORT/NAME``,
``v4l2:/dev/videoN``, ``display``, ``null``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from ganstream.stream.errors import SinkError, SourceError

_CRED_RE = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*)(?::[^@/\s]*)?@")
VIDEO_EXTENSIONS = {
    ".mp4",
    ".mkv",
    ".avi",
    ".mov",
    ".mpg",
    ".mpeg",
    ".ts",
    ".m2ts",
    ".webm",
    ".y4m",
    ".flv",
    ".h264",
    ".h265",
}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg"}
TEST_PATTERNS = {
    "smpte", "snow", "black", "white", "red", "green", "blue", "checkers-1", "checkers-2", "checkers-4",
    "checkers-8", "circular", "blink", "smpte75", "zone-plate", "gamut", "chroma-zone-plate", "solid-color",
    "ball", "smpte100", "bar", "pinwheel", "spokes", "gradient", "colors",
}  # fmt: skip


def redact(text: str) -> str:
    """Replace the password (and keep the user) of every URI in `text`: rtsp://user:***@host/..."""
    return _CRED_RE.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m["user"] else f"{m['scheme']}***@", text)


def parse_fps(value: str, what: str = "fps") -> Fraction:
    try:
        fps = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{what} must be a number or a fraction like 30000/1001, got {value!r}") from None
    if fps <= 0 or fps > 1000:
        raise ValueError(f"{what} must be in (0, 1000], got {value!r}")
    return fps


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "test", "file", "images", "rtsp", "v4l2"
    location: str  # path, URI or pattern; the test pattern's name for "test"
    options: dict[str, str] = field(default_factory=dict)

    @property
    def is_live(self) -> bool:
        if self.kind == "test":
            return self.options.get("live", "0") in ("1", "true", "yes")
        return self.kind in ("rtsp", "v4l2", "csi")

    def __str__(self) -> str:
        if self.kind in ("test", "csi"):
            return f"{self.kind}:{self.location}"
        return redact(self.location)


@dataclass(frozen=True)
class SinkSpec:
    kind: str  # "file", "images", "rtsp", "v4l2", "display", "null"
    location: str = ""
    container: str = ""  # "mp4" or "mkv" for files
    host: str = "127.0.0.1"
    port: int = 8554
    mount: str = ""

    def __str__(self) -> str:
        return redact(self.location or self.kind)


def _int_option(opts: dict[str, str], key: str, default: int, lo: int, hi: int, spec: str) -> int:
    raw = opts.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SourceError(f"source '{redact(spec)}': {key} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SourceError(f"source '{redact(spec)}': {key} must be in [{lo}, {hi}], got {value}")
    return value


def parse_test_source(spec: str) -> SourceSpec:
    body = spec[len("test:") :]
    pattern, _, query = body.partition("?")
    pattern = pattern or "smpte"
    if pattern not in TEST_PATTERNS:
        raise SourceError(
            f"source '{spec}': unknown test pattern {pattern!r}, expected one of {', '.join(sorted(TEST_PATTERNS))}"
        )
    opts = dict(parse_qsl(query, keep_blank_values=True))
    allowed = {"width", "height", "fps", "frames", "live"}
    unknown = sorted(set(opts) - allowed)
    if unknown:
        raise SourceError(
            f"source '{spec}': unknown option(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
        )
    _int_option(opts, "width", 640, 16, 7680, spec)
    _int_option(opts, "height", 360, 16, 4320, spec)
    _int_option(opts, "frames", -1, -1, 10**9, spec)
    if "fps" in opts:
        try:
            parse_fps(opts["fps"])
        except ValueError as exc:
            raise SourceError(f"source '{spec}': {exc}") from None
    return SourceSpec("test", pattern, opts)


def parse_source(spec: str) -> SourceSpec:
    """Classify a source string; a bad one raises SourceError naming it and what was expected."""
    if not spec or not spec.strip():
        raise SourceError("source is empty; expected a file, test:, rtsp://, v4l2:/dev/videoN or an image pattern")
    if spec.startswith("test:"):
        return parse_test_source(spec)
    if spec.startswith(("rtsp://", "rtsps://", "rtspt://")):
        parts = urlsplit(spec)
        if not parts.hostname:
            raise SourceError(f"source '{redact(spec)}': an RTSP URI needs a host, e.g. rtsp://camera:554/stream")
        return SourceSpec("rtsp", spec)
    if spec.startswith("csi:"):
        sensor = spec[len("csi:") :] or "0"
        if not sensor.isdigit():
            raise SourceError(f"source '{spec}': expected csi:N with N the camera's sensor id, e.g. csi:0")
        return SourceSpec("csi", sensor)
    if spec.startswith("v4l2:"):
        device = spec[len("v4l2:") :] or "/dev/video0"
        if not device.startswith("/dev/"):
            raise SourceError(f"source '{spec}': expected v4l2:/dev/videoN")
        if not Path(device).exists():
            raise SourceError(f"source '{spec}': device {device} does not exist")
        return SourceSpec("v4l2", device)
    if spec.startswith("file:"):
        path = unquote(urlsplit(spec).path) if spec.startswith("file://") else spec[len("file:") :]
    elif re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", spec):
        raise SourceError(f"source '{redact(spec)}': unsupported scheme; expected a file, test:, rtsp:// or v4l2:")
    else:
        path = spec
    if "%" in Path(path).name:
        return _parse_image_pattern(spec, path)
    p = Path(path)
    if not p.exists():
        raise SourceError(f"source '{spec}': no such file")
    if p.is_dir():
        raise SourceError(f"source '{spec}': is a folder; expected a video file or an image pattern like {p}/%04d.png")
    return SourceSpec("file", str(p.resolve()))


def _parse_image_pattern(spec: str, path: str) -> SourceSpec:
    p = Path(path)
    if p.suffix.lower() not in IMAGE_EXTENSIONS:
        raise SourceError(f"source '{spec}': image sequences must be .png or .jpg, got {p.suffix or 'no extension'}")
    try:
        p.name % 0
    except (TypeError, ValueError):
        raise SourceError(f"source '{spec}': the pattern needs one integer field like %04d") from None
    first = first_sequence_index(str(p))
    if first is None:
        raise SourceError(f"source '{spec}': no files match the pattern")
    return SourceSpec("images", str(p.resolve()), {"start": str(first)})


def first_sequence_index(pattern: str, search: int = 2) -> int | None:
    """The first index (0 or 1, the usual starts) for which the pattern names an existing file."""
    for i in range(search):
        if Path(pattern % i).exists():
            return i
    return None


def count_sequence(pattern: str, start: int) -> int:
    n = 0
    while Path(pattern % (start + n)).exists():
        n += 1
    return n


def parse_sink(spec: str, lossless: bool = False) -> SinkSpec:
    """Classify a sink string; a bad one raises SinkError naming it and what was expected."""
    if spec in ("null", "fake"):
        return SinkSpec("null")
    if spec in ("display", "screen"):
        return SinkSpec("display")
    if spec.startswith("rtsp://"):
        m = re.match(r"^rtsp://(?:(?P<host>[^:/]*))?:(?P<port>\d+)/(?P<mount>[A-Za-z0-9._~-][A-Za-z0-9._~/-]*)$", spec)
        if not m:
            raise SinkError(f"sink '{redact(spec)}': expected rtsp://[HOST]:PORT/NAME, e.g. rtsp://:8554/enhanced")
        port = int(m["port"])
        if not 0 <= port <= 65535:
            raise SinkError(f"sink '{spec}': port must be 0..65535")
        return SinkSpec("rtsp", spec, host=m["host"] or "127.0.0.1", port=port, mount="/" + m["mount"])
    if spec.startswith("v4l2:"):
        device = spec[len("v4l2:") :]
        if not device.startswith("/dev/"):
            raise SinkError(f"sink '{spec}': expected v4l2:/dev/videoN (a v4l2loopback device)")
        if not Path(device).exists():
            raise SinkError(f"sink '{spec}': device {device} does not exist (load v4l2loopback, see README)")
        return SinkSpec("v4l2", device)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", spec):
        raise SinkError(
            f"sink '{redact(spec)}': unsupported scheme; expected a file, rtsp://:PORT/NAME, v4l2:, display or null"
        )
    p = Path(spec[len("file:") :] if spec.startswith("file:") else spec)
    suffix = p.suffix.lower()
    if "%" in p.name:
        if suffix != ".png":
            raise SinkError(
                f"sink '{spec}': image sequences are written as lossless .png, got {suffix or 'no extension'}"
            )
        try:
            p.name % 0
        except (TypeError, ValueError):
            raise SinkError(f"sink '{spec}': the pattern needs one integer field like %04d") from None
        return SinkSpec("images", str(p))
    if suffix not in (".mp4", ".mkv"):
        raise SinkError(
            f"sink '{spec}': unsupported output type {suffix or '(none)'}; "
            "expected .mp4, .mkv, a .png pattern, rtsp://, v4l2:, display or null"
        )
    if lossless and suffix != ".mkv":
        raise SinkError(f"sink '{spec}': --lossless writes FFV1, which needs a .mkv file")
    return SinkSpec("file", str(p), container=suffix[1:])
