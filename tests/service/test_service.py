"""The multi-camera service end to end: real pipelines, an in-process RTSP camera, the HTTP API."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganstream.stream.rtsp_server import RtspServer
from ganstream.stream.service.api import ApiServer
from ganstream.stream.service.config import parse_config
from ganstream.stream.service.manager import Service
from tests.helpers import ffprobe

CAMERA = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=96,framerate=15/1 ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )"
)
# A camera that answers, then sends a frame only every 4 s: stalled for a 1.5 s stall timeout.
STALLING = (
    "( videotestsrc is-live=true pattern=snow ! video/x-raw,width=160,height=96,framerate=15/1 ! "
    "identity sleep-time=4000000 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=1 ! "
    "rtph264pay name=pay0 pt=96 )"
)


def _test_cam(name: str, pattern: str, **outputs: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": f"test:{pattern}?width=160&height=96&fps=15&live=1",
        "chain": {"sr": 2, "models": ["bicubic"]},
        "outputs": {"restream": False, **outputs},
    }


def _get(url: str, token: str = "") -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if body.startswith((b"{", b"[")) else body.decode()


def _send(url: str, method: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _frames_out(api: ApiServer) -> dict[str, int]:
    return {c["name"]: c["frames_out"] for c in _get(api.url("/cameras"))}


def _wait_for(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


@pytest.fixture
def rtsp_cameras() -> Iterator[RtspServer]:
    server = RtspServer("127.0.0.1", 0)
    server.start()
    server.mount("/cam", CAMERA)
    server.mount("/stalling", STALLING)
    yield server
    server.stop()


@pytest.fixture
def run_service(tmp_path: Path) -> Iterator[Any]:
    started: list[tuple[Service, ApiServer]] = []

    def start(
        cameras: list[dict[str, Any]], restream: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[Service, ApiServer]:
        settings = parse_config(
            {
                "api": {"port": 0},
                "restream": {"port": 0, **(restream or {})},
                "recording": {"directory": str(tmp_path / "rec"), "segment_minutes": 0.02, "keep_segments": 2},
                "cameras": cameras,
            },
            env={"RESTREAM_PASSWORD": "pa55"},
        )
        service = Service(settings, **kw)
        api = ApiServer(service, "127.0.0.1", 0)
        api.start()
        service.start()
        started.append((service, api))
        return service, api

    yield start
    for service, api in started:
        service.stop()
        api.stop()


def test_cameras_outputs_and_runtime_changes(tmp_path: Path, rtsp_cameras: RtspServer, run_service: Any) -> None:
    cams = [
        _test_cam("t1", "ball", file=str(tmp_path / "t1.mkv")),
        _test_cam("t2", "smpte", record=True),
        _test_cam("t3", "snow", restream=True),
        {"name": "rtspcam", "source": rtsp_cameras.url("/cam"), "chain": {"sr": 2, "models": ["bicubic"]},
         "outputs": {"restream": False, "file": str(tmp_path / "rtspcam.mp4")}},
    ]  # fmt: skip
    service, api = run_service(cams)
    _wait_for(lambda: all(v >= 15 for v in _frames_out(api).values()))

    listed = {c["name"]: c for c in _get(api.url("/cameras"))}
    assert set(listed) == {"t1", "t2", "t3", "rtspcam"}
    assert all(c["status"] == "streaming" for c in listed.values())
    assert listed["t1"]["output"].startswith("320x192")
    health = _get(api.url("/health"))
    assert health["cameras"] == {"streaming": 4} and health["status"] == "ok"
    metrics = _get(api.url("/metrics"))
    assert 'ganstream_frames_out_total{camera="rtspcam"}' in metrics
    assert 'ganstream_source_state{camera="t1",state="streaming"} 1.0' in metrics
    assert 'ganstream_camera_fps{camera="t2"}' in metrics

    # The restream: every camera at rtsp://HOST:PORT/<name>, from the one server.
    url = listed["t3"]["restream"]
    assert url.endswith("/t3")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert probe.stdout.strip() == "h264,320,192", probe.stderr

    # Add and remove cameras at run time while the others keep their frame rate.
    before = _frames_out(api)
    t0 = time.monotonic()
    added = _send(api.url("/cameras"), "POST", _test_cam("t4", "checkers-8"))
    assert added["name"] == "t4"
    _send(api.url("/cameras/t2"), "DELETE")
    _wait_for(lambda: _frames_out(api).get("t4", 0) >= 10)
    after = _frames_out(api)
    elapsed = time.monotonic() - t0
    assert "t2" not in after
    for name in ("t1", "t3", "rtspcam"):
        rate = (after[name] - before[name]) / elapsed
        assert rate >= 0.6 * 15, f"{name} slowed to {rate:.1f} fps while cameras were added and removed"
    with pytest.raises(urllib.error.HTTPError) as info:
        _send(api.url("/cameras"), "POST", {"name": "t1", "source": "test:ball"})
    assert info.value.code == 409
    with pytest.raises(urllib.error.HTTPError) as info:
        _send(api.url("/cameras"), "POST", {"name": "x", "source": "test:ball", "chain": {"sr": 7}})
    assert info.value.code == 422 and "chain.sr" in info.value.read().decode()

    # Restart one camera's source: it comes back on its own, the others never notice.
    assert _send(api.url("/cameras/t3/restart"), "POST") == {"restarting": "t3"}
    _wait_for(lambda: service.cameras["t3"].snapshot()["reconnects"] >= 1)
    n3 = _frames_out(api)["t3"]
    _wait_for(lambda: _frames_out(api)["t3"] >= n3 + 5)

    final = {c["name"]: c["frames_out"] for c in service.snapshot()}
    service.stop()
    t1 = ffprobe(tmp_path / "t1.mkv")
    assert (t1.width, t1.height, t1.fps) == (320, 192, 15)
    assert t1.frames >= final["t1"] - 2  # every frame handed to the output reached the file
    rc = ffprobe(tmp_path / "rtspcam.mp4")
    assert (rc.width, rc.height) == (320, 192) and rc.frames >= 15
    segments = sorted((tmp_path / "rec").glob("t2_*.mp4"))
    assert 1 <= len(segments) <= 2  # retention: keep_segments = 2
    for seg in segments:
        assert ffprobe(seg).frames > 0


def test_bad_and_stalling_cameras_do_not_stop_the_others(rtsp_cameras: RtspServer, run_service: Any) -> None:
    cams = [
        _test_cam("good", "ball"),
        {"name": "bad", "source": "rtsp://127.0.0.1:9/nothing", "outputs": {"restream": False}},
        {"name": "stalling", "source": rtsp_cameras.url("/stalling"), "chain": {"sr": 0},
         "outputs": {"restream": False}},
    ]  # fmt: skip
    service, api = run_service(cams, stall_timeout_s=1.5)
    cams_now = service.cameras
    _wait_for(lambda: cams_now["stalling"].health.stalls >= 1 and cams_now["bad"].health.reconnects >= 1, 30)
    listed = {c["name"]: c for c in _get(api.url("/cameras"))}
    assert listed["good"]["status"] == "streaming"
    assert listed["bad"]["status"] in ("backoff", "connecting") and listed["bad"]["last_error"]
    assert listed["stalling"]["stalls"] >= 1 and "stalled" in listed["stalling"]["last_error"]
    assert 'ganstream_stalls_total{camera="stalling"}' in _get(api.url("/metrics"))
    good = service.cameras["good"]
    n0, t0 = good.snapshot()["frames_out"], time.monotonic()
    time.sleep(2.0)
    rate = (good.snapshot()["frames_out"] - n0) / (time.monotonic() - t0)
    assert rate >= 0.6 * 15, f"the good camera slowed to {rate:.1f} fps"


def _probe_rtsp(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
         "-show_entries", "stream=width,height", "-of", "csv=p=0", url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_restream_basic_auth(run_service: Any) -> None:
    service, _ = run_service(
        [_test_cam("secure", "ball", restream=True)], restream={"user": "viewer", "password": "${RESTREAM_PASSWORD}"}
    )
    _wait_for(lambda: service.cameras["secure"].snapshot()["frames_out"] >= 10)
    url = service.cameras["secure"].snapshot()["restream"]
    assert url.endswith("/secure")
    refused = _probe_rtsp(url)
    assert refused.returncode != 0 and "401" in refused.stderr
    allowed = _probe_rtsp(url.replace("rtsp://", "rtsp://viewer:pa55@"))
    assert allowed.stdout.strip() == "320,192", allowed.stderr


def test_api_bound_wider_needs_the_token() -> None:
    settings = parse_config({"api": {"host": "0.0.0.0", "port": 0, "token": "${T}"}}, env={"T": "s3cret"})
    service = Service(settings)
    api = ApiServer(service, settings.api.host, 0, settings.api.token)
    api.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(api.url("/cameras"))
        assert info.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(api.url("/metrics"), token="wrong")
        assert info.value.code == 401
        assert _get(api.url("/cameras"), token="s3cret") == []
        assert "ganstream_engine_batches_total counter" in _get(api.url("/metrics"), token="s3cret")
        assert _get(api.url("/livez"))["status"] == "alive"  # probes stay open
    finally:
        api.stop()


def test_serve_cli_finalises_recordings_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import sys

    from tests.helpers import ROOT

    cfg = tmp_path / "cams.toml"
    cfg.write_text(
        f'[api]\nport = 0\n[restream]\nport = 0\n[recording]\ndirectory = "{tmp_path / "rec"}"\n'
        "segment_minutes = 60.0\n"
        '[[cameras]]\nname = "cli"\nsource = "test:ball?width=160&height=96&fps=15&live=1"\n'
        'chain = { sr = 2, models = ["bicubic"] }\noutputs = { restream = false, record = true }\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganstream.stream", "serve", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("control API: http://127.0.0.1:"), lines
        api = lines[0].split(": ", 1)[1].strip()
        _wait_for(lambda: _get(api)[0]["frames_out"] >= 20)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    (segment,) = sorted((tmp_path / "rec").glob("cli_*.mp4"))  # the one open at shutdown
    probe = ffprobe(segment)
    assert (probe.width, probe.height) == (320, 192) and probe.frames >= 20


def test_cameras_share_one_engine_of_the_shipped_model(run_service: Any) -> None:
    from ganstream.engines import list_models

    if "sr2x" not in {m.name for m in list_models()}:
        pytest.skip("the shipped sr2x model is not installed")
    cams = [
        {
            "name": f"m{i}",
            "source": f"test:{p}?width=160&height=96&fps=10&live=1",
            "chain": {"sr": 2, "models": ["sr2x"]},  # one model named (the default chooses per camera)
            "outputs": {"restream": False},
        }
        for i, p in enumerate(("ball", "smpte"))
    ]
    service, api = run_service(cams)
    _wait_for(lambda: all(c["frames_out"] >= 10 for c in service.snapshot()), 60)
    (engine,) = service.pool.engines()  # loaded once, shared by both cameras
    assert engine.name.startswith("sr2x/")
    assert engine.figures.frames >= 20
    listed = {c["name"]: c for c in _get(api.url("/cameras"))}
    assert all(c["output"].startswith("320x192") for c in listed.values())
    assert f'ganstream_engine_batches_total{{engine="{engine.name}"}}' in _get(api.url("/metrics"))


def test_cameras_share_the_recurrent_model_each_with_its_own_memory(run_service: Any) -> None:
    cams = [
        {
            "name": f"v{i}",
            "source": f"test:{p}?width=160&height=96&fps=10&live=1",
            "outputs": {"restream": False},
            "chain": {"restore": True, "sr": 0, "models": ["vrestore"]},
        }
        for i, p in enumerate(("ball", "smpte"))
    ]
    service, api = run_service(cams)
    _wait_for(lambda: all(c["frames_out"] >= 10 for c in service.snapshot()), 60)
    (engine,) = service.pool.engines()  # one engine; each camera's stage keeps its own memory
    assert engine.name.startswith("vrestore/") and engine.figures.frames >= 20
    assert all(c["output"].startswith("160x96") for c in _get(api.url("/cameras")))
