"""`ganstream run` against an authenticated camera: health, metrics, redaction, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fault.camera import Camera
from tests.helpers import ROOT, ffprobe

PASSWORD = "s3cr3t-pw-xyz"


def _read_lines(stream: object, into: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)


@pytest.mark.parametrize("how", ["in-uri", "from-env"])
def test_authenticated_camera_health_metrics_and_sigterm(tmp_path: Path, how: str) -> None:
    cam = Camera(credentials=("viewer", PASSWORD))
    cam.start()
    out, status = tmp_path / "out.mp4", tmp_path / "status.json"
    env = dict(os.environ, CAM_PW=PASSWORD)
    if how == "in-uri":
        source = [f"rtsp://viewer:{PASSWORD}@127.0.0.1:{cam.port}/cam"]
    else:
        source = [cam.url, "--rtsp-user", "viewer", "--rtsp-password-env", "CAM_PW"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganstream.stream", "-vv", "run", "--source", *source, "--passthrough",
         "--sink", str(out), "--metrics-port", "0", "--status-file", str(status), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    err: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(proc.stderr, err), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        base = None
        while base is None and time.monotonic() < deadline:
            m = next(
                (re.search(r"metrics at (http://[^/]+)/metrics", line) for line in err if "metrics at" in line), None
            )
            base = m.group(1) if m else None
            time.sleep(0.1)
        assert base is not None and base.startswith("http://127.0.0.1:"), "".join(err)
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as resp:
                    health = json.load(resp)
                    break
            except urllib.error.HTTPError as exc:  # 503 until the camera streams
                health = json.load(exc)
            time.sleep(0.2)
        assert health.get("status") == "ok", health
        with urllib.request.urlopen(base + "/metrics", timeout=2) as resp:
            metrics = resp.read().decode()
        frames = re.search(r'^ganstream_frames_in_total\{camera="([^"]*)"\} (\S+)$', metrics, re.M)
        assert frames is not None and float(frames.group(2)) > 0, metrics
        assert 'ganstream_source_state{camera="' in metrics
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        cam.stop()
    reader.join(5)
    logs = "".join(err)
    assert proc.returncode == 130, logs
    assert ffprobe(out).frames >= 10
    captured = logs + stdout + metrics + json.dumps(health) + status.read_text()
    assert PASSWORD not in captured
    assert "rtsp://" in logs  # the URI itself is logged, redacted
    if how == "in-uri":
        assert f"rtsp://viewer:***@127.0.0.1:{cam.port}/cam" in captured
