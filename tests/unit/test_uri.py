"""Source and sink specifications, and credential redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganstream.stream.errors import SinkError, SourceError
from ganstream.stream.uri import parse_sink, parse_source, redact


def test_redact_hides_passwords_everywhere() -> None:
    text = "open rtsp://admin:hunter2@10.0.0.5:554/ch1 and rtsp://bob:x%40y@cam/a then rtsp://cam/b"
    red = redact(text)
    assert "hunter2" not in red and "x%40y" not in red
    assert "rtsp://admin:***@10.0.0.5:554/ch1" in red
    assert "rtsp://cam/b" in red


def test_test_source_options() -> None:
    spec = parse_source("test:ball?width=320&height=180&fps=25&frames=10&live=1")
    assert spec.kind == "test" and spec.location == "ball" and spec.is_live
    assert not parse_source("test:").is_live


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("test:nopattern", "unknown test pattern"),
        ("test:ball?width=abc", "width must be an integer"),
        ("test:ball?fps=0", "fps must be in"),
        ("test:ball?colour=red", "unknown option"),
        ("/no/such/file.mp4", "no such file"),
        ("http://example.com/a.mp4", "unsupported scheme"),
        ("rtsp:///nohost", "needs a host"),
        ("v4l2:/dev/video99", "does not exist"),
        ("frames/%04d.bmp", ".png or .jpg"),
        ("", "empty"),
    ],
)
def test_bad_sources_name_the_problem(spec: str, fragment: str) -> None:
    with pytest.raises(SourceError, match=fragment) as info:
        parse_source(spec)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_image_pattern_finds_first_index(tmp_path: Path) -> None:
    for i in (1, 2, 3):
        (tmp_path / f"{i:04d}.png").write_bytes(b"")
    spec = parse_source(str(tmp_path / "%04d.png"))
    assert spec.kind == "images" and spec.options["start"] == "1"


def test_sinks() -> None:
    assert parse_sink("out/a.mp4").container == "mp4"
    assert parse_sink("a.mkv", lossless=True).container == "mkv"
    rtsp = parse_sink("rtsp://:8554/enhanced")
    assert (rtsp.host, rtsp.port, rtsp.mount) == ("127.0.0.1", 8554, "/enhanced")
    assert parse_sink("rtsp://0.0.0.0:0/x").host == "0.0.0.0"
    assert parse_sink("null").kind == "null"
    assert parse_sink("out/%05d.png").kind == "images"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("out.avi", "unsupported output type"),
        ("out/%d.jpg", "lossless .png"),
        ("rtsp://host/x", "expected rtsp://"),
        ("v4l2:video0", "expected v4l2:/dev/videoN"),
        ("s3://bucket/x.mp4", "unsupported scheme"),
    ],
)
def test_bad_sinks_name_the_problem(spec: str, fragment: str) -> None:
    with pytest.raises(SinkError, match=fragment):
        parse_sink(spec)


def test_lossless_needs_mkv() -> None:
    with pytest.raises(SinkError, match=r"needs a \.mkv"):
        parse_sink("a.mp4", lossless=True)


def test_csi_camera_source() -> None:
    spec = parse_source("csi:1")
    assert (spec.kind, spec.location, spec.is_live, str(spec)) == ("csi", "1", True, "csi:1")
    with pytest.raises(SourceError, match="sensor id"):
        parse_source("csi:front")
