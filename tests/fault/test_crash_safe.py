"""A hard kill (SIGKILL: no handler, no end-of-stream) leaves recordings and files playable.

Each test runs the real CLI on live test patterns, kills it once it has recorded a few seconds,
and checks every file with ffprobe: decodable, and its duration within 2 s of the time that
was recorded (the kill loses at most the last fragment and what the encoder still held).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, ffprobe

RECORD_S = 6.0
SLACK_S = 2.0


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ganstream.stream", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def _record_then_kill(proc: subprocess.Popen[str], frames_out: Callable[[], int]) -> float:
    """Wait for the first processed frame, let it record RECORD_S, SIGKILL; returns the seconds recorded."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if frames_out() > 0:
                break
        except (OSError, ValueError, LookupError):
            pass  # not listening yet
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError(f"no frame was processed: {proc.communicate()[1]}")
    first = time.monotonic()
    time.sleep(RECORD_S)
    proc.send_signal(signal.SIGKILL)
    recorded = time.monotonic() - first
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return recorded


def test_sigkilled_run_leaves_a_playable_mp4(tmp_path: Path) -> None:
    out = tmp_path / "live.mp4"
    proc = _start(
        ["run", "--source", "test:ball?live=1&width=160&height=96&fps=30", "--passthrough", "--sink", str(out),
         "--metrics-port", "0", "--no-progress"]
    )  # fmt: skip
    assert proc.stderr is not None
    line = ""
    while "metrics at" not in line and proc.poll() is None:
        line = proc.stderr.readline()
    base = line.split("metrics at ", 1)[1].split("/metrics", 1)[0]
    recorded = _record_then_kill(proc, lambda: int(_get(base + "/health")["sources"][0]["frames_out"]))
    probe = ffprobe(out)  # a plain mp4 fails here: its index (moov) is written only at the end
    assert (probe.width, probe.height) == (160, 96)
    assert recorded - SLACK_S <= probe.duration <= recorded + 0.5, (probe, recorded)
    assert probe.frames >= (recorded - SLACK_S) * 30 * 0.8  # decodable throughout, not just the header


def test_sigkilled_serve_leaves_every_segment_playable(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    cameras = "".join(
        f'[[cameras]]\nname = "{name}"\nsource = "test:{pattern}?width=160&height=96&fps=15&live=1"\n'
        'chain = { sr = 2, models = ["bicubic"] }\noutputs = { restream = false, record = true }\n'
        for name, pattern in (("gate", "ball"), ("yard", "smpte"))
    )
    cfg = tmp_path / "cams.toml"
    cfg.write_text(
        f'[api]\nport = 0\n[restream]\nport = 0\n[recording]\ndirectory = "{rec}"\nsegment_minutes = 0.05\n' + cameras
    )  # 3 s segments: a kill after 6 s leaves closed segments and one being written per camera
    proc = _start(["serve", "--config", str(cfg)])
    assert proc.stdout is not None
    cameras_url = proc.stdout.readline().split(": ", 1)[-1].strip()
    assert cameras_url.startswith("http://127.0.0.1:"), cameras_url
    recorded = _record_then_kill(proc, lambda: min(c["frames_out"] for c in _get(cameras_url)))
    for camera in ("gate", "yard"):
        files = sorted(rec.glob(f"{camera}_*.mp4"))
        assert len(files) >= 2, files
        probes = [ffprobe(f) for f in files]  # the segment open at the kill included
        assert all((p.width, p.height) == (320, 192) and p.frames > 0 for p in probes), probes
        total = sum(p.duration for p in probes)
        assert recorded - SLACK_S <= total <= recorded + 0.5, (camera, [p.duration for p in probes], recorded)
