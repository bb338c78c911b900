"""A finished Pipeline leaves no GStreamer pipeline behind once the caller drops it."""

from __future__ import annotations

import gc
from pathlib import Path

from ganstream.stream import Pipeline
from ganstream.stream.gst import modules
from tests.helpers import make_clip


def live_pipelines() -> int:
    Gst = modules()[0]
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Gst.Pipeline) and o.get_name() == "ganstream")


def test_file_pipeline_is_freed_after_run(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mkv", frames=5)
    before = live_pipelines()
    for _ in range(3):
        pipe = Pipeline(str(clip), [], "null")
        assert pipe.run(timeout=30).frames_out == 5
        del pipe
    # The decoder's signal handlers hold the source branch, whose pad callback holds the
    # pipeline: without the release at teardown each run would stay alive here.
    assert live_pipelines() == before


def test_a_late_pad_after_release_is_ignored() -> None:
    from ganstream.stream.sources import SourceBranch
    from ganstream.stream.uri import parse_source

    seen: list[str] = []
    branch = SourceBranch(parse_source("rtsp://127.0.0.1:1/cam"))
    branch._on_pad = lambda _pad, kind: seen.append(kind)
    branch._pad(None, "video")
    branch.release()
    branch._pad(None, "video")  # a decoder still stopping in another thread
    assert seen == ["video"] and branch.roots == []
