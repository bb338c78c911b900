"""The command line: clean stops on signals, one-line errors for every bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, ffprobe, run_cli


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_leaves_a_playable_mp4(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "live.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganstream.stream", "run", "--source", "test:ball?live=1&width=160&height=96&fps=30",
         "--sr", "2", "--sink", str(out), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ),
    )  # fmt: skip
    # Signal once the pipeline runs (start-up may include a first-use precision measurement);
    # the sink creates the file when the pipeline starts.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not out.exists() and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(2.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    p = ffprobe(out)
    assert p.width == 320 and p.frames >= 10


BAD_INPUTS = [
    (["--source", "nosuch://x"], "unsupported scheme"),
    (["--source", "missing.mp4"], "no such file"),
    (["--source", "README.md"], "not a media file"),
    (["--source", "rtsp://user:secret@127.0.0.1:9/none", "--no-reconnect"], "source 'rtsp://user:***@"),
    (["--model", "nosuchmodel"], "unknown model 'nosuchmodel'"),
    (["--sr", "2", "--model", "vsr2x"], "ganstream train recurrent --init engines/models/sr2x-clean"),
    (["--sink", "out.avi"], "unsupported output type"),
    (["--config", "missing.toml"], "no such file"),
    (["--source", "csi:0"], "need --profile jetson"),
    (["--source", "csi:0", "--profile", "jetson"], "profile 'jetson' needs GStreamer elements missing here"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD_INPUTS)
def test_bad_input_gives_one_clear_line(args: list[str], fragment: str) -> None:
    proc = run_cli("run", "--no-progress", "--sink", "null", *args, timeout=60)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ganstream: error:")]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert "secret" not in proc.stderr + proc.stdout


def test_config_file_supplies_options(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    out = tmp_path / "o.mp4"
    cfg.write_text(f'[run]\nsource = "test:ball?frames=10&width=64&height=48"\nsr = 2\nsink = "{out}"\n')
    run_cli("run", "--config", str(cfg), "--no-progress", check=True)
    assert ffprobe(out).width == 128
    cfg.write_text('[run]\nsauce = "x"\n')
    proc = run_cli("run", "--config", str(cfg))
    assert proc.returncode == 2 and "unknown key 'sauce'" in proc.stderr
