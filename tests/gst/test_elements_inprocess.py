"""The elements registered in-process (`ganstream.stream.elements.register`) inside Gst.parse_launch
strings: negotiation, timestamps, QoS drops, and profile fragments spliced into `Pipeline`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ganstream.stream.elements import ELEMENT_NAMES, register
from ganstream.stream.frame import Frame
from ganstream.stream.frameio import buffer_from_pixels, pixels_from_buffer, spec_from_caps
from ganstream.stream.gst import init
from ganstream.stream.pipeline import Pipeline, RunOptions
from ganstream.stream.profiles import PROFILES, Profile
from tests.helpers import ffprobe

W, H = 97, 55
SECOND = 1_000_000_000


@pytest.fixture(scope="module")
def gst() -> Any:
    Gst = init()
    assert register() == list(ELEMENT_NAMES)
    return Gst


def pull_all(Gst: Any, pipeline: Any, sink: Any) -> list[Any]:
    samples = []
    pipeline.set_state(Gst.State.PLAYING)
    while (sample := sink.emit("try-pull-sample", 10 * SECOND)) is not None:
        samples.append(sample)
    bus_error = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    assert bus_error is None, bus_error.parse_error()[0].message
    return samples


def test_parse_launch_finds_registered_elements(gst: Any) -> None:
    pipeline = gst.parse_launch(
        f"videotestsrc num-buffers=4 ! video/x-raw,width={W},height={H},framerate=30/1 ! videoconvert "
        "! ganstream_restore model=nlmeans ! ganstream_sr model=lanczos scale=3 ! ganstream_interpolate factor=3 "
        "! appsink name=out sync=false"
    )
    samples = pull_all(gst, pipeline, pipeline.get_by_name("out"))
    spec, _ = spec_from_caps(samples[0].get_caps())
    assert (spec.width, spec.height, spec.fps) == (3 * W, 3 * H, 90)
    pts = [s.get_buffer().pts for s in samples]
    assert len(pts) == 12
    assert pts == sorted(pts) and pts[0] == 0
    assert all(s.get_buffer().duration == pytest.approx(SECOND / 90, abs=1) for s in samples)


def _appsrc_pipeline(Gst: Any, element: str) -> tuple[Any, Any, Any]:
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-raw,format=RGB,width={W},height={H},framerate=10/1 "
        f"! {element} ! appsink name=out sync=false"
    )
    return pipeline, pipeline.get_by_name("src"), pipeline.get_by_name("out")


@pytest.mark.parametrize("element", ["ganstream_sr model=bicubic", "ganstream_interpolate factor=2"])
def test_late_frames_are_dropped_after_a_qos_report(gst: Any, element: str) -> None:
    """A sink's QoS report (at 0.5 s, half a second late) makes the element drop output due before ~1 s."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(20)]

    def run(late: bool) -> int:
        pipeline, src, sink = _appsrc_pipeline(gst, element)
        pipeline.set_state(gst.State.PLAYING)
        if late:
            event = gst.Event.new_qos(gst.QOSType.UNDERFLOW, 2.0, SECOND // 2, SECOND // 2)
            assert sink.get_static_pad("sink").push_event(event)
        for i, pixels in enumerate(frames):
            src.emit("push-buffer", buffer_from_pixels(pixels, i * SECOND // 10, SECOND // 10))
        src.emit("end-of-stream")
        count = 0
        while sink.emit("try-pull-sample", 5 * SECOND) is not None:
            count += 1
        pipeline.set_state(gst.State.NULL)
        return count

    on_time, late = run(False), run(True)
    assert on_time >= 20
    assert 0 < late <= on_time * 0.8  # the first second of 2 s was dropped, the rest still flows


def test_sr_output_equals_the_stage_in_process(gst: Any) -> None:
    from ganstream.stream.stages.classical import ResampleStage

    pipeline, src, sink = _appsrc_pipeline(gst, "ganstream_sr model=bicubic scale=2")
    pixels = np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)
    pipeline.set_state(gst.State.PLAYING)
    src.emit("push-buffer", buffer_from_pixels(pixels, 0, SECOND // 10))
    src.emit("end-of-stream")
    sample = sink.emit("try-pull-sample", 5 * SECOND)
    pipeline.set_state(gst.State.NULL)
    spec, stride = spec_from_caps(sample.get_caps())
    got = pixels_from_buffer(sample.get_buffer(), spec, stride)
    stage = ResampleStage(2, "bicubic")
    stage.configure(spec.with_size(W, H))
    np.testing.assert_array_equal(got, stage.process(Frame(pixels, 0, 0))[0].pixels)


def test_a_profile_splices_its_fragments_into_the_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-in profile built from elements every machine has: each fragment leaves a visible mark."""
    stand_in = Profile(
        "stand-in",
        "test profile",
        decoders=("avdec_h264",),
        download="videoflip video-direction=180",  # marks every decoded frame
        encoder="videocrop left=3 bottom=1 ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast",
    )
    monkeypatch.setitem(PROFILES, "stand-in", stand_in)
    source = f"test:gradient?frames=3&width={W}&height={H}"
    plain: list[Frame] = []
    flipped: list[Frame] = []
    Pipeline(source, [], plain.append).run(timeout=60)
    Pipeline(source, [], flipped.append, RunOptions(profile="stand-in")).run(timeout=60)
    np.testing.assert_array_equal(flipped[0].pixels, plain[0].pixels[::-1, ::-1])
    out = tmp_path / "out.mp4"
    Pipeline(source, [], str(out), RunOptions(profile="stand-in")).run(timeout=60)
    probe = ffprobe(out)
    assert (probe.width, probe.height, probe.frames) == (W - 3, H - 1, 3)


def test_the_restore_element_runs_the_recurrent_model_with_its_memory(gst: Any) -> None:
    """`ganstream_restore model=vrestore`: one frame in, one out, the second one enhanced with the memory
    of the first (the same noisy frame twice gives two different outputs)."""
    pipeline = gst.parse_launch(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width=96,height=64,framerate=10/1 "
        "! ganstream_restore model=vrestore backend=ort ! appsink name=out sync=false"
    )
    src, sink = pipeline.get_by_name("src"), pipeline.get_by_name("out")
    base = np.full((64, 96, 3), 128.0) + np.linspace(-60, 60, 96)[None, :, None]
    noisy = np.clip(base + np.random.default_rng(2).normal(0, 15, base.shape), 0, 255).astype(np.uint8)
    pipeline.set_state(gst.State.PLAYING)
    for i in range(2):
        src.emit("push-buffer", buffer_from_pixels(noisy, i * SECOND // 10, SECOND // 10))
    src.emit("end-of-stream")
    outs = []
    while (sample := sink.emit("try-pull-sample", 10 * SECOND)) is not None:
        spec, stride = spec_from_caps(sample.get_caps())
        outs.append(pixels_from_buffer(sample.get_buffer(), spec, stride).copy())
    pipeline.set_state(gst.State.NULL)
    assert len(outs) == 2 and outs[0].shape == (64, 96, 3)
    assert not np.array_equal(outs[0], outs[1])
    # the memory averages noise away: the second output is closer to the clean ramp
    err = [float(np.abs(o.astype(float) - base).mean()) for o in outs]
    assert err[1] < err[0], err
