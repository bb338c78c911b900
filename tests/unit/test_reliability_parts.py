"""Backoff series, stall verdicts, credentials handling, health and metrics, without sockets to cameras."""

from __future__ import annotations

import logging
import random
import urllib.request
from pathlib import Path

import pytest

from ganstream.stream.errors import ConfigError
from ganstream.stream.health import ProcessHealth, SourceHealth, SourceState
from ganstream.stream.metrics import StatusServer
from ganstream.stream.reconnect import Backoff, ReconnectOptions, nominal_delay
from ganstream.stream.secrets import RedactingFilter, credentials_from_env, load_secrets_file, split_credentials
from ganstream.stream.stats import RunStats
from ganstream.stream.watchdog import StallDetector, Verdict


def test_backoff_follows_1_2_5_series_capped_with_bounded_jitter() -> None:
    assert [nominal_delay(i, 1.0, 30.0) for i in range(7)] == [1, 2, 5, 10, 20, 30, 30]
    opts = ReconnectOptions(initial_s=1.0, max_s=30.0, jitter=0.2)
    backoff = Backoff(opts, random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    for i, d in enumerate(delays):
        nominal = nominal_delay(i, 1.0, 30.0)
        assert 0.8 * nominal <= d <= min(30.0, 1.2 * nominal)
    assert len(set(delays)) == len(delays)  # jittered: no two clients retry in lock-step
    backoff.reset()
    assert backoff.next_delay() <= 1.2


def test_backoff_gives_up_only_when_asked() -> None:
    assert not Backoff(ReconnectOptions()).exhausted
    limited = Backoff(ReconnectOptions(max_attempts=2))
    limited.next_delay()
    limited.next_delay()
    assert limited.exhausted
    with pytest.raises(ConfigError, match="initial"):
        ReconnectOptions(initial_s=5, max_s=1)


def test_stall_detector_tells_stalled_from_blocked() -> None:
    now = [0.0]
    det = StallDetector(2.0, clock=lambda: now[0])
    now[0] = 1.5
    assert det.check() == Verdict.OK
    now[0] = 2.5
    assert det.check() == Verdict.STALLED  # silent, nothing in flight
    det.on_buffer()
    with det.pushing():  # downstream holds the hand-off: silence is not the source's fault
        now[0] = 4.0
        assert det.check() == Verdict.OK
        now[0] = 10.0
        assert det.check() == Verdict.BLOCKED
    assert det.check() == Verdict.OK


def test_credentials_leave_the_uri_and_never_print() -> None:
    clean, creds = split_credentials("rtsp://admin:p%40ss@10.0.0.5:554/live?x=1")
    assert clean == "rtsp://10.0.0.5:554/live?x=1"
    assert creds is not None and (creds.user, creds.password) == ("admin", "p@ss")
    assert "p@ss" not in repr(creds)
    assert split_credentials("rtsp://cam/x") == ("rtsp://cam/x", None)


def test_secrets_file_must_be_private(tmp_path: Path) -> None:
    f = tmp_path / "cam.toml"
    f.write_text('user = "admin"\npassword = "hunter2"\n')
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secrets_file(f)
    f.chmod(0o600)
    assert load_secrets_file(f).password == "hunter2"
    f.write_text('user = "admin"\npassword = "hunter2"\ncommand = "rm -rf /"\n')
    with pytest.raises(ConfigError, match="exactly the string keys") as err:
        load_secrets_file(f)
    assert "hunter2" not in str(err.value)


def test_password_env_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_PW", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_PW"):
        credentials_from_env("admin", "NO_SUCH_PW")


def test_log_filter_redacts_uris_and_known_secrets(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ganstream.test.redact")
    logger.addFilter(RedactingFilter(("hunter2",)))
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("opening %s", "rtsp://admin:topsecret@cam/x")
        logger.info("password was %s", "hunter2")
    text = caplog.text
    assert "topsecret" not in text and "hunter2" not in text and "rtsp://admin:***@cam/x" in text


def test_metrics_and_health_served_on_loopback() -> None:
    health = ProcessHealth()
    stats = RunStats(frames_in=7, frames_out=5)
    src = health.add(SourceHealth("rtsp://u:pw@cam/x", "rtsp://u:pw@cam/x", stats))
    src.count_reconnect()
    server = StatusServer(health, port=0)
    port = server.start()
    try:
        assert server._httpd is not None and server._httpd.server_address[0] == "127.0.0.1"
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'ganstream_frames_in_total{camera="rtsp://u:***@cam/x"} 7.0' in body
        assert 'ganstream_reconnects_total{camera="rtsp://u:***@cam/x"} 1.0' in body
        assert 'ganstream_source_state{camera="rtsp://u:***@cam/x",state="connecting"} 1.0' in body
        with pytest.raises(urllib.error.HTTPError) as err:  # not running + not streaming: 503
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
        assert err.value.code == 503
        health.state = "running"
        src.set_state(SourceState.STREAMING)
        resp = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
        assert resp.status == 200 and b'"streaming"' in resp.read()
        assert "pw" not in body.replace("pw@", "")  # only the redacted form appears
    finally:
        server.stop()
