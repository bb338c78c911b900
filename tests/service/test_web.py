"""The web view over real HTTP: snapshots, MJPEG previews, errors, the token, previews off the path."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganstream.stream.service.api import ApiServer
from ganstream.stream.service.manager import Service
from tests.helpers import ffprobe, run_cli
from tests.service.web_helpers import TWO_CAMERAS, decode, open_url, read_parts, sharpness, start_service


def _wait_for(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Service, ApiServer]]:
    service, api = start_service(TWO_CAMERAS)
    _wait_for(lambda: all(c.totals()[1] >= 5 for c in service.cameras.values()))
    yield service, api
    service.stop()
    api.stop()


def test_snapshots_of_both_views_have_the_output_size(served: tuple[Service, ApiServer]) -> None:
    _service, api = served
    enhanced = decode(open_url(api.url("/cameras/snow/snapshot.jpg")).read())
    source = decode(open_url(api.url("/cameras/snow/snapshot.jpg?view=source")).read())
    # The source (160x96) is shown at the enhanced picture's size (320x192) for before/after.
    assert enhanced.shape == source.shape == (192, 320, 3)
    # nearest x2 keeps hard pixel edges; the bicubic-scaled source is smooth: the views differ.
    assert sharpness(enhanced) > 1.5 * sharpness(source), (sharpness(enhanced), sharpness(source))


def test_mjpeg_preview_streams_moving_pictures(served: tuple[Service, ApiServer]) -> None:
    service, api = served
    with open_url(api.url("/cameras/ball/preview.mjpg")) as resp:
        assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace; boundary=")
        t0 = time.monotonic()
        parts = read_parts(resp, 8)
        elapsed = time.monotonic() - t0
        assert service.cameras["ball"].preview.taps["enhanced"].viewers == 1
    pictures = [decode(p) for p in parts]
    assert all(p.shape == (192, 320, 3) for p in pictures)
    assert any(abs(a.astype(int) - b.astype(int)).mean() > 1 for a, b in itertools.pairwise(pictures))
    assert 7 / elapsed <= 12, f"preview rate {7 / elapsed:.1f} fps is above its 10 fps cap"
    # The viewer left: the tap notices and stops encoding.
    tap = service.cameras["ball"].preview.taps["enhanced"]
    _wait_for(lambda: tap.viewers == 0, 10)


def test_no_viewer_no_encoding(served: tuple[Service, ApiServer]) -> None:
    service, _api = served
    tap = service.cameras["snow"].preview.taps["enhanced"]
    _wait_for(lambda: tap.viewers == 0, 10)
    time.sleep(1.0)  # let a picture already being encoded finish
    before, frames = tap.encoded, service.cameras["snow"].totals()[1]
    time.sleep(1.5)
    assert service.cameras["snow"].totals()[1] > frames + 10  # the camera ran ...
    assert tap.encoded == before  # ... and nothing was encoded for nobody


def test_a_viewer_that_never_reads_does_not_slow_the_camera(served: tuple[Service, ApiServer]) -> None:
    service, api = served
    url = urllib.parse.urlparse(api.url())
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a picture or two
    sock.connect((url.hostname, url.port))
    sock.sendall(b"GET /cameras/ball/preview.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        cam = service.cameras["ball"]
        _wait_for(lambda: cam.preview.taps["enhanced"].viewers == 1, 10)
        n0, t0 = cam.totals()[1], time.monotonic()
        time.sleep(3.0)
        rate = (cam.totals()[1] - n0) / (time.monotonic() - t0)
        assert rate >= 0.8 * 15, f"the watched camera slowed to {rate:.1f} fps behind a stuck viewer"
    finally:
        sock.close()


def test_wrong_camera_or_view_is_a_one_line_error(served: tuple[Service, ApiServer]) -> None:
    _service, api = served
    for path, code, reason in [
        ("/cameras/nope/snapshot.jpg", 404, "no camera named 'nope'"),
        ("/cameras/nope/preview.mjpg", 404, "no camera named 'nope'"),
        ("/cameras/ball/snapshot.jpg?view=raw", 422, "view must be one of enhanced, source, got 'raw'"),
        ("/cameras/ball/preview.mjpg?view=raw", 422, "view must be one of enhanced, source, got 'raw'"),
    ]:
        with pytest.raises(urllib.error.HTTPError) as info:
            open_url(api.url(path))
        assert info.value.code == code
        assert json.loads(info.value.read()) == {"detail": reason}


def test_page_and_state(served: tuple[Service, ApiServer]) -> None:
    _service, api = served
    page = open_url(api.url("/")).read().decode()
    assert '<script src="/static/app.js"' in page
    assert b"setMode" in open_url(api.url("/static/app.js")).read()
    _wait_for(lambda: all(len(c["history"]["fps_out"]) >= 1 for c in _state(api)["cameras"]), 10)
    state = _state(api)
    assert state["controls"] is True
    cams = {c["name"]: c for c in state["cameras"]}
    assert set(cams) == {"ball", "snow"}
    assert cams["ball"]["stages"] == {"sr": "bicubic x2"} and cams["snow"]["stages"] == {"sr": "nearest x2"}
    assert 10 <= cams["ball"]["fps_in"] <= 20 and 10 <= cams["ball"]["history"]["fps_out"][-1] <= 20


def _state(api: ApiServer) -> dict[str, Any]:
    return dict(json.loads(open_url(api.url("/web/state")).read()))


def test_token_header_or_cookie_from_the_page() -> None:
    service, api = start_service(TWO_CAMERAS[:1], token="s3cret")
    try:
        for path in ("/cameras/ball/snapshot.jpg", "/cameras/ball/preview.mjpg", "/web/state", "/static/app.js"):
            with pytest.raises(urllib.error.HTTPError) as info:
                open_url(api.url(path), token="wrong")
            assert info.value.code == 401, path
        with pytest.raises(urllib.error.HTTPError) as info:
            open_url(api.url("/?token=wrong"))
        assert info.value.code == 401 and "wrong token" in info.value.read().decode()
        assert decode(open_url(api.url("/cameras/ball/snapshot.jpg"), token="s3cret").read()).shape[0] == 192
        # /?token= sets the cookie the page's pictures and requests carry, then clears the address.
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
        conn.request("GET", "/?token=s3cret")
        resp = conn.getresponse()
        assert resp.status == 303 and resp.headers["Location"] == "/"
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        resp.read()
        conn.request("GET", "/web/state", headers={"Cookie": cookie.split(";")[0]})
        assert conn.getresponse().status == 200
    finally:
        service.stop()
        api.stop()


def test_run_compare_writes_a_before_after_file(tmp_path: Path) -> None:
    side, split = tmp_path / "side.mkv", tmp_path / "split.mkv"
    src = "test:ball?width=160&height=96&fps=15&frames=15"
    run_cli("run", "-i", src, "-o", str(side), "--sr", "2", "--model", "bicubic", "--compare", "side", check=True)
    run_cli("run", "-i", src, "-o", str(split), "--sr", "2", "--model", "bicubic", "--compare", "split", check=True)
    a, b = ffprobe(side), ffprobe(split)
    assert (a.width, a.height, a.frames) == (640, 192, 15)  # source (scaled) | output
    assert (b.width, b.height, b.frames) == (320, 192, 15)


def test_run_preview_serves_one_tile() -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "ganstream.stream", "run", "-i", "test:ball?width=160&height=96&fps=15&live=1",
           "-o", "null", "--sr", "2", "--model", "bicubic", "--duration", "8", "--no-progress",
           "--preview", "127.0.0.1:0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stderr is not None
        url = ""
        deadline = time.monotonic() + 30
        while not url and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "web view at " in line:
                url = line.split("web view at ", 1)[1].strip().rstrip("/")
        assert url, "no web view address printed"
        assert "/static/app.js" in open_url(url + "/").read().decode()
        assert decode(open_url(url + "/cameras/camera/snapshot.jpg?view=source").read()).shape == (192, 320, 3)
        state = json.loads(open_url(url + "/web/state").read())
        assert state["controls"] is False and [c["name"] for c in state["cameras"]] == ["camera"]
        assert proc.wait(30) == 0
    finally:
        proc.kill()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1:http", "--preview: expected [HOST:]PORT with a port 0..65535, got '127.0.0.1:http'"),
        ("0.0.0.0:8090", "--preview: binding to '0.0.0.0' needs a token in the environment variable"),
    ],
)
def test_run_preview_refuses_a_bad_address(address: str, reason: str) -> None:
    proc = run_cli("run", "-i", "test:ball?frames=2", "-o", "null", "--preview", address, timeout=60)
    assert proc.returncode == 2 and f"ganstream: error: {reason}" in proc.stderr
