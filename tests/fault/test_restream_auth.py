"""The RTSP restream with basic auth: refused without the password, served with it."""

from __future__ import annotations

import threading
import time

import pytest

from ganstream.stream import Pipeline, RunOptions
from ganstream.stream.errors import SourceError
from ganstream.stream.reconnect import ReconnectOptions
from ganstream.stream.secrets import Credentials
from ganstream.stream.sources import SourceOptions


def test_restream_requires_its_credentials() -> None:
    creds = Credentials("viewer", "restream-pw")
    source = "test:ball?live=1&width=96&height=64&fps=15"
    pipe = Pipeline(source, [], "rtsp://127.0.0.1:0/out", RunOptions(restream_credentials=creds))
    runner = threading.Thread(target=pipe.run, kwargs={"timeout": 40}, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while pipe.stats.frames_out < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        url = pipe.sink_url
        assert url is not None
        no_retry = RunOptions(reconnect=ReconnectOptions(enabled=False))
        with pytest.raises(SourceError, match="Unauthorized"):
            for _ in Pipeline(url, [], sink=None, options=no_retry).frames(timeout=15):
                break
        with_creds = RunOptions(source=SourceOptions(rtsp_credentials=creds))
        frames = []
        for frame in Pipeline(url, [], sink=None, options=with_creds).frames(timeout=15):
            frames.append(frame)
            if len(frames) == 3:
                break
        assert len(frames) == 3
    finally:
        pipe.stop()
        runner.join(15)
    assert not runner.is_alive()
